package master

import (
	"maps"
	"time"

	"corral/mesos"
)

// Stats are the master's figures for /metrics and /metrics/snapshot. The
// gauges are computed when asked, from the maps /master/state renders and
// under the same lock, so the two cannot disagree; the counters count
// events since this master was elected (a new leader starts from zero, as
// a Mesos master does).
type Stats struct {
	Elected           time.Time
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
		Elected:         m.start,
		Tasks:           map[mesos.TaskState]int{},
		Ended:           maps.Clone(m.counts.ended),
		OffersDeclined:  m.counts.declined,
		OffersRescinded: m.counts.rescinded,
		AllocationRuns:  m.counts.allocations,
		LastAllocation:  m.counts.lastAllocation,
	}
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
		s.Total = s.Total.Add(a.rec.Info.Resources)
		for _, t := range a.tasks {
			s.Used = s.Used.Add(t.info.Resources)
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
			s.Offered = s.Offered.Add(o.Resources)
		}
	}
	return s
}

// ended counts a task that reached a terminal state. Caller holds m.mu.
func (m *Master) ended(state mesos.TaskState) {
	if m.counts.ended == nil {
		m.counts.ended = map[mesos.TaskState]uint64{}
	}
	m.counts.ended[state]++
}
