package framework

import (
	"context"
	"slices"
	"sort"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/plan"
	"corral/mesos"
)

// killResend is how long a kill may go unanswered before it is sent again
// (the master may have failed over and lost it).
const killResend = 10 * time.Second

// step moves every app towards its goal: deployments advance when their
// step is done, surplus and outdated instances are killed, tasks staged too
// long are replaced, and offers are revived or suppressed.
func (f *Framework) step(ctx context.Context) {
	f.mu.Lock()
	if !f.subscribed {
		f.mu.Unlock()
		return
	}
	now := f.now()
	f.advance(ctx, now)
	ids := map[string]bool{}
	for id := range f.root.Apps {
		ids[id] = true
	}
	for id := range f.byApp {
		ids[id] = true
	}
	for id := range ids {
		for _, in := range f.killsWanted(id) {
			f.kill(ctx, in, now)
		}
	}
	for _, in := range f.instances {
		switch {
		case in.Killing && in.alive() && now.Sub(in.KillSent) > killResend:
			f.kill(ctx, in, now)
		case in.State == mesos.TaskStaging && !in.Killing && now.Sub(in.StagedAt) > f.cfg.TaskLaunchTimeout:
			f.log.Warn("task staged too long, replacing it", "task", in.TaskID)
			f.kill(ctx, in, now)
		}
	}
	f.reconcileUnseen(now)
	want := false
	for _, n := range f.launchNeeds(now) {
		if n > 0 {
			want = true
			break
		}
	}
	switch {
	case want && (f.suppressed || f.filtered):
		f.suppressed, f.filtered = false, false
		f.queueCall(mesos.Call{Type: mesos.CallRevive})
	case !want && !f.suppressed:
		f.suppressed = true
		f.queueCall(mesos.Call{Type: mesos.CallSuppress})
	}
	f.mu.Unlock()
	f.flush(ctx)
}

// reconcileUnseen asks again, with truncated exponential backoff, for the
// instances the master has not reported on since the subscription: it
// answers for an agent's tasks only once the agent has re-registered
// (reconciliation.md). Callers hold mu.
func (f *Framework) reconcileUnseen(now time.Time) {
	if f.reconcileBackoff == 0 || now.Before(f.reconcileAt) {
		return
	}
	var tasks []mesos.ReconcileTask
	for _, in := range f.instances {
		if !in.seen && in.alive() {
			tasks = append(tasks, mesos.ReconcileTask{TaskID: in.TaskID, AgentID: in.AgentID})
		}
	}
	if len(tasks) == 0 {
		f.reconcileBackoff = 0 // everything answered: until the next subscription
		return
	}
	f.queueCall(mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{Tasks: tasks}})
	f.reconcileBackoff = min(2*f.reconcileBackoff, time.Minute)
	f.reconcileAt = now.Add(f.reconcileBackoff)
}

// kill asks the master to kill an instance. Callers hold mu.
func (f *Framework) kill(ctx context.Context, in *instance, now time.Time) {
	first := !in.Killing
	in.Killing = true
	in.KillSent = now
	args := &mesos.CallKillArgs{TaskID: in.TaskID, AgentID: in.AgentID}
	if app, ok := f.root.Apps[in.AppID]; ok && app.TaskKillGracePeriodSeconds != nil {
		args.KillPolicy = &mesos.KillPolicy{GracePeriodSeconds: float64(*app.TaskKillGracePeriodSeconds)}
	}
	f.queueCall(mesos.Call{Type: mesos.CallKill, Kill: args})
	if first {
		f.queueWrite(f.rec.instances.PutOp(in.TaskID, *in))
		f.changed()
	}
}

// appInstances returns the app's alive instances. Callers hold mu.
func (f *Framework) appInstances(id string) []*instance {
	var out []*instance
	for _, in := range f.byApp[id] {
		if in.alive() {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StagedAt.Before(out[j].StagedAt) })
	return out
}

// rollingState counts an app's instances for the rolling upgrade.
func rollingState(app *marathon.App, ins []*instance) plan.RollingState {
	cv := configVersion(app)
	var s plan.RollingState
	for _, in := range ins {
		if in.Config != cv {
			switch {
			case in.active():
				s.OldRunning++
			case in.alive():
				s.OldKilling++ // still holds its resources until it ends
			}
			continue
		}
		if !in.active() {
			continue
		}
		s.NewLaunched++
		if in.healthyFor(app) {
			s.NewReady++
		}
	}
	return s
}

func rolling(app *marathon.App) plan.Rolling {
	st := marathon.DefaultUpgradeStrategy()
	if app.UpgradeStrategy != nil {
		st = *app.UpgradeStrategy
	}
	return plan.Rolling{Instances: app.Instances, Strategy: st, Resident: app.IsResident()}
}

// need is how many instances of app to launch now. Callers hold mu.
func (f *Framework) need(app *marathon.App, now time.Time) int {
	if rt := f.apps[app.ID]; rt != nil && rt.delayUntil.After(now) {
		return 0
	}
	if d := f.deploymentOf(app.ID); d != nil {
		act, running := d.action(app.ID)
		if !running || act == marathon.ActionStartApplication {
			return 0 // its step has not come yet; StartApplication creates it empty
		}
		if act == marathon.ActionRestartApplication {
			start, _ := rolling(app).Next(rollingState(app, f.appInstances(app.ID)))
			return start
		}
	}
	active := 0
	for _, in := range f.appInstances(app.ID) {
		if in.active() {
			active++
		}
	}
	return max(0, app.Instances-active)
}

// launchNeeds returns need for every app that has one. Callers hold mu.
func (f *Framework) launchNeeds(now time.Time) map[string]int {
	out := map[string]int{}
	for id, app := range f.root.Apps {
		if n := f.need(&app, now); n > 0 {
			out[id] = n
		}
	}
	return out
}

// killsWanted returns the instances of app id to kill now: all of a
// deleted app, the old ones a rolling upgrade may let go, or the surplus
// beyond the app's instances chosen per killSelection. Callers hold mu.
func (f *Framework) killsWanted(id string) []*instance {
	ins := f.appInstances(id)
	if len(ins) == 0 {
		return nil
	}
	d := f.deploymentOf(id)
	waiting := false
	act := ""
	if d != nil {
		var running bool
		act, running = d.action(id)
		waiting = !running
	}
	app, ok := f.root.Apps[id]
	if !ok {
		if waiting {
			return nil
		}
		var out []*instance
		for _, in := range ins {
			if !in.Killing {
				out = append(out, in)
			}
		}
		return out
	}
	if waiting || act == marathon.ActionStartApplication {
		return nil
	}
	var active []*instance
	for _, in := range ins {
		if in.active() {
			active = append(active, in)
		}
	}
	if act == marathon.ActionRestartApplication {
		_, n := rolling(&app).Next(rollingState(&app, ins))
		cv := configVersion(&app)
		var old []*instance
		for _, in := range active {
			if in.Config != cv {
				old = append(old, in)
			}
		}
		return victims(old, n, app.KillSelection, &app)
	}
	return victims(active, len(active)-app.Instances, app.KillSelection, &app)
}

// victims picks n of ins to kill, as Marathon's scaling proposition does.
func victims(ins []*instance, n int, selection string, app *marathon.App) []*instance {
	if n <= 0 || len(ins) == 0 {
		return nil
	}
	cands := make([]plan.Candidate, len(ins))
	byID := make(map[string]*instance, len(ins))
	for i, in := range ins {
		c := plan.Candidate{ID: in.TaskID, StagedAt: in.StagedAt, Started: in.running(),
			Unreachable: in.State == mesos.TaskUnreachable}
		if len(app.HealthChecks) > 0 {
			h := in.Healthy != nil && *in.Healthy
			c.Healthy = &h
		}
		cands[i] = c
		byID[in.TaskID] = in
	}
	var out []*instance
	for _, id := range plan.PickVictims(cands, n, selection) {
		out = append(out, byID[id])
	}
	return out
}

// stepDone reports whether every action of a step has reached its goal.
// Callers hold mu.
func (f *Framework) stepDone(step marathon.DeploymentStep) bool {
	for _, a := range step.Actions {
		ins := f.appInstances(a.App)
		switch a.Action {
		case marathon.ActionStopApplication:
			if len(ins) > 0 {
				return false
			}
			continue
		case marathon.ActionStartApplication:
			continue // the app exists; a later ScaleApplication starts its instances
		}
		app, ok := f.root.Apps[a.App]
		if !ok {
			continue // deleted by a later change: nothing to wait for
		}
		cv := configVersion(&app)
		ready := 0
		for _, in := range ins {
			if in.Killing {
				return false // wait until killed instances are gone
			}
			if a.Action == marathon.ActionRestartApplication && in.Config != cv {
				return false
			}
			if in.active() && in.healthyFor(&app) {
				ready++
			}
		}
		if ready != app.Instances || len(ins) != app.Instances {
			return false
		}
	}
	return true
}

// advance moves deployments whose running step is done to their next step,
// and ends those that ran their last. Callers hold mu.
func (f *Framework) advance(ctx context.Context, now time.Time) {
	for _, d := range slices.Clone(f.deployments) {
		moved := false
		for d.Current < len(d.Steps) && f.stepDone(d.Steps[d.Current]) {
			p := d.plan(f.root)
			f.publish(marathon.DeploymentStatusEvent{Plan: p, CurrentStep: d.Steps[d.Current],
				EventMeta: marathon.Meta(marathon.EventDeploymentStepSuccess, now)})
			d.Current++
			moved = true
			if d.Current < len(d.Steps) {
				f.publish(marathon.DeploymentStatusEvent{Plan: p, CurrentStep: d.Steps[d.Current],
					EventMeta: marathon.Meta(marathon.EventDeploymentInfo, now)})
			}
		}
		if d.Current >= len(d.Steps) {
			f.queueWrite(f.rec.deployments.DeleteOp(d.ID), nil)
			f.removeDeployment(d.ID)
			p := d.plan(f.root)
			f.publish(marathon.DeploymentEvent{ID: d.ID, Plan: &p, EventMeta: marathon.Meta(marathon.EventDeploymentSuccess, now)})
			f.log.Info("deployment finished", "deployment", d.ID)
			moved = true
		} else if moved {
			f.queueWrite(f.rec.deployments.PutOp(d.ID, *d))
		}
		if moved {
			f.changed()
		}
	}
}

// removeDeployment drops a deployment from the running list. Callers hold mu.
func (f *Framework) removeDeployment(id string) {
	f.deployments = slices.DeleteFunc(f.deployments, func(d *deployment) bool { return d.ID == id })
}
