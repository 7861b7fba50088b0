package master

import (
	"context"
	"sync"
	"testing"
	"time"

	"corral/mesos"
)

// opRecorder collects an operator subscription's events.
type opRecorder struct {
	mu     sync.Mutex
	events []mesos.OperatorEvent
	closed bool
}

func recordOperator(t *testing.T, events <-chan mesos.OperatorEvent, cancel func()) *opRecorder {
	r := &opRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *opRecorder) wait(t *testing.T, what string, match func(mesos.OperatorEvent) bool) mesos.OperatorEvent {
	t.Helper()
	var found mesos.OperatorEvent
	waitFor(t, 5*time.Second, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ev := range r.events {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

func (r *opRecorder) count(match func(mesos.OperatorEvent) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if match(ev) {
			n++
		}
	}
	return n
}

func taskUpdated(taskID string, st mesos.TaskState) func(mesos.OperatorEvent) bool {
	return func(ev mesos.OperatorEvent) bool {
		u := ev.TaskUpdated
		return ev.Type == mesos.OperatorEventTaskUpdated && u.Status.TaskID.Value == taskID && u.State == st
	}
}

// TestOperatorEvents follows a task's life, its framework's and its
// agent's through the operator API's events, in order after the snapshot.
func TestOperatorEvents(t *testing.T) {
	c := newCluster(t, fastPings)
	state, events, cancel := c.master().SubscribeOperator()
	if len(state.GetAgents.Agents)+len(state.GetFrameworks.Frameworks)+len(state.GetTasks.Tasks) != 0 {
		t.Fatalf("SubscribeOperator on an empty master: state = %+v, want empty", state)
	}
	rec := recordOperator(t, events, cancel)

	a := c.startAgent("h1", "cpus:2;mem:512;ports:[31000-31009]")
	agentID := a.link.AgentID()
	added := rec.wait(t, "AGENT_ADDED", func(ev mesos.OperatorEvent) bool { return ev.Type == mesos.OperatorEventAgentAdded })
	if got := added.AgentAdded.Agent; got.AgentInfo.ID.Value != agentID || got.AgentInfo.Hostname != "h1" || got.PID == "" {
		t.Fatalf("AGENT_ADDED agent = %+v, want ID %s, hostname h1 and a pid", got, agentID)
	}

	f := c.subscribe(mesos.FrameworkInfo{Name: "fw", Hostname: "fwhost"})
	fa := rec.wait(t, "FRAMEWORK_ADDED", func(ev mesos.OperatorEvent) bool { return ev.Type == mesos.OperatorEventFrameworkAdded })
	if fi := fa.FrameworkAdded.Framework; fi.FrameworkInfo.ID.Value != f.id || fi.FrameworkInfo.Name != "fw" || !fi.Active {
		t.Fatalf("FRAMEWORK_ADDED framework = %+v, want active fw %s", fi, f.id)
	}

	o := f.waitOffer(t, agentID)
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:128;ports:[31005-31005]", 0)
	ta := rec.wait(t, "TASK_ADDED", func(ev mesos.OperatorEvent) bool { return ev.Type == mesos.OperatorEventTaskAdded })
	task := ta.TaskAdded.Task
	if task.TaskID.Value != "t1" || task.FrameworkID.Value != f.id || task.AgentID.Value != agentID || task.State != mesos.TaskStaging {
		t.Fatalf("TASK_ADDED task = %+v, want t1 of %s on %s in TASK_STAGING", task, f.id, agentID)
	}
	if got := mesos.V1ResourcesStateJSON(task.Resources)["ports"]; got != "[31005-31005]" {
		t.Fatalf("TASK_ADDED ports = %v, want [31005-31005]", got)
	}

	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	rec.wait(t, "TASK_UPDATED to TASK_RUNNING", taskUpdated("t1", mesos.TaskRunning))
	// A retried update changes nothing: no second event.
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	healthy := true
	if err := a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{
		FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "t1", State: mesos.TaskRunning, Healthy: &healthy, UUID: "u2"},
	}}); err != nil {
		t.Fatal(err)
	}
	hu := rec.wait(t, "TASK_UPDATED with health", func(ev mesos.OperatorEvent) bool {
		return taskUpdated("t1", mesos.TaskRunning)(ev) && ev.TaskUpdated.Status.Healthy != nil
	})
	if st := hu.TaskUpdated.Status; !*st.Healthy || st.AgentID == nil || st.AgentID.Value != agentID || hu.TaskUpdated.FrameworkID.Value != f.id {
		t.Fatalf("health TASK_UPDATED = %+v, want healthy on agent %s of %s", hu.TaskUpdated, agentID, f.id)
	}
	if n := rec.count(taskUpdated("t1", mesos.TaskRunning)); n != 2 {
		t.Fatalf("TASK_UPDATED TASK_RUNNING events = %d, want 2 (running, then healthy; the retry adds none)", n)
	}

	gs := c.master().OperatorState()
	if len(gs.GetTasks.Tasks) != 1 || gs.GetTasks.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("GET_STATE tasks = %+v, want t1 running", gs.GetTasks.Tasks)
	}
	if sts := gs.GetTasks.Tasks[0].Statuses; len(sts) == 0 || sts[len(sts)-1].Healthy == nil || !*sts[len(sts)-1].Healthy {
		t.Fatalf("GET_STATE t1 statuses = %+v, want the latest healthy", sts)
	}

	a.update(t, f.id, "t1", mesos.TaskKilled, "u3")
	rec.wait(t, "TASK_UPDATED to TASK_KILLED", taskUpdated("t1", mesos.TaskKilled))
	gs = c.master().OperatorState()
	if len(gs.GetTasks.Tasks) != 0 || len(gs.GetTasks.CompletedTasks) != 1 {
		t.Fatalf("GET_STATE after the kill: %d tasks, %d completed, want 0 and 1", len(gs.GetTasks.Tasks), len(gs.GetTasks.CompletedTasks))
	}

	// An agent that goes silent is removed.
	a.stop()
	rec.wait(t, "AGENT_REMOVED", func(ev mesos.OperatorEvent) bool {
		return ev.Type == mesos.OperatorEventAgentRemoved && ev.AgentRemoved.AgentID.Value == agentID
	})

	if err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallTeardown}); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "FRAMEWORK_REMOVED", func(ev mesos.OperatorEvent) bool {
		return ev.Type == mesos.OperatorEventFrameworkRemoved && ev.FrameworkRemoved.FrameworkInfo.ID.Value == f.id
	})

	// Stepping down ends every subscription.
	c.depose()
	waitFor(t, 5*time.Second, "the subscription to end", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.closed
	})
}

// TestOperatorSubscriberDropped: a subscriber that does not read is cut off
// once its buffer is full, and the master goes on.
func TestOperatorSubscriberDropped(t *testing.T) {
	c := newCluster(t, nil)
	m := c.master()
	_, stalled, cancel := m.SubscribeOperator()
	defer cancel()
	_, live, cancelLive := m.SubscribeOperator()
	defer cancelLive()
	ev := mesos.OperatorEvent{Type: mesos.OperatorEventAgentRemoved, AgentRemoved: &mesos.OperatorAgentRemoved{AgentID: mesos.V1ID{Value: "x"}}}
	start := time.Now()
	for range operatorBuffer + 1 {
		m.mu.Lock()
		m.publish(ev)
		m.mu.Unlock()
		// The live subscriber keeps up.
		select {
		case <-live:
		default:
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("publishing to a stalled subscriber took %v", d)
	}
	n := 0
	for range stalled {
		n++
	}
	if n != operatorBuffer {
		t.Fatalf("stalled subscriber got %d events before its channel closed, want %d", n, operatorBuffer)
	}
	m.mu.Lock()
	subs := len(m.opSubs)
	m.mu.Unlock()
	if subs != 1 {
		t.Fatalf("subscribers after the drop = %d, want 1 (the live one)", subs)
	}
	cancel() // after the drop: a no-op
}
