package master

import (
	"net"
	"sort"
	"strconv"

	"corral/mesos"
)

// The operator API's view of the master (Mesos's v1 master.proto): the
// whole state for GET_STATE and SUBSCRIBED, and the events that follow it.
// Events are built under m.mu where the change happens, so a subscriber's
// snapshot and its events never overlap or leave a gap.

// operatorBuffer bounds the events queued for one operator subscriber. A
// subscriber that falls this far behind is dropped (its channel closed)
// rather than slowing the master; it subscribes again and gets a new
// snapshot.
const operatorBuffer = 4096

// operatorSub is one SUBSCRIBE stream's queue.
type operatorSub struct {
	ch chan mesos.OperatorEvent
}

// SubscribeOperator returns the cluster state and a channel of the events
// that follow it, for the operator API's SUBSCRIBE. The channel is closed
// when the master stops leading, when the subscriber falls operatorBuffer
// events behind, or once cancel is called; cancel may be called more than
// once.
func (m *Master) SubscribeOperator() (state mesos.GetState, events <-chan mesos.OperatorEvent, cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &operatorSub{ch: make(chan mesos.OperatorEvent, operatorBuffer)}
	if m.closed {
		close(s.ch)
		return m.operatorState(), s.ch, func() {}
	}
	if m.opSubs == nil {
		m.opSubs = map[*operatorSub]struct{}{}
	}
	m.opSubs[s] = struct{}{}
	return m.operatorState(), s.ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.dropOperatorSub(s)
	}
}

// OperatorState returns the cluster state as GET_STATE answers it.
func (m *Master) OperatorState() mesos.GetState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.operatorState()
}

// dropOperatorSub ends one subscription. Caller holds m.mu.
func (m *Master) dropOperatorSub(s *operatorSub) {
	if _, ok := m.opSubs[s]; ok {
		delete(m.opSubs, s)
		close(s.ch)
	}
}

// closeOperatorSubs ends every subscription. Caller holds m.mu.
func (m *Master) closeOperatorSubs() {
	for s := range m.opSubs {
		m.dropOperatorSub(s)
	}
}

// publish queues ev to every subscriber without blocking. Caller holds m.mu.
func (m *Master) publish(ev mesos.OperatorEvent) {
	for s := range m.opSubs {
		select {
		case s.ch <- ev:
		default:
			m.log.Warn("operator subscriber dropped: it fell behind", "buffered_events", operatorBuffer)
			m.dropOperatorSub(s)
		}
	}
}

// The op* hooks publish one change; they cost nothing without subscribers.
// Callers hold m.mu.

func (m *Master) opTaskAdded(t *task) {
	if len(m.opSubs) == 0 {
		return
	}
	v := v1Task(t)
	m.publish(mesos.OperatorEvent{Type: mesos.OperatorEventTaskAdded, TaskAdded: &mesos.OperatorTaskAdded{Task: v}})
}

func (m *Master) opTaskUpdated(t *task) {
	if len(m.opSubs) == 0 {
		return
	}
	m.publish(mesos.OperatorEvent{Type: mesos.OperatorEventTaskUpdated, TaskUpdated: &mesos.OperatorTaskUpdated{
		FrameworkID: mesos.V1ID{Value: t.frameworkID}, Status: mesos.NewV1TaskStatus(latest(t)), State: t.state,
	}})
}

func (m *Master) opAgentAdded(id string, a *agent) {
	if len(m.opSubs) == 0 {
		return
	}
	v := m.operatorAgent(id, a, mesos.Resources{})
	m.publish(mesos.OperatorEvent{Type: mesos.OperatorEventAgentAdded, AgentAdded: &mesos.OperatorAgentAdded{Agent: v}})
}

func (m *Master) opAgentRemoved(id string) {
	if len(m.opSubs) == 0 {
		return
	}
	m.publish(mesos.OperatorEvent{Type: mesos.OperatorEventAgentRemoved, AgentRemoved: &mesos.OperatorAgentRemoved{AgentID: mesos.V1ID{Value: id}}})
}

// opFramework publishes FRAMEWORK_ADDED (added) or FRAMEWORK_UPDATED.
func (m *Master) opFramework(f *framework, added bool) {
	if len(m.opSubs) == 0 {
		return
	}
	ev := mesos.OperatorEvent{Type: mesos.OperatorEventFrameworkUpdated}
	body := &mesos.OperatorFrameworkEvent{Framework: m.operatorFramework(f, mesos.Resources{})}
	if added {
		ev.Type, ev.FrameworkAdded = mesos.OperatorEventFrameworkAdded, body
	} else {
		ev.FrameworkUpdated = body
	}
	m.publish(ev)
}

func (m *Master) opFrameworkRemoved(info mesos.FrameworkInfo) {
	if len(m.opSubs) == 0 {
		return
	}
	m.publish(mesos.OperatorEvent{Type: mesos.OperatorEventFrameworkRemoved, FrameworkRemoved: &mesos.OperatorFrameworkRemove{
		FrameworkInfo: mesos.NewV1FrameworkInfo(info),
	}})
}

// taskView is what a TASK_UPDATED reports, to skip updates that change
// none of it (an agent's retried update, say).
type taskView struct {
	state     mesos.TaskState
	health    int // 0 unknown, 1 healthy, 2 unhealthy
	addresses bool
}

func viewOf(t *task) taskView {
	v := taskView{state: t.state}
	if n := len(t.statuses); n > 0 {
		st := t.statuses[n-1]
		if st.Healthy != nil {
			v.health = 2
			if *st.Healthy {
				v.health = 1
			}
		}
		v.addresses = st.ContainerStatus != nil
	}
	return v
}

func v1Task(t *task) mesos.V1Task {
	return mesos.NewV1Task(t.info, t.frameworkID, t.state, t.statuses)
}

// operatorState renders the cluster as Response.GetState. Caller holds m.mu.
func (m *Master) operatorState() mesos.GetState {
	s := mesos.GetState{
		GetTasks:      mesos.GetTasks{Tasks: []mesos.V1Task{}},
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.OperatorFramework{}},
		GetAgents:     mesos.GetAgents{Agents: []mesos.OperatorAgent{}},
	}
	offered := map[string]mesos.Resources{}   // by agent
	fwOffered := map[string]mesos.Resources{} // by framework
	for fid := range m.frameworks {
		for _, o := range m.alloc.Offers(fid) {
			offered[o.AgentID] = offered[o.AgentID].Add(o.Resources)
			fwOffered[fid] = fwOffered[fid].Add(o.Resources)
		}
	}
	for id, a := range m.agents {
		if a.rec.Unreachable.IsZero() {
			s.GetAgents.Agents = append(s.GetAgents.Agents, m.operatorAgent(id, a, offered[id]))
		}
	}
	sort.Slice(s.GetAgents.Agents, func(i, j int) bool {
		return s.GetAgents.Agents[i].AgentInfo.ID.Value < s.GetAgents.Agents[j].AgentInfo.ID.Value
	})
	for _, f := range m.frameworks {
		s.GetFrameworks.Frameworks = append(s.GetFrameworks.Frameworks, m.operatorFramework(f, fwOffered[f.rec.Info.ID]))
		for _, t := range f.tasks {
			s.GetTasks.Tasks = append(s.GetTasks.Tasks, v1Task(t))
		}
		for _, t := range f.completed {
			s.GetTasks.CompletedTasks = append(s.GetTasks.CompletedTasks, v1Task(t))
		}
	}
	sort.Slice(s.GetFrameworks.Frameworks, func(i, j int) bool {
		return s.GetFrameworks.Frameworks[i].FrameworkInfo.ID.Value < s.GetFrameworks.Frameworks[j].FrameworkInfo.ID.Value
	})
	byID := func(ts []mesos.V1Task) func(i, j int) bool {
		return func(i, j int) bool {
			if ts[i].FrameworkID != ts[j].FrameworkID {
				return ts[i].FrameworkID.Value < ts[j].FrameworkID.Value
			}
			return ts[i].TaskID.Value < ts[j].TaskID.Value
		}
	}
	sort.Slice(s.GetTasks.Tasks, byID(s.GetTasks.Tasks))
	return s
}

// operatorAgent renders an agent as Response.GetAgents.Agent. Caller holds m.mu.
func (m *Master) operatorAgent(id string, a *agent, offered mesos.Resources) mesos.OperatorAgent {
	var used mesos.Resources
	for _, t := range a.tasks {
		used = used.Add(t.info.Resources)
	}
	info := a.rec.Info
	total := mesos.NewV1Resources(info.Resources)
	return mesos.OperatorAgent{
		AgentInfo: mesos.V1AgentInfo{
			Hostname: info.Hostname, Port: info.Port, Resources: total,
			Attributes: mesos.NewV1Attributes(info.Attributes), ID: &mesos.V1ID{Value: id},
		},
		Active:             a.active(),
		Version:            info.Version,
		PID:                "slave(1)@" + net.JoinHostPort(info.IP, strconv.Itoa(info.Port)),
		RegisteredTime:     mesos.NewTimeInfo(a.rec.RegisteredTime),
		ReregisteredTime:   mesos.NewTimeInfo(a.reregistered),
		TotalResources:     total,
		AllocatedResources: mesos.NewV1Resources(used),
		OfferedResources:   mesos.NewV1Resources(offered),
	}
}

// operatorFramework renders a framework as Response.GetFrameworks.Framework.
// Caller holds m.mu.
func (m *Master) operatorFramework(f *framework, offered mesos.Resources) mesos.OperatorFramework {
	var used mesos.Resources
	for _, t := range f.tasks {
		used = used.Add(t.info.Resources)
	}
	return mesos.OperatorFramework{
		FrameworkInfo:      mesos.NewV1FrameworkInfo(f.rec.Info),
		Active:             f.events != nil,
		Connected:          f.events != nil,
		Recovered:          f.recovered,
		RegisteredTime:     mesos.NewTimeInfo(f.rec.RegisteredTime),
		AllocatedResources: mesos.NewV1Resources(used),
		OfferedResources:   mesos.NewV1Resources(offered),
	}
}

// Version returns the Mesos version the master reports.
func (m *Master) Version() string { return m.cfg.Version }
