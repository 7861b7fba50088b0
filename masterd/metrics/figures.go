package metrics

import (
	"time"

	"corral/masterd/marathon/model"
	"corral/masterd/master"
	"corral/mesos"
)

// figures is one reading of the state, which both formats render.
type figures struct {
	uptime        time.Duration
	leaderChanges uint64
	// master and view are nil while this master does not lead.
	master *master.Stats
	view   *model.View
}

// read takes the figures now.
func (m *Metrics) read() figures {
	f := figures{uptime: time.Since(m.start)}
	if m.src.LeaderChanges != nil {
		f.leaderChanges = m.src.LeaderChanges()
	}
	if m.src.Leading != nil && !m.src.Leading() {
		return f
	}
	if m.src.Master != nil {
		if ms := m.src.Master(); ms != nil {
			st := ms.Stats()
			f.master = &st
		}
	}
	if f.master != nil && m.src.Marathon != nil {
		f.view = m.src.Marathon()
	}
	return f
}

// queue sums Marathon's launch queue: apps waiting and instances they lack.
func queue(v *model.View) (apps, instances int) {
	for _, q := range v.Queue {
		apps++
		instances += q.Count
	}
	return apps, instances
}

// snapshot renders the figures as Mesos's /metrics/snapshot: a flat object
// of metric names and values. A standby has master/elected 0 and its
// uptime only.
func (f figures) snapshot() map[string]float64 {
	out := map[string]float64{
		"master/elected":     0,
		"master/uptime_secs": f.uptime.Seconds(),
	}
	s := f.master
	if s == nil {
		return out
	}
	out["master/elected"] = 1
	set := func(k string, v float64) { out[k] = v }
	set("master/slaves_active", float64(s.AgentsActive))
	set("master/slaves_inactive", float64(s.AgentsInactive))
	set("master/slaves_connected", float64(s.AgentsActive))
	set("master/slaves_disconnected", float64(s.AgentsInactive))
	set("master/slaves_unreachable", float64(s.AgentsUnreachable))
	set("master/frameworks_active", float64(s.FrameworksActive))
	set("master/frameworks_inactive", float64(s.FrameworksInactive))
	set("master/frameworks_connected", float64(s.FrameworksActive))
	set("master/frameworks_disconnected", float64(s.FrameworksInactive))
	set("master/outstanding_offers", float64(s.OutstandingOffers))
	set("master/messages_decline_offers", float64(s.OffersDeclined))
	for _, st := range mesos.MetricLiveStates {
		set("master/tasks_"+st.MetricName(), float64(s.Tasks[st]))
	}
	for _, st := range mesos.MetricEndStates {
		set("master/tasks_"+st.MetricName(), float64(s.Ended[st]))
	}
	for _, r := range mesos.MetricResources(s.Total) {
		total, used := s.Total.Scalar(r), s.Used.Scalar(r)
		set("master/"+r+"_total", total)
		set("master/"+r+"_used", used)
		set("master/"+r+"_percent", mesos.MetricPercent(used, total))
		set("allocator/mesos/resources/"+r+"/total", total)
		set("allocator/mesos/resources/"+r+"/offered_or_allocated", used+s.Offered.Scalar(r))
	}
	set("allocator/mesos/allocation_runs", float64(s.AllocationRuns))
	set("allocator/mesos/allocation_run_ms", float64(s.LastAllocation)/float64(time.Millisecond))
	return out
}
