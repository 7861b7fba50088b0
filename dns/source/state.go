package source

import (
	"net"
	"sort"
	"strings"

	"corral/mesos"
)

// state is the cluster as the operator API's events describe it, kept in
// /master/state's form so that a snapshot is a copy of lists. It has no
// I/O and no lock: one goroutine owns it.
//
// Values stored in it are never modified in place (an update stores a new
// StateTask with new statuses), so snapshots share them safely.
type state struct {
	head       mesos.MasterState                     // master fields from /master/state; no lists
	agents     map[string]mesos.StateAgent           // by agent ID
	frameworks map[string]mesos.StateFramework       // by framework ID, without tasks
	tasks      map[string]map[string]mesos.StateTask // by framework ID, task ID
	pids       map[string]string                     // framework PIDs from /master/state
}

// maxStatuses bounds the statuses kept per task, as the master does.
const maxStatuses = 8

func newState() *state {
	return &state{
		agents:     map[string]mesos.StateAgent{},
		frameworks: map[string]mesos.StateFramework{},
		tasks:      map[string]map[string]mesos.StateTask{},
		pids:       map[string]string{},
	}
}

// reset replaces the agents, frameworks and tasks by a SUBSCRIBED state.
// Master fields and framework PIDs stay until /master/state says otherwise.
func (s *state) reset(gs mesos.GetState) {
	s.agents = map[string]mesos.StateAgent{}
	s.frameworks = map[string]mesos.StateFramework{}
	s.tasks = map[string]map[string]mesos.StateTask{}
	for _, a := range gs.GetAgents.Agents {
		s.addAgent(a)
	}
	for _, f := range gs.GetFrameworks.Frameworks {
		s.addFramework(f)
	}
	for _, t := range gs.GetTasks.PendingTasks {
		s.addTask(t)
	}
	for _, t := range gs.GetTasks.Tasks {
		s.addTask(t)
	}
	for _, t := range gs.GetTasks.UnreachableTasks {
		s.addTask(t)
	}
}

// apply applies one event. It reports whether the snapshot changed, and
// whether a framework was added or updated (its PID must be fetched).
func (s *state) apply(ev mesos.OperatorEvent) (changed, framework bool) {
	switch ev.Type {
	case mesos.OperatorEventSubscribed:
		if ev.Subscribed == nil {
			return false, false
		}
		s.reset(ev.Subscribed.GetState)
		return true, true
	case mesos.OperatorEventTaskAdded:
		if ev.TaskAdded == nil {
			return false, false
		}
		return s.addTask(ev.TaskAdded.Task), false
	case mesos.OperatorEventTaskUpdated:
		if ev.TaskUpdated == nil {
			return false, false
		}
		return s.updateTask(ev.TaskUpdated), false
	case mesos.OperatorEventAgentAdded:
		if ev.AgentAdded == nil {
			return false, false
		}
		return s.addAgent(ev.AgentAdded.Agent), false
	case mesos.OperatorEventAgentRemoved:
		if ev.AgentRemoved == nil {
			return false, false
		}
		_, ok := s.agents[ev.AgentRemoved.AgentID.Value]
		delete(s.agents, ev.AgentRemoved.AgentID.Value)
		return ok, false
	case mesos.OperatorEventFrameworkAdded, mesos.OperatorEventFrameworkUpdated:
		fe := ev.FrameworkAdded
		if ev.Type == mesos.OperatorEventFrameworkUpdated {
			fe = ev.FrameworkUpdated
		}
		if fe == nil {
			return false, false
		}
		ok := s.addFramework(fe.Framework)
		return ok, ok
	case mesos.OperatorEventFrameworkRemoved:
		if ev.FrameworkRemoved == nil || ev.FrameworkRemoved.FrameworkInfo.ID == nil {
			return false, false
		}
		id := ev.FrameworkRemoved.FrameworkInfo.ID.Value
		_, known := s.frameworks[id]
		_, hasTasks := s.tasks[id]
		delete(s.frameworks, id)
		delete(s.tasks, id)
		delete(s.pids, id)
		return known || hasTasks, false
	}
	// HEARTBEAT and types this source does not follow.
	return false, false
}

func (s *state) addAgent(a mesos.OperatorAgent) bool {
	if a.AgentInfo.ID == nil || a.AgentInfo.ID.Value == "" {
		return false
	}
	s.agents[a.AgentInfo.ID.Value] = a.StateAgent()
	return true
}

func (s *state) addFramework(f mesos.OperatorFramework) bool {
	if f.FrameworkInfo.ID == nil || f.FrameworkInfo.ID.Value == "" {
		return false
	}
	s.frameworks[f.FrameworkInfo.ID.Value] = f.StateFramework()
	return true
}

func (s *state) addTask(t mesos.V1Task) bool {
	if t.TaskID.Value == "" || t.State.Terminal() {
		return false
	}
	st := t.StateTask()
	if len(st.Statuses) > maxStatuses {
		st.Statuses = st.Statuses[len(st.Statuses)-maxStatuses:]
	}
	ts := s.tasks[st.FrameworkID]
	if ts == nil {
		ts = map[string]mesos.StateTask{}
		s.tasks[st.FrameworkID] = ts
	}
	ts[st.ID] = st
	return true
}

// updateTask applies TASK_UPDATED: the task's state and latest status. A
// terminal task is forgotten (DNS names only live tasks).
func (s *state) updateTask(u *mesos.OperatorTaskUpdated) bool {
	taskID := u.Status.TaskID.Value
	if taskID == "" && u.TaskID != nil {
		taskID = u.TaskID.Value
	}
	fid := u.FrameworkID.Value
	ts := s.tasks[fid]
	t, ok := ts[taskID]
	if !ok {
		return false
	}
	to := u.State
	if to == "" {
		to = u.Status.State
	}
	if to.Terminal() {
		delete(ts, taskID)
		if len(ts) == 0 {
			delete(s.tasks, fid)
		}
		return true
	}
	st := u.Status.TaskStatus()
	st.TaskID = taskID
	if st.AgentID == "" {
		st.AgentID = t.SlaveID
	}
	// A status without addresses (a health change) keeps those reported
	// before, as the master does, so that the task keeps its IP records.
	n := len(t.Statuses)
	if st.ContainerStatus == nil && n > 0 {
		st.ContainerStatus = t.Statuses[n-1].ContainerStatus
	}
	keep := t.Statuses
	if n >= maxStatuses {
		keep = keep[n-maxStatuses+1:]
	}
	statuses := make([]mesos.TaskStatus, 0, len(keep)+1)
	t.Statuses = append(append(statuses, keep...), st)
	t.State = to
	ts[taskID] = t
	return true
}

// setHead takes the master fields and framework PIDs from /master/state.
func (s *state) setHead(ms mesos.MasterState) {
	s.head = ms
	s.head.Slaves, s.head.Frameworks, s.head.CompletedFrameworks, s.head.OrphanTasks = nil, nil, nil, nil
	s.pids = map[string]string{}
	for _, f := range ms.Frameworks {
		if f.PID != "" {
			s.pids[f.ID] = f.PID
		}
	}
}

// setLeaderAddr names the leader from the address it was reached at, for
// as long as /master/state has not said better. Only an IP address makes a
// PID that DNS can use; a host name is left for /master/state.
func (s *state) setLeaderAddr(hostport string) {
	if s.head.Leader != "" {
		return
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil || net.ParseIP(host) == nil {
		return
	}
	s.head.Leader = "master@" + hostport
	if s.head.PID == "" {
		s.head.PID = s.head.Leader
	}
}

// snapshot returns the state as /master/state: agents, frameworks and
// their tasks sorted by ID; tasks of frameworks the master does not list
// are orphan tasks.
func (s *state) snapshot() mesos.MasterState {
	ms := s.head
	if ms.Flags == nil {
		ms.Flags = map[string]string{}
	}
	ms.Slaves = make([]mesos.StateAgent, 0, len(s.agents))
	ms.ActivatedSlaves, ms.DeactivatedSlaves = 0, 0
	for _, a := range s.agents {
		ms.Slaves = append(ms.Slaves, a)
		if a.Active {
			ms.ActivatedSlaves++
		} else {
			ms.DeactivatedSlaves++
		}
	}
	sort.Slice(ms.Slaves, func(i, j int) bool { return ms.Slaves[i].ID < ms.Slaves[j].ID })
	ms.Frameworks = make([]mesos.StateFramework, 0, len(s.frameworks))
	for id, f := range s.frameworks {
		f.PID = s.pids[id]
		f.Tasks = sortedTasks(s.tasks[id])
		ms.Frameworks = append(ms.Frameworks, f)
	}
	sort.Slice(ms.Frameworks, func(i, j int) bool { return ms.Frameworks[i].ID < ms.Frameworks[j].ID })
	ms.CompletedFrameworks = []mesos.StateFramework{}
	ms.OrphanTasks = []mesos.StateTask{}
	for id, ts := range s.tasks {
		if _, ok := s.frameworks[id]; !ok {
			ms.OrphanTasks = append(ms.OrphanTasks, sortedTasks(ts)...)
		}
	}
	sort.Slice(ms.OrphanTasks, func(i, j int) bool {
		a, b := ms.OrphanTasks[i], ms.OrphanTasks[j]
		return a.FrameworkID < b.FrameworkID || a.FrameworkID == b.FrameworkID && a.ID < b.ID
	})
	return ms
}

func sortedTasks(ts map[string]mesos.StateTask) []mesos.StateTask {
	out := make([]mesos.StateTask, 0, len(ts))
	for _, t := range ts {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// leaderAddr returns the host:port of a PID such as "master@10.0.0.1:5050".
func leaderAddr(pid string) (string, bool) {
	_, addr, ok := strings.Cut(pid, "@")
	if !ok {
		return "", false
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", false
	}
	return addr, true
}
