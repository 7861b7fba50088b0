package master

import (
	"time"

	"corral/mesos"
)

// taskKey identifies a task: task IDs are unique within a framework.
type taskKey struct{ framework, task string }

// task is a launched task as the master tracks it.
type task struct {
	info          mesos.TaskInfo
	frameworkID   string
	state         mesos.TaskState
	statuses      []mesos.TaskStatus
	killRequested bool
}

// maxStatuses bounds the status history kept per task, as /master/state
// shows it; the latest status is what tools read.
const maxStatuses = 8

func (t *task) record(st mesos.TaskStatus) {
	t.state = st.State
	// Keep the container status (addresses) that earlier updates reported
	// when a later update, such as a health change, omits it.
	if st.ContainerStatus == nil && len(t.statuses) > 0 {
		st.ContainerStatus = t.statuses[len(t.statuses)-1].ContainerStatus
	}
	st.UUID = ""
	if n := len(t.statuses); n > 0 && t.statuses[n-1].State == st.State && st.Healthy == nil {
		t.statuses[n-1] = st
		return
	}
	t.statuses = append(t.statuses, st)
	if len(t.statuses) > maxStatuses {
		t.statuses = append(t.statuses[:0], t.statuses[len(t.statuses)-maxStatuses:]...)
	}
}

func killEvent(t *task) mesos.AgentEvent {
	return mesos.AgentEvent{Type: mesos.AgentEventKill, Kill: &mesos.AgentKill{
		FrameworkID: t.frameworkID, TaskID: t.info.TaskID, KillPolicy: t.info.KillPolicy,
	}}
}

// masterStatus builds a status update the master itself generates.
func masterStatus(t *task, agentID string, state mesos.TaskState, reason, msg string, now time.Time) mesos.TaskStatus {
	st := mesos.TaskStatus{
		TaskID: t.info.TaskID, AgentID: agentID, State: state, Reason: reason,
		Message: msg, Source: mesos.SourceMaster, Timestamp: since(now),
	}
	if n := len(t.statuses); n > 0 {
		st.ContainerStatus = t.statuses[n-1].ContainerStatus
	}
	return st
}

// adoptTask takes in a task an agent reported after a master failover,
// with the statuses it reported (its latest, health included).
// Caller holds m.mu.
func (m *Master) adoptTask(a *agent, rt mesos.Task) *task {
	f := m.frameworks[rt.FrameworkID]
	if f == nil {
		// Its framework has not re-subscribed yet and is not in the
		// registry: keep the task as an orphan under a placeholder.
		f = newFramework(frameworkRecord(rt.FrameworkID), time.Now())
		f.recovered = true
		m.frameworks[rt.FrameworkID] = f
		m.alloc.AddFramework(rt.FrameworkID, "*")
		m.alloc.Suppress(rt.FrameworkID)
		m.opFramework(f, true)
	}
	t := &task{info: rt.Info, frameworkID: rt.FrameworkID, state: rt.State}
	t.info.AgentID = a.rec.Info.ID
	for _, st := range rt.Statuses[max(0, len(rt.Statuses)-maxStatuses):] {
		// Acknowledged long ago, or to be resent with its UUID.
		st.UUID = ""
		t.statuses = append(t.statuses, st)
	}
	k := taskKey{rt.FrameworkID, rt.Info.TaskID}
	a.tasks[k] = t
	f.tasks[rt.Info.TaskID] = t
	m.opTaskAdded(t)
	return t
}

// statusFromAgent applies an agent's status update and forwards it to the
// framework, which acknowledges it. Caller holds m.mu.
func (m *Master) statusFromAgent(agentID string, a *agent, frameworkID string, st mesos.TaskStatus) {
	st.AgentID = agentID
	if st.Timestamp == 0 {
		st.Timestamp = since(time.Now())
	}
	if st.Source == "" {
		st.Source = mesos.SourceExecutor
	}
	if t := a.tasks[taskKey{frameworkID, st.TaskID}]; t != nil {
		if st.State.Terminal() {
			m.finishTask(a, t, st)
		} else {
			before := viewOf(t)
			t.record(st)
			if viewOf(t) != before {
				m.opTaskUpdated(t)
			}
		}
	}
	f := m.frameworks[frameworkID]
	if f == nil {
		// The framework was torn down (the registry and its recovered
		// placeholders name every other): nobody will acknowledge the
		// update, so the master does, or the agent retries it forever.
		if st.UUID != "" {
			a.send(mesos.AgentEvent{Type: mesos.AgentEventAcknowledge, Acknowledge: &mesos.AgentAcknowledge{FrameworkID: frameworkID, TaskID: st.TaskID, UUID: st.UUID}})
		}
		return
	}
	// A known framework that is disconnected acknowledges the update once
	// it subscribes again and the agent resends it.
	f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: &st})
}

// endTask ends a task with a status the master generated and tells its
// framework. Caller holds m.mu.
func (m *Master) endTask(a *agent, t *task, st mesos.TaskStatus) {
	m.finishTask(a, t, st)
	if f := m.frameworks[t.frameworkID]; f != nil {
		f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: &st})
	}
}

// finishTask moves a task to its framework's completed tasks and gives its
// resources back to the allocator. Caller holds m.mu.
func (m *Master) finishTask(a *agent, t *task, st mesos.TaskStatus) {
	t.record(st)
	m.ended(st.State)
	m.opTaskUpdated(t)
	k := taskKey{t.frameworkID, t.info.TaskID}
	if a != nil && a.tasks[k] == t {
		delete(a.tasks, k)
		m.alloc.Release(t.frameworkID, t.info.AgentID, t.info.Resources)
		m.allocateSoon()
	}
	if f := m.frameworks[t.frameworkID]; f != nil && f.tasks[t.info.TaskID] == t {
		delete(f.tasks, t.info.TaskID)
		f.complete(t)
	}
}
