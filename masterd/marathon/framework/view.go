package framework

import (
	"sort"

	"corral/marathon"
	"corral/masterd/marathon/model"
	"corral/mesos"
)

// View implements api.Backend: the last published snapshot, shared by
// readers until the next. A reader never waits for a writer (and so never
// for etcd): a change made through the API is published before it
// returns; when the state moved on otherwise (status updates) and mu is
// free, the reader publishes a fresh view, else it gets the last one.
func (f *Framework) View() *model.View {
	if f.mu.TryLock() {
		f.publishView()
		f.mu.Unlock()
	}
	return f.view.Load()
}

// buildView renders the state. Callers hold mu.
func (f *Framework) buildView() *model.View {
	now := f.now()
	v := &model.View{Root: f.root, Apps: make(map[string]*model.AppStatus, len(f.root.Apps))}
	for id := range f.root.Apps {
		st := &model.AppStatus{Tasks: []marathon.Task{}, Deployments: []marathon.DeploymentRef{}}
		if rt := f.apps[id]; rt != nil {
			st.LastTaskFailure = rt.lastFailure
		}
		v.Apps[id] = st
	}
	ins := make([]*instance, 0, len(f.instances))
	for _, in := range f.instances {
		ins = append(ins, in)
	}
	sort.Slice(ins, func(i, j int) bool {
		if !ins[i].StagedAt.Equal(ins[j].StagedAt) {
			return ins[i].StagedAt.Before(ins[j].StagedAt)
		}
		return ins[i].TaskID < ins[j].TaskID
	})
	for _, in := range ins {
		st := v.Apps[in.AppID]
		if st == nil {
			continue
		}
		app := f.root.Apps[in.AppID]
		st.Tasks = append(st.Tasks, in.task(&app))
		st.Readiness = append(st.Readiness, in.readiness...)
		switch in.State {
		case mesos.TaskStaging, mesos.TaskStarting:
			st.Counts.Staged++
		case mesos.TaskRunning:
			st.Counts.Running++
			if len(app.HealthChecks) > 0 && in.Healthy != nil {
				if *in.Healthy {
					st.Counts.Healthy++
				} else {
					st.Counts.Unhealthy++
				}
			}
		}
	}
	for _, d := range f.deployments {
		info := d.info()
		for i := range info.CurrentActions {
			if st := v.Apps[info.CurrentActions[i].App]; st != nil {
				info.CurrentActions[i].ReadinessCheckResults = st.Readiness
			}
		}
		v.Deployments = append(v.Deployments, info)
		for _, id := range d.Affected {
			if st := v.Apps[id]; st != nil {
				st.Deployments = append(st.Deployments, marathon.DeploymentRef{ID: d.ID})
			}
		}
	}
	ids := make([]string, 0, len(f.root.Apps))
	for id := range f.root.Apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		app := f.root.Apps[id]
		rt := f.apps[id]
		delayed := rt != nil && rt.delayUntil.After(now)
		n := f.need(&app, now)
		if delayed {
			n = f.missing(&app)
		}
		if n <= 0 {
			continue
		}
		item := marathon.QueueItem{App: &app, Count: n}
		if delayed {
			item.Delay.TimeLeftSeconds = int64(rt.delayUntil.Sub(now).Seconds() + 0.5)
		} else {
			item.Delay.Overdue = true
		}
		if rt != nil {
			if !rt.since.IsZero() {
				item.Since = marathon.FormatTimestamp(rt.since)
			}
			item.ProcessedOffersSummary.ProcessedOffersCount = rt.offers
			item.ProcessedOffersSummary.UnusedOffersCount = rt.unused
		}
		if item.Since == "" {
			item.Since = marathon.FormatTimestamp(now)
		}
		v.Queue = append(v.Queue, item)
	}
	return v
}

// missing is how many instances the app lacks, ignoring its delay.
// Callers hold mu.
func (f *Framework) missing(app *marathon.App) int {
	active := 0
	for _, in := range f.appInstances(app.ID) {
		if in.active() {
			active++
		}
	}
	return max(0, app.Instances-active)
}
