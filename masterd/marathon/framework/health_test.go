package framework

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"corral/marathon"
	"corral/masterd/marathon/events"
	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// silentMaster accepts every call and never sends an event.
type silentMaster struct{}

func (silentMaster) Subscribe(context.Context, mesos.FrameworkInfo) (<-chan mesos.Event, error) {
	return make(chan mesos.Event), nil
}
func (silentMaster) Call(context.Context, mesos.Call) error { return nil }

// A reconciliation answer repeats the agent's last health result: it is
// no new check, so an unhealthy one is not one more consecutive failure (or
// failed_health_check_event), except when the framework knows of none, as
// after a failover.
func TestReconciledHealthIsNotANewCheck(t *testing.T) {
	e, _ := statetest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := events.New(events.DefaultConfig(), log)
	defer bus.Close()
	sub, err := bus.Subscribe([]string{marathon.EventFailedHealthCheck}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(DefaultConfig(), state.NewStore(e.Client), silentMaster{}, bus, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.root.Apps["/web"] = marathon.App{ID: "/web", HealthChecks: []marathon.HealthCheck{{Protocol: marathon.HealthCommand}}}
	in := &instance{TaskID: "web.1", AppID: "/web", State: mesos.TaskRunning}
	f.addInstance(in)
	f.mu.Unlock()

	healthy, unhealthy := true, false
	fromAgent := func(h *bool) mesos.TaskStatus {
		return mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning, Healthy: h, Source: mesos.SourceExecutor,
			Reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", Message: "exit status 1"}
	}
	reconciled := func(h *bool) mesos.TaskStatus {
		st := fromAgent(h)
		st.Source, st.Reason = mesos.SourceMaster, mesos.ReasonReconciliation
		return st
	}
	for i, step := range []struct {
		what           string
		st             mesos.TaskStatus
		failures, sent int // consecutive failures after, failed_health_check_events so far
		alive          bool
	}{
		{"after a failover, an unhealthy answer is the failure known", reconciled(&unhealthy), 1, 1, false},
		{"the same answer again", reconciled(&unhealthy), 1, 1, false},
		{"a failed check", fromAgent(&unhealthy), 2, 2, false},
		{"an unhealthy answer", reconciled(&unhealthy), 2, 2, false},
		{"a passed check", fromAgent(&healthy), 0, 2, true},
		{"a healthy answer", reconciled(&healthy), 0, 2, true},
		{"an unhealthy answer after a healthy result", reconciled(&unhealthy), 1, 3, false},
	} {
		f.updates(ctx, []mesos.TaskStatus{step.st})
		f.mu.Lock()
		r := in.healthResult()
		f.mu.Unlock()
		if r.ConsecutiveFailures != step.failures || r.Alive != step.alive || sub.Len() != step.sent {
			t.Fatalf("step %d, %s: consecutiveFailures %d, alive %v, %d failed_health_check_events; want %d, %v, %d",
				i, step.what, r.ConsecutiveFailures, r.Alive, sub.Len(), step.failures, step.alive, step.sent)
		}
	}
}

// A restarted master serves each task's last health verdict at once, as
// Marathon does from the task's stored Mesos status, rather than none
// until the agents re-report: routers and resolvers that follow health
// would drop every backend in between. Only a change of verdict is written.
func TestHealthVerdictSurvivesARestart(t *testing.T) {
	e, _ := statetest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	start := func() *Framework {
		bus := events.New(events.DefaultConfig(), log)
		t.Cleanup(bus.Close)
		f, err := New(DefaultConfig(), state.NewStore(e.Client), silentMaster{}, bus, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return f
	}
	revision := func() int64 {
		resp, err := e.Client.Get(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	f := start()
	f.mu.Lock()
	f.root.Apps["/web"] = marathon.App{ID: "/web", HealthChecks: []marathon.HealthCheck{{Protocol: marathon.HealthMesosHTTP}}}
	f.addInstance(&instance{TaskID: "web.1", AppID: "/web", State: mesos.TaskStaging})
	f.mu.Unlock()
	healthy := true
	check := mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning, Healthy: &healthy, Source: mesos.SourceExecutor,
		Reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"}
	f.updates(ctx, []mesos.TaskStatus{{TaskID: "web.1", State: mesos.TaskRunning, Source: mesos.SourceExecutor}, check})
	written := revision()
	f.updates(ctx, []mesos.TaskStatus{check, check})
	if r := revision(); r != written {
		t.Errorf("two more passed checks moved etcd's revision from %d to %d, want no write", written, r)
	}

	again := start()
	again.mu.Lock()
	defer again.mu.Unlock()
	in := again.instances["web.1"]
	if in == nil {
		t.Fatal("the restarted framework lost the instance")
	}
	if r := in.healthResult(); !r.Alive || r.FirstSuccess == "" {
		t.Errorf("the restarted framework's health of web.1 = %+v, want alive since its first success", r)
	}
}
