package master

import (
	"maps"
	"math"
	"time"

	"corral/mesos"
)

// Stats are the master's figures for /metrics and /metrics/snapshot. The
// gauges are computed when asked, from the maps /master/state renders and
// under the same lock, so the two cannot disagree; the counters count
// events since this master was elected (a new leader starts from zero, as
// a Mesos master does).
type Stats struct {
	AgentsActive      int // connected
	AgentsInactive    int // registered, stream down
	AgentsUnreachable int
	// FrameworksActive are subscribed; inactive ones are disconnected,
	// or recovered and not re-subscribed yet.
	FrameworksActive   int
	FrameworksInactive int
	// Tasks counts live tasks by state, Ended the tasks that reached each
	// terminal state (also launches the master refused: TASK_DROPPED,
	// TASK_ERROR).
	Tasks map[mesos.TaskState]int
	Ended map[mesos.TaskState]uint64
	// Total, Used and Offered are the scalar resources of the agents that
	// /master/state lists (every agent but the unreachable ones): their
	// resources, what their tasks use and what is offered.
	Total, Used, Offered mesos.Resources
	OutstandingOffers    int
	OffersDeclined       uint64 // by frameworks' DECLINE calls
	OffersRescinded      uint64
	AllocationRuns       uint64
	LastAllocation       time.Duration
}

// counters are the events Stats reports. Guarded by Master.mu.
type counters struct {
	ended               map[mesos.TaskState]uint64
	declined, rescinded uint64
	allocations         uint64
	lastAllocation      time.Duration
}

// Stats returns the master's figures now.
func (m *Master) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{
		Tasks:           map[mesos.TaskState]int{},
		Ended:           maps.Clone(m.counts.ended),
		OffersDeclined:  m.counts.declined,
		OffersRescinded: m.counts.rescinded,
		AllocationRuns:  m.counts.allocations,
		LastAllocation:  m.counts.lastAllocation,
	}
	total, used, offered := scalars{}, scalars{}, scalars{}
	for _, a := range m.agents {
		if !a.rec.Unreachable.IsZero() {
			s.AgentsUnreachable++
			continue
		}
		if a.active() {
			s.AgentsActive++
		} else {
			s.AgentsInactive++
		}
		total.add(a.rec.Info.Resources)
		for _, t := range a.tasks {
			used.add(t.info.Resources)
		}
	}
	for fid, f := range m.frameworks {
		if f.events != nil {
			s.FrameworksActive++
		} else {
			s.FrameworksInactive++
		}
		for _, t := range f.tasks {
			s.Tasks[t.state]++
		}
		for _, o := range m.alloc.Offers(fid) {
			s.OutstandingOffers++
			offered.add(o.Resources)
		}
	}
	s.Total, s.Used, s.Offered = total.resources(), used.resources(), offered.resources()
	return s
}

// scalars sums the scalar resources only: Resources.Add would also clone
// and merge every task's port ranges, which made Stats five times slower
// (BenchmarkStats).
type scalars map[string]float64

func (s scalars) add(r mesos.Resources) {
	for n, v := range r.Scalars {
		s[n] += v
	}
}

// resources rounds the sums to thousandths, as Resources.Add does.
func (s scalars) resources() mesos.Resources {
	for n, v := range s {
		s[n] = math.Round(v*1000) / 1000
	}
	return mesos.Resources{Scalars: s}
}

// ended counts a task that reached a terminal state. Caller holds m.mu.
func (m *Master) ended(state mesos.TaskState) {
	if m.counts.ended == nil {
		m.counts.ended = map[mesos.TaskState]uint64{}
	}
	m.counts.ended[state]++
}
