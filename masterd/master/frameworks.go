package master

import (
	"context"
	"errors"
	"fmt"
	"time"

	"corral/masterd/state"
	"corral/mesos"
)

// framework is a subscribed (or recovered) framework.
type framework struct {
	rec       state.Framework
	events    *queue[mesos.Event] // nil while disconnected
	tasks     map[string]*task    // live tasks by task ID
	completed []*task             // most recent last, bounded
	recovered bool                // loaded from the registry, not re-subscribed yet
	// disconnected is when the framework's event stream ended (or the master
	// recovered it); zero while subscribed. See Config and failover timeouts.
	disconnected time.Time
}

// maxCompletedTasks bounds the completed tasks kept per framework, as
// Mesos's --max_completed_tasks_per_framework does.
const maxCompletedTasks = 1000

func newFramework(rec state.Framework, now time.Time) *framework {
	return &framework{rec: rec, tasks: map[string]*task{}, disconnected: now}
}

func frameworkRecord(id string) state.Framework {
	return state.Framework{Info: mesos.FrameworkInfo{ID: id, Role: "*"}}
}

func (f *framework) send(ev mesos.Event) bool { return f.events != nil && f.events.push(ev) }

func (f *framework) complete(t *task) {
	f.completed = append(f.completed, t)
	if len(f.completed) > maxCompletedTasks {
		f.completed = append(f.completed[:0], f.completed[len(f.completed)-maxCompletedTasks:]...)
	}
}

// Subscribe registers a framework, or re-registers it when info.ID names a
// framework the master knows (after a framework restart or a master
// failover), and returns its events, SUBSCRIBED first. The channel is closed
// when ctx ends, another subscription of the same framework replaces this
// one, or the master stops leading.
func (m *Master) Subscribe(ctx context.Context, info mesos.FrameworkInfo) (<-chan mesos.Event, error) {
	if info.Name == "" {
		return nil, errors.New("framework_info.name is empty")
	}
	if info.Role == "" {
		info.Role = "*"
	}
	if w, ok := m.cfg.Offers.Weights[info.Role]; ok && w <= 0 {
		return nil, fmt.Errorf("role %q has weight %v and cannot be offered resources", info.Role, w)
	}
	m.mu.Lock()
	if info.ID == "" {
		m.nextFramework++
		info.ID = fmt.Sprintf("%s-%04d", m.cfg.ID, m.nextFramework)
	}
	rec := state.Framework{Info: info, RegisteredTime: time.Now()}
	if f := m.frameworks[info.ID]; f != nil && !f.rec.RegisteredTime.IsZero() {
		rec.RegisteredTime = f.rec.RegisteredTime
	}
	m.mu.Unlock()
	if err := m.store.Frameworks().Put(ctx, info.ID, rec); err != nil {
		return nil, fmt.Errorf("registering framework: %w", err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("master is stepping down")
	}
	f := m.frameworks[info.ID]
	added := false
	if f == nil {
		f = newFramework(rec, time.Time{})
		m.frameworks[info.ID] = f
		m.alloc.AddFramework(info.ID, info.Role)
		m.log.Info("framework registered", "framework", info.ID, "name", info.Name)
		added = true
		m.allocateSoon()
	} else {
		if f.events != nil {
			f.events.close() // failover: the new subscription wins
		}
		f.rec, f.recovered, f.disconnected = rec, false, time.Time{}
		// Offers are rescinded and made again at every (re-)subscription:
		// the new scheduler instance does not know the old one's offers.
		m.returnOffers(info.ID, time.Now())
		m.alloc.Revive(info.ID)
		m.allocateSoon()
		m.log.Info("framework re-registered", "framework", info.ID, "name", info.Name)
	}
	q := newQueue[mesos.Event]()
	f.events = q
	m.opFramework(f, added)
	q.push(mesos.Event{Type: mesos.EventTypeSubscribed, Subscribed: &mesos.EventSubscribed{
		FrameworkID: info.ID, MasterID: m.cfg.ID, HeartbeatIntervalSeconds: m.cfg.AgentPingTimeout.Seconds(),
	}})
	ch := make(chan mesos.Event, 64)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(ch)
		defer m.frameworkGone(info.ID, q)
		for {
			// A master that stops leading drops what the framework has not
			// read: it must not wait on a slow reader, and the framework
			// reconciles with the next leader anyway.
			select {
			case <-ctx.Done():
				return
			case <-m.stopped:
				return
			case <-q.ready:
			}
			evs, done := q.drain()
			for _, ev := range evs {
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				case <-m.stopped:
					return
				}
			}
			if done {
				return
			}
		}
	}()
	return ch, nil
}

// frameworkGone deactivates a framework whose event stream ended: its
// outstanding offers return to the pool and it gets no new ones until it
// subscribes again. Its tasks keep running.
func (m *Master) frameworkGone(id string, q *queue[mesos.Event]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q.close()
	f := m.frameworks[id]
	if f == nil || f.events != q {
		return
	}
	f.events, f.disconnected = nil, time.Now()
	m.alloc.Suppress(id)
	m.returnOffers(id, time.Now())
	m.opFramework(f, false)
	m.log.Info("framework disconnected", "framework", id)
}

// returnOffers gives a framework's outstanding offers back to the pool,
// with no filter. Caller holds m.mu.
func (m *Master) returnOffers(id string, now time.Time) {
	var ids []string
	for _, o := range m.alloc.Offers(id) {
		ids = append(ids, o.ID)
	}
	if len(ids) > 0 {
		_ = m.alloc.Decline(id, ids, 0, now)
		m.allocateSoon() // to the other frameworks
	}
}

// Call executes a framework's call. Errors describe calls the master
// rejects as a whole; per-task problems arrive as status updates.
func (m *Master) Call(ctx context.Context, call mesos.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.frameworks[call.FrameworkID]
	if f == nil || f.events == nil {
		return fmt.Errorf("framework %q is not subscribed", call.FrameworkID)
	}
	now := time.Now()
	switch call.Type {
	case mesos.CallAccept:
		if call.Accept == nil {
			return errors.New("ACCEPT call without accept")
		}
		return m.accept(f, call.Accept, now)
	case mesos.CallDecline:
		if call.Decline == nil {
			return errors.New("DECLINE call without decline")
		}
		d := refuse(call.Decline.Filters)
		if err := m.alloc.Decline(call.FrameworkID, call.Decline.OfferIDs, d, now); err != nil {
			return err
		}
		m.counts.declined += uint64(len(call.Decline.OfferIDs))
		// Resources declined behind a filter may go to other frameworks
		// at once. Declined without one, they would come straight back to
		// the framework that declined them, which would decline them again
		// as fast as the two could talk: those wait for the next tick.
		if d != 0 {
			m.allocateSoon()
		}
	case mesos.CallSuppress:
		m.alloc.Suppress(call.FrameworkID)
	case mesos.CallRevive:
		m.alloc.Revive(call.FrameworkID)
		m.allocateSoon()
	case mesos.CallKill:
		if call.Kill == nil || call.Kill.TaskID == "" {
			return errors.New("KILL call needs kill.task_id")
		}
		m.kill(f, call.Kill, now)
	case mesos.CallAcknowledge:
		a := call.Acknowledge
		if a == nil || a.AgentID == "" || a.TaskID == "" || a.UUID == "" {
			return errors.New("ACKNOWLEDGE call needs acknowledge.agent_id, task_id and uuid")
		}
		if ag := m.agents[a.AgentID]; ag != nil {
			ag.send(mesos.AgentEvent{Type: mesos.AgentEventAcknowledge, Acknowledge: &mesos.AgentAcknowledge{FrameworkID: call.FrameworkID, TaskID: a.TaskID, UUID: a.UUID}})
		}
	case mesos.CallReconcile:
		var tasks []mesos.ReconcileTask
		if call.Reconcile != nil {
			tasks = call.Reconcile.Tasks
		}
		m.reconcile(f, tasks, now)
	case mesos.CallTeardown:
		m.teardown(f, now)
	default:
		return fmt.Errorf("unknown call type %q", call.Type)
	}
	return nil
}

// refuse converts Filters to the allocator's filter duration; -1 means the
// configured default.
func refuse(f *mesos.Filters) time.Duration {
	if f == nil {
		return -1
	}
	return time.Duration(f.RefuseSeconds * float64(time.Second))
}

// accept launches tasks on accepted offers. Caller holds m.mu.
func (m *Master) accept(f *framework, acc *mesos.CallAcceptArgs, now time.Time) error {
	fid := f.rec.Info.ID
	outstanding := map[string]mesos.Offer{}
	for _, o := range m.alloc.Offers(fid) {
		outstanding[o.ID] = mesos.Offer{ID: o.ID, AgentID: o.AgentID, Resources: o.Resources}
	}
	var offered mesos.Resources
	agentID, invalid := "", ""
	listed := map[string]bool{}
	for _, id := range acc.OfferIDs {
		o, ok := outstanding[id]
		switch {
		case !ok:
			invalid = fmt.Sprintf("offer %s is no longer valid", id)
		case listed[id]:
			// Counted twice, its resources would launch twice what it holds.
			invalid = fmt.Sprintf("offer %s is listed more than once", id)
			continue
		case agentID != "" && o.AgentID != agentID:
			invalid = "accepted offers span more than one agent"
		}
		listed[id] = true
		agentID = o.AgentID
		offered = offered.Add(o.Resources)
	}
	if len(acc.OfferIDs) == 0 {
		invalid = "no offer ids"
	}
	a := m.agents[agentID]
	if invalid == "" && (a == nil || !a.active()) {
		invalid = fmt.Sprintf("agent %s is not connected", agentID)
	}
	var launches []mesos.TaskInfo
	for _, op := range acc.Operations {
		if op.Type != "LAUNCH" || op.Launch == nil {
			return fmt.Errorf("operation %q is not supported, only LAUNCH", op.Type)
		}
		launches = append(launches, op.Launch.TaskInfos...)
	}
	if invalid != "" {
		for _, ti := range launches {
			t := &task{info: ti, frameworkID: fid}
			f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: ptr(masterStatus(t, agentID, mesos.TaskDropped, mesos.ReasonInvalidOffers, invalid, now))})
			m.ended(mesos.TaskDropped)
		}
		var valid []string
		for _, id := range acc.OfferIDs {
			if _, ok := outstanding[id]; ok {
				valid = append(valid, id)
			}
		}
		return m.alloc.Decline(fid, valid, refuse(acc.Filters), now)
	}
	left := offered
	var used mesos.Resources
	for _, ti := range launches {
		if ti.AgentID == "" {
			ti.AgentID = agentID
		}
		t := &task{info: ti, frameworkID: fid}
		if why := m.invalidTask(f, ti, agentID, left); why != "" {
			f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: ptr(masterStatus(t, agentID, mesos.TaskError, mesos.ReasonTaskInvalid, why, now))})
			m.ended(mesos.TaskError)
			continue
		}
		left, used = left.Sub(ti.Resources), used.Add(ti.Resources)
		t.record(mesos.TaskStatus{TaskID: ti.TaskID, AgentID: agentID, State: mesos.TaskStaging, Source: mesos.SourceMaster, Timestamp: since(now)})
		a.tasks[taskKey{fid, ti.TaskID}] = t
		f.tasks[ti.TaskID] = t
		m.opTaskAdded(t)
		a.send(mesos.AgentEvent{Type: mesos.AgentEventLaunch, Launch: &mesos.AgentLaunch{FrameworkID: fid, Task: ti}})
	}
	// Split what was used over the accepted offers; the rest of each offer
	// returns to the pool behind the framework's filter.
	launched, rest := !used.IsEmpty(), false
	for _, id := range acc.OfferIDs {
		o := outstanding[id]
		take := o.Resources.Intersect(used)
		used = used.Sub(take)
		rest = rest || !o.Resources.Sub(take).IsEmpty()
		if _, err := m.alloc.Accept(fid, id, take, refuse(acc.Filters), now); err != nil {
			m.log.Error("accepting offer", "offer", id, "err", err)
		}
	}
	// What the launches left of the offers is offered again now: the
	// framework may have more to launch than one offer held. An ACCEPT
	// that launched nothing is a DECLINE (see there).
	if rest && (launched || refuse(acc.Filters) != 0) {
		m.allocateSoon()
	}
	return nil
}

// invalidTask says why a task cannot launch, or "" when it can.
func (m *Master) invalidTask(f *framework, ti mesos.TaskInfo, agentID string, left mesos.Resources) string {
	switch {
	case ti.TaskID == "":
		return "task_id is empty"
	case f.tasks[ti.TaskID] != nil:
		return fmt.Sprintf("task %s is already running", ti.TaskID)
	case ti.AgentID != agentID:
		return fmt.Sprintf("task agent_id %s does not match the offer's agent %s", ti.AgentID, agentID)
	case ti.Resources.IsEmpty():
		return "task uses no resources"
	case !left.Contains(ti.Resources):
		return fmt.Sprintf("task needs %s but the offers have %s left", ti.Resources, left)
	case ti.Command == nil && ti.Container == nil:
		return "task has neither a command nor a container"
	}
	return ""
}

// kill asks the task's agent to kill it, now or when it reconnects. A
// task the master does not know is reconciled instead, as in Mesos: after
// a failover its agent may still re-register with it, and a TASK_LOST now
// would have the framework replace a task that is running.
// Caller holds m.mu.
func (m *Master) kill(f *framework, k *mesos.CallKillArgs, now time.Time) {
	t := f.tasks[k.TaskID]
	if t == nil {
		m.reconcile(f, []mesos.ReconcileTask{{TaskID: k.TaskID, AgentID: k.AgentID}}, now)
		return
	}
	if k.KillPolicy != nil {
		t.info.KillPolicy = k.KillPolicy
	}
	t.killRequested = true
	if a := m.agents[t.info.AgentID]; a != nil {
		a.send(killEvent(t))
	}
}

// reconcile answers with the latest state of the given tasks, or of all
// live tasks when none are given, as in Mesos's reconciliation.
// Caller holds m.mu.
func (m *Master) reconcile(f *framework, tasks []mesos.ReconcileTask, now time.Time) {
	reply := func(st mesos.TaskStatus) {
		st.Reason, st.Source, st.Timestamp, st.UUID = mesos.ReasonReconciliation, mesos.SourceMaster, since(now), ""
		f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: &st})
	}
	if len(tasks) == 0 {
		for _, t := range f.tasks {
			reply(latest(t))
		}
		return
	}
	for _, rt := range tasks {
		if t := f.tasks[rt.TaskID]; t != nil {
			reply(latest(t))
			continue
		}
		a := m.agents[rt.AgentID]
		if a != nil && a.recovered {
			continue // the agent may still re-register with it: no answer yet
		}
		if rt.AgentID == "" && m.anyRecovered() {
			continue
		}
		reply(mesos.TaskStatus{TaskID: rt.TaskID, AgentID: rt.AgentID, State: mesos.TaskLost,
			Message: "task is unknown to the master"})
	}
}

func (m *Master) anyRecovered() bool {
	for _, a := range m.agents {
		if a.recovered {
			return true
		}
	}
	return false
}

// latest is the task's last status as reconciliation reports it. The
// agent and task IDs come from the task: statuses an agent reported at
// re-registration need not carry them.
func latest(t *task) mesos.TaskStatus {
	var st mesos.TaskStatus
	if n := len(t.statuses); n > 0 {
		st = t.statuses[n-1]
	}
	st.TaskID, st.AgentID, st.State = t.info.TaskID, t.info.AgentID, t.state
	return st
}

// teardown removes a framework: its tasks are killed and forgotten.
// Caller holds m.mu.
func (m *Master) teardown(f *framework, now time.Time) {
	id := f.rec.Info.ID
	for _, t := range f.tasks {
		a := m.agents[t.info.AgentID]
		if a != nil {
			a.send(killEvent(t))
		}
		m.finishTask(a, t, masterStatus(t, t.info.AgentID, mesos.TaskKilled, "", "framework torn down", now))
	}
	m.alloc.RemoveFramework(id)
	m.allocateSoon()
	if f.events != nil {
		f.events.close()
		f.events = nil
	}
	delete(m.frameworks, id)
	m.persist(func(ctx context.Context) error { return m.store.Frameworks().Delete(ctx, id) })
	m.opFrameworkRemoved(f.rec.Info)
	m.log.Info("framework torn down", "framework", id)
}

func ptr[T any](v T) *T { return &v }
