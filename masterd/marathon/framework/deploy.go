package framework

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/api"
	"corral/masterd/marathon/model"
	"corral/masterd/marathon/plan"
	"corral/mesos"
)

// errNotReady answers API calls before the framework has loaded its state.
var errNotReady = &marathon.Error{Status: http.StatusServiceUnavailable, Message: "Marathon is starting, try again"}

// Deploy implements api.Backend: it applies change to the root and starts
// the deployment of the difference.
func (f *Framework) Deploy(ctx context.Context, change func(*model.Root) error, opts api.DeployOptions) (marathon.DeploymentResult, error) {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return marathon.DeploymentResult{}, errNotReady
	}
	target := f.root.Clone()
	if err := change(&target); err != nil {
		return marathon.DeploymentResult{}, err
	}
	return f.deploy(ctx, target, opts)
}

// deploy starts the deployment from the current root to target. Callers
// hold changeMu and mu; mu is released while etcd writes the change, and
// nothing of it shows before it is stored.
func (f *Framework) deploy(ctx context.Context, target model.Root, opts api.DeployOptions) (marathon.DeploymentResult, error) {
	now := f.now()
	ver := f.nextVersion(now)
	restart := map[string]bool{}
	for _, id := range opts.Restart {
		restart[id] = true
	}
	details := assignServicePorts(f.cfg.ServicePorts, f.root, target)
	stampVersions(f.root, target, ver, restart)
	details = append(details, checkServicePortConflicts(target)...)
	// Marathon accepts dependencies on apps that do not exist (yet) and
	// refuses only cycles.
	details = append(details, plan.CheckCycles(target)...)
	if len(details) > 0 {
		return marathon.DeploymentResult{}, marathon.NotValid(details)
	}
	p := plan.Compute(f.root, target)
	affected := slices.Clone(p.AffectedApps)
	slices.Sort(affected)
	var locking []*deployment
	for _, d := range f.deployments {
		for _, id := range affected {
			if d.affects(id) {
				locking = append(locking, d)
				break
			}
		}
	}
	if len(locking) > 0 && !opts.Force {
		ids := make([]string, len(locking))
		for i, d := range locking {
			ids[i] = d.ID
		}
		return marathon.DeploymentResult{}, marathon.AppLocked(ids...)
	}
	target.Version = ver
	f.seq++
	d := &deployment{ID: mesos.NewUUID(), Seq: f.seq, Version: ver, Steps: p.Steps, Affected: affected,
		Original: map[string]marathon.App{}, OriginalGroups: f.root.Groups}
	for _, id := range affected {
		if a, ok := f.root.Apps[id]; ok {
			d.Original[id] = a
		}
	}
	b := batch{r: f.rec}
	versions := *f.versions.Load()
	lists := b.saveRoot(f.root, target, f.meta, versions, f.cfg.MaxVersions)
	b.put(f.rec.deployments.PutOp(d.ID, *d))
	for _, l := range locking {
		b.del(f.rec.deployments.DeleteOp(l.ID))
	}
	f.mu.Unlock()
	err := b.commit(ctx)
	f.mu.Lock()
	if err != nil {
		return marathon.DeploymentResult{}, err
	}
	before := f.root
	f.root = target
	if len(lists) > 0 {
		vs := maps.Clone(versions)
		for id, l := range lists {
			if l == nil {
				delete(vs, id)
			} else {
				vs[id] = l
			}
		}
		f.versions.Store(&vs)
	}
	f.deployments = append(f.deployments, d)
	for _, l := range locking {
		f.removeDeployment(l.ID)
		f.publishFailed(l, now)
		f.log.Info("deployment cancelled by a forced change", "deployment", l.ID)
	}
	for _, id := range affected {
		a, ok := target.Apps[id]
		if !ok {
			if !f.hasInstances(id) {
				f.publish(marathon.AppTerminatedEvent{AppID: id, EventMeta: marathon.Meta(marathon.EventAppTerminated, now)})
			}
			continue
		}
		if o, existed := before.Apps[id]; !existed || configVersion(&o) != configVersion(&a) {
			if rt := f.apps[id]; rt != nil {
				rt.delay, rt.delayUntil = 0, time.Time{}
			}
		}
		if opts.Source != "" {
			f.publish(marathon.APIPostEvent{ClientIP: opts.ClientIP, URI: opts.URI, AppDefinition: a,
				EventMeta: marathon.Meta(marathon.EventAPIPost, now)})
		}
	}
	f.publish(marathon.GroupChangeEvent{GroupID: marathon.RootID, Version: ver, EventMeta: marathon.Meta(marathon.EventGroupChangeSuccess, now)})
	if len(d.Steps) > 0 {
		f.publish(marathon.DeploymentStatusEvent{Plan: d.plan(f.root), CurrentStep: d.Steps[0],
			EventMeta: marathon.Meta(marathon.EventDeploymentInfo, now)})
	}
	f.log.Info("deployment started", "deployment", d.ID, "apps", affected, "steps", len(d.Steps))
	f.changed()
	f.publishView()
	f.wake()
	return marathon.DeploymentResult{DeploymentID: d.ID, Version: ver}, nil
}

// publishFailed reports a deployment stopped before its end: its running
// step failed, and so did it. Callers hold mu.
func (f *Framework) publishFailed(d *deployment, now time.Time) {
	p := d.plan(f.root)
	if len(d.Steps) > 0 {
		f.publish(marathon.DeploymentStatusEvent{Plan: p, CurrentStep: d.Steps[min(d.Current, len(d.Steps)-1)],
			EventMeta: marathon.Meta(marathon.EventDeploymentStepFailure, now)})
	}
	f.publish(marathon.DeploymentEvent{ID: d.ID, Plan: &p, EventMeta: marathon.Meta(marathon.EventDeploymentFailed, now)})
}

// nextVersion returns a version timestamp later than the root's, so that
// two changes within a millisecond still get distinct versions.
func (f *Framework) nextVersion(now time.Time) string {
	ver := marathon.FormatTimestamp(now)
	if last, err := marathon.ParseTimestamp(f.root.Version); err == nil && ver <= f.root.Version {
		ver = marathon.FormatTimestamp(last.Add(time.Millisecond))
	}
	return ver
}

// KillTasks implements api.Backend.
func (f *Framework) KillTasks(ctx context.Context, ids []string, opts api.KillOptions) ([]marathon.Task, *marathon.DeploymentResult, error) {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	f.mu.Lock()
	if !f.ready {
		f.mu.Unlock()
		return nil, nil, errNotReady
	}
	var ins []*instance
	byApp := map[string]int{}
	for _, id := range ids {
		in := f.instances[id]
		if in == nil || !in.alive() || in.Killing {
			continue
		}
		ins = append(ins, in)
		byApp[in.AppID]++
	}
	var res *marathon.DeploymentResult
	if opts.Scale && len(byApp) > 0 {
		target := f.root.Clone()
		for id, n := range byApp {
			if a, ok := target.Apps[id]; ok {
				a.Instances = max(0, a.Instances-n)
				target.Apps[id] = a
			}
		}
		r, err := f.deploy(ctx, target, api.DeployOptions{Force: opts.Force})
		if err != nil {
			f.mu.Unlock()
			return nil, nil, err
		}
		res = &r
	}
	now := f.now()
	tasks := make([]marathon.Task, 0, len(ins))
	for _, in := range ins {
		app := f.root.Apps[in.AppID]
		tasks = append(tasks, in.task(&app))
		in.Wipe = opts.Wipe
		f.kill(ctx, in, now)
	}
	f.publishView()
	f.mu.Unlock()
	f.flush(ctx)
	return tasks, res, nil
}

// CancelDeployment implements api.Backend.
func (f *Framework) CancelDeployment(ctx context.Context, id string, force bool) (*marathon.DeploymentResult, error) {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	var d *deployment
	for _, x := range f.deployments {
		if x.ID == id {
			d = x
		}
	}
	if d == nil {
		return nil, marathon.DeploymentNotFound(id)
	}
	now := f.now()
	if force {
		f.mu.Unlock()
		err := f.rec.deployments.Delete(ctx, id)
		f.mu.Lock()
		if err != nil {
			return nil, err
		}
		f.removeDeployment(id)
		f.publishFailed(d, now)
		f.changed()
		f.publishView()
		f.wake()
		return nil, nil
	}
	// Roll back: deploy the affected apps as they were, replacing d.
	target := d.original(f.root)
	res, err := f.deploy(ctx, target, api.DeployOptions{Force: true})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// ResetDelay implements api.Backend.
func (f *Framework) ResetDelay(appID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	rt := f.apps[appID]
	if rt == nil || !rt.delayUntil.After(f.now()) {
		return false
	}
	rt.delay, rt.delayUntil = 0, time.Time{}
	f.changed()
	f.publishView()
	f.wake()
	return true
}

// Versions implements api.Backend, from memory.
func (f *Framework) Versions(ctx context.Context, appID string) ([]string, error) {
	if !f.known(appID) {
		return nil, marathon.AppNotFound(appID)
	}
	vs := slices.Clone((*f.versions.Load())[appID])
	slices.Reverse(vs)
	return vs, nil
}

// Version implements api.Backend.
func (f *Framework) Version(ctx context.Context, appID, version string) (marathon.App, bool, error) {
	if !f.known(appID) {
		return marathon.App{}, false, marathon.AppNotFound(appID)
	}
	return f.rec.appVersion(ctx, appID, version)
}

// known reports whether the app exists in the published view.
func (f *Framework) known(appID string) bool {
	_, ok := f.View().Root.Apps[appID]
	return ok
}

var _ api.Backend = (*Framework)(nil)
