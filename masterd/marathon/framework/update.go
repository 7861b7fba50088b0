package framework

import (
	"cmp"
	"context"
	"math"
	"time"

	"corral/marathon"
	"corral/mesos"
)

// updates applies status updates, then writes what they changed in as
// few etcd transactions as the store's limits allow and only then
// acknowledges them: 100 tasks starting at once cost a transaction or
// two, not 100 one after the other. Callers hold changeMu.
func (f *Framework) updates(ctx context.Context, sts []mesos.TaskStatus) {
	f.mu.Lock()
	for _, st := range sts {
		f.update(ctx, st)
	}
	f.mu.Unlock()
	f.flush(ctx)
}

// update applies a task's status update: the instance's state, addresses
// and health, the events Marathon publishes, backoff after failures, and
// the acknowledgement, queued to be sent after the instance is written.
// Callers hold mu.
func (f *Framework) update(ctx context.Context, st mesos.TaskStatus) {
	if st.UUID != "" {
		f.queueCall(mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.CallAckArgs{
			AgentID: st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
	}
	in := f.instances[st.TaskID]
	if in == nil {
		// A task Marathon does not know (launched by a lost leader whose
		// write never landed): Marathon kills such tasks.
		if !terminal(st.State) {
			f.log.Info("killing unknown task", "task", st.TaskID, "agent", st.AgentID)
			f.queueCall(mesos.Call{Type: mesos.CallKill, Kill: &mesos.CallKillArgs{TaskID: st.TaskID, AgentID: st.AgentID}})
		}
		return
	}
	if in.AgentID != "" && st.AgentID != "" && st.AgentID != in.AgentID {
		// Another agent speaks of this task (the master refuses that for
		// tasks it knows, but knows none of an agent that has not
		// re-registered since a failover): the instance is not its to change.
		f.log.Warn("ignoring a status update from another agent than the task's", "task", st.TaskID, "agent", st.AgentID, "task_agent", in.AgentID, "state", st.State)
		return
	}
	now := f.now()
	in.seen = true
	app, hasApp := f.root.Apps[in.AppID]
	prev := in.State
	persist := false
	if st.State != prev {
		in.State = st.State
		persist = true
	}
	if st.State == mesos.TaskRunning && in.StartedAt.IsZero() {
		in.StartedAt = statusTime(st, now)
		persist = true
	}
	if ips := statusIPs(st); len(ips) > 0 && !equalStrings(ips, in.IPs) {
		in.IPs = ips
		persist = true
	}
	if st.State == mesos.TaskRunning && hasApp && configVersion(&app) == in.Config {
		f.startReadiness(ctx, in, &app)
	}
	if st.Healthy != nil && !terminal(st.State) {
		if st.Reason == mesos.ReasonReconciliation {
			persist = f.reconciledHealth(in, *st.Healthy, st.Message, now, &app) || persist
		} else {
			persist = f.health(in, *st.Healthy, st.Message, now, &app) || persist
		}
	}
	if st.State != prev {
		f.publish(marathon.StatusUpdateEvent{
			SlaveID: in.AgentID, TaskID: in.TaskID, TaskStatus: string(st.State), Message: st.Message,
			AppID: in.AppID, Host: in.Host, IPAddresses: in.task(nil).IPAddresses, Ports: in.Ports,
			Version: in.Version, EventMeta: marathon.Meta(marathon.EventStatusUpdate, now),
		})
	}
	if terminal(st.State) {
		f.ended(in, st, now, hasApp, &app)
		f.queueWrite(f.rec.instances.DeleteOp(in.TaskID), nil)
	} else if persist {
		f.queueWrite(f.rec.instances.PutOp(in.TaskID, *in))
	}
	f.changed()
}

// health records one health result and publishes the changes. It
// reports whether the verdict changed, which is written.
func (f *Framework) health(in *instance, healthy bool, msg string, now time.Time, app *marathon.App) (changed bool) {
	was := in.Healthy
	if healthy {
		in.Failures = 0
		if in.FirstSuccess.IsZero() {
			in.FirstSuccess = now
		}
		in.LastSuccess = now
	} else {
		in.Failures++
		in.LastFailure = now
		in.FailureCause = msg
		var hc marathon.HealthCheck
		if len(app.HealthChecks) > 0 {
			hc = app.HealthChecks[0]
		}
		f.publish(marathon.FailedHealthCheckEvent{AppID: in.AppID, TaskID: in.TaskID, InstanceID: instanceID(in.TaskID),
			HealthCheck: hc, EventMeta: marathon.Meta(marathon.EventFailedHealthCheck, now)})
	}
	h := healthy
	in.Healthy = &h
	if was != nil && *was == healthy {
		return false
	}
	f.publish(marathon.HealthStatusChangedEvent{AppID: in.AppID, TaskID: in.TaskID, InstanceID: instanceID(in.TaskID),
		Version: in.Version, Alive: healthy, EventMeta: marathon.Meta(marathon.EventHealthStatusChanged, now)})
	f.publish(marathon.InstanceHealthChangedEvent{InstanceID: instanceID(in.TaskID), RunSpecVersion: in.Version,
		RunSpecID: in.AppID, Healthy: &h, EventMeta: marathon.Meta(marathon.EventInstanceHealthChanged, now)})
	return true
}

// reconciledHealth takes in the health a reconciliation answer repeats:
// the agent's last result, not a new check, so a verdict the framework
// knows already (restored with the instance after a failover, say) is not
// counted again. It reports whether the verdict changed.
func (f *Framework) reconciledHealth(in *instance, healthy bool, msg string, now time.Time, app *marathon.App) bool {
	if in.Healthy != nil && *in.Healthy == healthy && (healthy || in.Failures > 0) {
		return false
	}
	return f.health(in, healthy, cmp.Or(in.FailureCause, msg), now, app)
}

// ended forgets a terminal instance: failures are remembered and delay
// the app's next launch; a health kill is published; an app deleted
// meanwhile is reported terminated with its last instance.
func (f *Framework) ended(in *instance, st mesos.TaskStatus, now time.Time, hasApp bool, app *marathon.App) {
	f.removeInstance(in)
	// An agent kills a task that failed its health checks with this reason.
	if st.State == mesos.TaskKilled && st.Reason == mesos.ReasonTaskHealthCheckStatusUpdated {
		f.publish(marathon.UnhealthyTaskKillEvent{AppID: in.AppID, TaskID: in.TaskID, InstanceID: instanceID(in.TaskID),
			Version: in.Version, Reason: st.Message, Host: in.Host, SlaveID: in.AgentID,
			EventMeta: marathon.Meta(marathon.EventUnhealthyTaskKill, now)})
	}
	requested := in.Killing && (st.State == mesos.TaskKilled || st.State == mesos.TaskFinished)
	// A task the master never saw (the leader died between storing and
	// launching it) is answered as lost by reconciliation: no failure.
	neverLaunched := st.Reason == mesos.ReasonReconciliation && in.StartedAt.IsZero() && in.State != mesos.TaskRunning
	if !requested && !neverLaunched {
		rt := f.runtime(in.AppID)
		if st.State != mesos.TaskFinished {
			rt.lastFailure = &marathon.TaskFailure{AppID: in.AppID, Host: in.Host, Message: st.Message,
				State: string(st.State), TaskID: in.TaskID, Timestamp: marathon.FormatTimestamp(now),
				Version: in.Version, SlaveID: in.AgentID}
		}
		if hasApp {
			f.backoff(rt, app, now)
		}
	}
	if !hasApp && !f.hasInstances(in.AppID) {
		f.publish(marathon.AppTerminatedEvent{AppID: in.AppID, EventMeta: marathon.Meta(marathon.EventAppTerminated, now)})
	}
}

// backoff delays the app's next launch: backoffSeconds after the first
// failure, times backoffFactor after each further one, at most
// maxLaunchDelaySeconds.
func (f *Framework) backoff(rt *appRuntime, app *marathon.App, now time.Time) {
	base := time.Duration(app.BackoffSeconds) * time.Second
	limit := time.Duration(app.MaxLaunchDelaySeconds) * time.Second
	if now.After(rt.delayUntil.Add(limit)) {
		rt.delay = 0 // quiet for longer than the longest delay: start over
	}
	if rt.delay == 0 {
		rt.delay = base
	} else {
		rt.delay = time.Duration(math.Min(float64(rt.delay)*app.BackoffFactor, float64(limit)))
	}
	rt.delay = min(rt.delay, limit)
	rt.delayUntil = now.Add(rt.delay)
}

// hasInstances reports whether any instance of appID is alive. Callers hold mu.
func (f *Framework) hasInstances(appID string) bool {
	return len(f.byApp[appID]) > 0
}

func statusTime(st mesos.TaskStatus, now time.Time) time.Time {
	if st.Timestamp > 0 {
		sec, frac := math.Modf(st.Timestamp)
		return time.Unix(int64(sec), int64(frac*1e9))
	}
	return now
}

func statusIPs(st mesos.TaskStatus) []string {
	if st.ContainerStatus == nil {
		return nil
	}
	var out []string
	for _, n := range st.ContainerStatus.NetworkInfos {
		for _, ip := range n.IPAddresses {
			if ip.IPAddress != "" {
				out = append(out, ip.IPAddress)
			}
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
