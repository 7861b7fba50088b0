package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"corral/masterd/state"
	"corral/mesos"
)

// agent is a registered agent as the leader tracks it.
type agent struct {
	rec          state.Agent
	reregistered time.Time
	stream       *agentStream // nil while disconnected
	lastSeen     time.Time
	// recovered is set for agents loaded from the registry after an election
	// that have not re-registered yet; their tasks are unknown until they do.
	recovered bool
	tasks     map[taskKey]*task
}

type agentStream struct {
	id   string
	host string // the peer's IP: a live agent's ID is taken over only from there
	q    *queue[mesos.AgentEvent]
}

func (a *agent) active() bool { return a.stream != nil }

// send queues an event to the agent; false when it is disconnected.
func (a *agent) send(ev mesos.AgentEvent) bool {
	return a.stream != nil && a.stream.q.push(ev)
}

// maxCallBytes bounds an agent call; a re-registration lists every task.
const maxCallBytes = 32 << 20

// streamWriteTimeout cuts off an agent that stops reading its stream.
const streamWriteTimeout = 30 * time.Second

// ServeAgentAPI serves the agent protocol (see mesos.AgentAPIPath).
func (m *Master) ServeAgentAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "agent calls must be POSTed", http.StatusMethodNotAllowed)
		return
	}
	c, ok := m.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, fmt.Sprintf("agent call is over %d bytes", maxCallBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading agent call: "+err.Error(), http.StatusBadRequest)
		return
	}
	call, err := mesos.DecodeAgentCall(body)
	if errors.Is(err, mesos.ErrTooLarge) {
		http.Error(w, "invalid registration: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "malformed agent call: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch call.Type {
	case mesos.AgentCallSubscribe:
		// The stream outlives the request body; closing it now frees the
		// HTTP/2 receive buffer the body would otherwise pin.
		r.Body.Close()
		m.serveSubscribe(w, r, c, call.Subscribe)
	case mesos.AgentCallUpdate, mesos.AgentCallHeartbeat:
		if err := m.agentCall(r.Header.Get(mesos.StreamIDHeader), c, call); err != nil {
			m.refuse(w, r, call, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, fmt.Sprintf("unknown agent call type %q, must be SUBSCRIBE, UPDATE or HEARTBEAT", call.Type), http.StatusBadRequest)
	}
}

// refuse answers a call the master refused: 403 when the caller may not
// act as it claims (logged: it holds the secret or a certificate, yet is
// not who it says), 400 otherwise.
func (m *Master) refuse(w http.ResponseWriter, r *http.Request, call mesos.AgentCall, err error) {
	ae, ok := errors.AsType[*authError](err)
	if !ok {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m.log.Warn("agent call refused: not authorized", "reason", ae.msg, "remote", r.RemoteAddr,
		"call", call.Type, "claimed_agent", claimedID(call), "claimed_hostname", claimedHost(call))
	http.Error(w, "Forbidden: "+ae.msg, ae.code)
}

// validateSubscribe checks a registration before anything is recorded.
func validateSubscribe(s *mesos.AgentSubscribe) error {
	if s == nil {
		return errors.New("SUBSCRIBE call without a subscribe field")
	}
	if err := s.AgentInfo.Validate(); err != nil {
		return err
	}
	for i, t := range s.Tasks {
		switch {
		case t.Info.TaskID == "":
			return fmt.Errorf("tasks[%d].info.task_id is empty", i)
		case t.FrameworkID == "":
			return fmt.Errorf("tasks[%d].framework_id is empty", i)
		case t.State == "":
			return fmt.Errorf("tasks[%d].state is empty", i)
		}
	}
	return nil
}

// serveSubscribe registers or re-registers an agent and streams its events.
func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, c caller, sub *mesos.AgentSubscribe) {
	if err := validateSubscribe(sub); err != nil {
		http.Error(w, "invalid registration: "+err.Error(), http.StatusBadRequest)
		return
	}
	info := sub.AgentInfo
	if info.IP == "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			info.IP = host
		}
	}
	now := time.Now()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		http.Error(w, "master is stepping down", http.StatusServiceUnavailable)
		return
	}
	rec := state.Agent{Info: info, RegisteredTime: now}
	if info.ID == "" {
		m.nextAgent++
		info.ID = m.cfg.ID + "-S" + strconv.Itoa(m.nextAgent)
		rec.Info.ID = info.ID
	} else if old := m.agents[info.ID]; old != nil {
		if err := m.authorizeSubscribe(c, old, info); err != nil {
			m.mu.Unlock()
			m.refuse(w, r, mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: sub}, err)
			return
		}
		rec.RegisteredTime, rec.Identity = old.rec.RegisteredTime, old.rec.Identity
	} else {
		// The registry holds every agent ID a master ever issued: an agent
		// naming another chose it itself, and might take a live agent's.
		m.mu.Unlock()
		http.Error(w, fmt.Sprintf("invalid registration: agent ID %q was never issued by a master of this cluster; register without an ID (remove the agent's work directory)", info.ID), http.StatusBadRequest)
		return
	}
	if rec.Identity == "" {
		rec.Identity = c.identity // bound from now on, across failovers
	}
	m.mu.Unlock()

	// The registry learns of the agent before it is admitted, as in Mesos, so
	// a new leader always expects it back.
	if err := m.store.Agents().Put(r.Context(), info.ID, rec); err != nil {
		http.Error(w, "registering agent: "+err.Error(), http.StatusServiceUnavailable)
		return
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		http.Error(w, "master is stepping down", http.StatusServiceUnavailable)
		return
	}
	if old := m.agents[info.ID]; old != nil {
		// Another subscription of this ID may have won the race meanwhile.
		if err := m.authorizeSubscribe(c, old, info); err != nil {
			m.mu.Unlock()
			m.refuse(w, r, mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: sub}, err)
			return
		}
	}
	m.nextStream++
	// The stream ID authorizes the agent's calls: only the agent learns it,
	// and it cannot be guessed from the master ID and a counter.
	stream := &agentStream{
		id:   fmt.Sprintf("%s-A%d-%s", m.cfg.ID, m.nextStream, mesos.NewUUID()),
		host: c.host,
		q:    newQueue[mesos.AgentEvent](),
	}
	stream.q.push(mesos.AgentEvent{Type: mesos.AgentEventSubscribed, Subscribed: &mesos.AgentSubscribed{
		AgentID: info.ID, MasterID: m.cfg.ID, HeartbeatIntervalSeconds: m.cfg.AgentPingTimeout.Seconds(),
	}})
	m.admit(rec, stream, sub.Tasks, now)
	m.mu.Unlock()

	m.streamAgent(w, r, info.ID, stream)
}

// admit installs a (re-)registered agent with its stream and reconciles the
// tasks it reports with what the master knows. Caller holds m.mu.
func (m *Master) admit(rec state.Agent, stream *agentStream, reported []mesos.Task, now time.Time) {
	id := rec.Info.ID
	a := m.agents[id]
	known := a != nil && !a.recovered && a.rec.Unreachable.IsZero()
	if a == nil {
		a = &agent{tasks: map[taskKey]*task{}}
		m.agents[id] = a
		m.log.Info("agent registered", "agent", id, "hostname", rec.Info.Hostname)
	} else {
		a.reregistered = now
		m.log.Info("agent re-registered", "agent", id, "hostname", rec.Info.Hostname, "was_unreachable", !a.rec.Unreachable.IsZero())
	}
	if a.stream != nil {
		// A new connection replaces the old one: never two agents.
		a.stream.q.close()
	}
	wasUnreachable := !a.rec.Unreachable.IsZero()
	a.rec, a.stream, a.lastSeen, a.recovered = rec, stream, now, false
	m.opAgentAdded(id, a)
	if wasUnreachable {
		// The write that recorded the agent unreachable may still be queued
		// and land after serveSubscribe's direct one; a next leader would
		// then kill the agent's tasks. Writing again through the queue
		// orders this record last.
		m.persist(func(ctx context.Context) error { return m.store.Agents().Put(ctx, id, rec) })
	}

	seen := map[taskKey]bool{}
	for _, rt := range reported {
		k := taskKey{rt.FrameworkID, rt.Info.TaskID}
		seen[k] = true
		if t := a.tasks[k]; t != nil {
			if rt.State != t.state && len(rt.Statuses) > 0 {
				t.state = rt.State
				m.opTaskUpdated(t)
			}
			continue
		}
		if known || wasUnreachable || rt.State.Terminal() {
			// The master had a full view of this agent and dropped the task
			// (it was reported lost): the agent must not keep running it.
			if !rt.State.Terminal() {
				a.send(mesos.AgentEvent{Type: mesos.AgentEventKill, Kill: &mesos.AgentKill{FrameworkID: rt.FrameworkID, TaskID: rt.Info.TaskID}})
			}
			continue
		}
		// After a failover the agent is the source of truth for its tasks.
		t := m.adoptTask(a, rt)
		// The framework learns of the task (and its health, which the agent
		// sends only when it changes) now rather than at its next
		// reconciliation: this is the answer that reconciliation held back
		// while the agent had not re-registered.
		if f := m.frameworks[rt.FrameworkID]; f != nil {
			st := latest(t)
			st.Reason, st.Source, st.Timestamp = mesos.ReasonReconciliation, mesos.SourceMaster, since(now)
			f.send(mesos.Event{Type: mesos.EventTypeUpdate, Update: &st})
		}
	}
	for k, t := range a.tasks {
		if seen[k] {
			continue
		}
		// A launch that never reached the agent, or a task it no longer has.
		st := mesos.TaskDropped
		msg := "task launch did not reach the agent before it re-registered"
		if t.state != mesos.TaskStaging {
			st, msg = mesos.TaskLost, "agent re-registered without this task"
		}
		m.endTask(a, t, masterStatus(t, id, st, mesos.ReasonTaskUnknown, msg, now))
	}
	// Rebuild the allocator's view of the agent from its tasks.
	m.rescind(m.alloc.RemoveAgent(id))
	m.alloc.AddAgent(id, rec.Info.Resources)
	for _, t := range a.tasks {
		m.alloc.Allocated(t.frameworkID, id, t.info.Resources)
		if t.killRequested {
			a.send(killEvent(t))
		}
	}
	m.allocateSoon()
}

// streamAgent writes the agent's events until the stream is replaced, the
// master stops, or the agent goes away.
func (m *Master) streamAgent(w http.ResponseWriter, r *http.Request, agentID string, s *agentStream) {
	defer m.streamClosed(agentID, s)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", mesos.RecordIOContentType)
	w.Header().Set(mesos.StreamIDHeader, s.id)
	w.WriteHeader(http.StatusOK)
	rw := mesos.NewRecordWriter(w)
	hb := time.NewTicker(m.cfg.AgentPingTimeout)
	defer hb.Stop()
	write := func(evs ...mesos.AgentEvent) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		for _, ev := range evs {
			if err := rw.Write(ev); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.q.ready:
			evs, done := s.q.drain()
			if !write(evs...) || done {
				return
			}
		case <-hb.C:
			if !write(mesos.AgentEvent{Type: mesos.AgentEventHeartbeat}) {
				return
			}
		}
	}
}

// streamClosed marks the agent disconnected if s is still its stream: its
// offers are rescinded and it gets none until it re-registers.
func (m *Master) streamClosed(agentID string, s *agentStream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.q.close()
	a := m.agents[agentID]
	if a == nil || a.stream != s {
		return
	}
	a.stream = nil
	m.rescind(m.alloc.DeactivateAgent(agentID))
	m.log.Info("agent disconnected", "agent", agentID)
}

// agentCall handles UPDATE and HEARTBEAT on the agent's current stream.
func (m *Master) agentCall(streamID string, c caller, call mesos.AgentCall) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agents[call.AgentID]
	if a == nil {
		return fmt.Errorf("unknown agent %q, subscribe first", call.AgentID)
	}
	if err := m.authorizeCall(c, call.AgentID, a); err != nil {
		return err
	}
	if a.stream == nil || a.stream.id != streamID {
		return fmt.Errorf("%s header %q is not agent %q's current stream, subscribe again", mesos.StreamIDHeader, streamID, call.AgentID)
	}
	a.lastSeen = time.Now()
	if call.Type == mesos.AgentCallHeartbeat {
		return nil
	}
	if call.Update == nil || call.Update.Status.TaskID == "" || call.Update.FrameworkID == "" || call.Update.Status.State == "" {
		return errors.New("UPDATE call needs update.framework_id, update.status.task_id and update.status.state")
	}
	if err := m.authorizeUpdate(call.AgentID, a, call.Update); err != nil {
		return err
	}
	m.statusFromAgent(call.AgentID, a, call.Update.FrameworkID, call.Update.Status)
	return nil
}

// markUnreachable removes an agent that went silent: its offers are
// rescinded, its tasks reported lost, and frameworks told. Caller holds m.mu.
func (m *Master) markUnreachable(id string, a *agent, now time.Time, why string) {
	m.log.Warn("agent unreachable", "agent", id, "reason", why)
	for _, t := range a.tasks {
		m.endTask(a, t, masterStatus(t, id, mesos.TaskLost, mesos.ReasonAgentRemoved, why, now))
	}
	m.rescind(m.alloc.RemoveAgent(id))
	if a.stream != nil {
		a.stream.q.close()
		a.stream = nil
	}
	a.rec.Unreachable = now
	a.recovered = false
	m.opAgentRemoved(id)
	for _, f := range m.frameworks {
		f.send(mesos.Event{Type: mesos.EventTypeFailure, Failure: &mesos.EventFailure{AgentID: id}})
	}
	rec := a.rec
	m.persist(func(ctx context.Context) error { return m.store.Agents().Put(ctx, id, rec) })
}

// AgentSecret returns the agents' shared secret, "" when the agents do not
// authenticate with one.
func (m *Master) AgentSecret() string { return m.cfg.AgentSecret }

// AgentAddr returns the HTTP address an agent registered with (host:port,
// "" if it serves none), whether it is connected, and false if this
// master does not know it.
func (m *Master) AgentAddr(id string) (addr string, active, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agents[id]
	if a == nil {
		return "", false, false
	}
	info := a.rec.Info
	if info.Port == 0 {
		return "", a.active(), true
	}
	host := info.IP
	if host == "" {
		host = info.Hostname
	}
	return net.JoinHostPort(host, strconv.Itoa(info.Port)), a.active(), true
}
