package master

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/mesos"
)

func launch(t *testing.T, m *Master, f *testFramework, o mesos.Offer, taskID, resources string, refuse float64) {
	t.Helper()
	err := m.Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
		OfferIDs: []string{o.ID},
		Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: []mesos.TaskInfo{{
			Name: taskID, TaskID: taskID, AgentID: o.AgentID, Resources: mesos.MustParseResources(resources),
			Command: &mesos.CommandInfo{Value: "sleep 1000"},
		}}}}},
		Filters: &mesos.Filters{RefuseSeconds: refuse},
	}})
	if err != nil {
		t.Fatalf("ACCEPT %s: %v", o.ID, err)
	}
}

func TestLaunchUpdateAcknowledge(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:4;mem:1024;disk:100;ports:[31000-31010]")
	f := c.subscribe(mesos.FrameworkInfo{Name: "marathon"})
	agentID := a.link.AgentID()
	if !strings.HasPrefix(agentID, "m1-S") {
		t.Fatalf("agent ID = %q, want m1-S<n>", agentID)
	}

	o := f.waitOffer(t, agentID)
	if want := mesos.MustParseResources("cpus:4;mem:1024;disk:100;ports:[31000-31010]"); !o.Resources.Equal(want) || o.Hostname != "h1" {
		t.Fatalf("offer = %s on %q, want %s on h1", o.Resources, o.Hostname, want)
	}
	launch(t, c.master(), f, o, "web.1", "cpus:1;mem:128;ports:[31000-31000]", 0)

	waitFor(t, 5*time.Second, "LAUNCH at the agent", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool {
			return ev.Type == mesos.AgentEventLaunch && ev.Launch.Task.TaskID == "web.1"
		})
		return ok
	})
	a.update(t, f.id, "web.1", mesos.TaskRunning, "u-1")
	ev := f.waitEvent(t, "TASK_RUNNING at the framework", isUpdate("web.1", mesos.TaskRunning))
	if ev.Update.AgentID != agentID || ev.Update.UUID != "u-1" {
		t.Fatalf("update = %+v, want agent %s and uuid u-1", ev.Update, agentID)
	}
	if err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallAcknowledge,
		Acknowledge: &mesos.CallAckArgs{AgentID: agentID, TaskID: "web.1", UUID: "u-1"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "ACKNOWLEDGE at the agent", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool {
			// The framework ID tells the agent which framework's t1 it is.
			return ev.Type == mesos.AgentEventAcknowledge && ev.Acknowledge.UUID == "u-1" && ev.Acknowledge.FrameworkID == f.id
		})
		return ok
	})

	// The rest of the agent is offered again, without the launched ports.
	next := f.waitOffer(t, agentID)
	if want := mesos.MustParseResources("cpus:3;mem:896;disk:100;ports:[31001-31010]"); !next.Resources.Equal(want) {
		t.Fatalf("next offer = %s, want %s", next.Resources, want)
	}

	st := c.master().State(nil)
	if len(st.Slaves) != 1 || st.Slaves[0].ID != agentID || st.Slaves[0].PID != "slave(1)@127.0.0.1:5051" {
		t.Fatalf("state slaves = %+v, want agent %s at slave(1)@127.0.0.1:5051", st.Slaves, agentID)
	}
	if got := st.Slaves[0].Resources["ports"]; got != "[31000-31010]" {
		t.Fatalf("slave ports = %v, want [31000-31010]", got)
	}
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].Tasks) != 1 {
		t.Fatalf("state frameworks = %+v, want one framework with one task", st.Frameworks)
	}
	task := st.Frameworks[0].Tasks[0]
	if task.State != mesos.TaskRunning || task.SlaveID != agentID || task.Resources["ports"] != "[31000-31000]" {
		t.Fatalf("state task = %+v, want RUNNING on %s with ports [31000-31000]", task, agentID)
	}

	// A finished task frees its resources.
	a.update(t, f.id, "web.1", mesos.TaskFinished, "u-2")
	f.waitEvent(t, "TASK_FINISHED", isUpdate("web.1", mesos.TaskFinished))
	st = c.master().State(nil)
	if len(st.Frameworks[0].Tasks) != 0 || len(st.Frameworks[0].CompletedTasks) != 1 {
		t.Fatalf("after finishing: %d tasks, %d completed; want 0 and 1", len(st.Frameworks[0].Tasks), len(st.Frameworks[0].CompletedTasks))
	}
}

func TestInvalidTaskGetsError(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:1;mem:256")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, a.link.AgentID())
	launch(t, c.master(), f, o, "big", "cpus:2;mem:64", 0)
	ev := f.waitEvent(t, "TASK_ERROR for an oversized task", isUpdate("big", mesos.TaskError))
	if !strings.Contains(ev.Update.Message, "needs") || ev.Update.Reason != mesos.ReasonTaskInvalid {
		t.Fatalf("TASK_ERROR = %+v, want a message saying what the task needs", ev.Update)
	}
	// A stale offer drops the task rather than launching it.
	launch(t, c.master(), f, o, "late", "cpus:0.1;mem:16", 0)
	f.waitEvent(t, "TASK_DROPPED for a used offer", isUpdate("late", mesos.TaskDropped))
}

func postCall(t *testing.T, url string, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+mesos.AgentAPIPath, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMalformedRegistrationRejected(t *testing.T) {
	c := newCluster(t, nil)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not json", `{"type":`, "malformed agent call"},
		{"unknown type", `{"type":"DANCE"}`, `unknown agent call type "DANCE"`},
		{"no subscribe", `{"type":"SUBSCRIBE"}`, "without a subscribe field"},
		{"no hostname", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}}}`, "hostname is empty"},
		{"no resources", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"hostname":"h"}}}`, "resources is empty"},
		{"negative cpus", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"hostname":"h","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]}}}`, "non-negative"},
		{"bad port", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"hostname":"h","port":70000,"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}}}`, "port 70000"},
		{"update without stream", `{"type":"UPDATE","agent_id":"nope"}`, `unknown agent "nope"`},
		// An ID no master issued: it could be a live agent's, whose stream
		// the newcomer would take over.
		{"agent ID never issued", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"id":"nonexistent-S999","hostname":"h","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}}}`, `agent ID "nonexistent-S999" was never issued`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postCall(t, c.srv.URL, tc.body, nil)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("POST %s = %d %q, want 400 containing %q", tc.body, resp.StatusCode, body, tc.want)
			}
		})
	}
	if n := len(c.master().State(nil).Slaves); n != 0 {
		t.Fatalf("state lists %d agents after bad registrations, want 0", n)
	}
}

func subscribeRaw(t *testing.T, url, agentID string) (*http.Response, *mesos.RecordReader) {
	t.Helper()
	call := mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: mesos.AgentInfo{
		ID: agentID, Hostname: "h", Resources: mesos.MustParseResources("cpus:1;mem:64"),
	}}}
	b, _ := json.Marshal(call)
	resp, err := http.Post(url+mesos.AgentAPIPath, "application/json", bytes.NewReader(b))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe = %v, %v; want 200", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, mesos.NewRecordReader(resp.Body)
}

func TestReregistrationReplacesConnection(t *testing.T) {
	c := newCluster(t, nil)
	resp1, r1 := subscribeRaw(t, c.srv.URL, "")
	var ev mesos.AgentEvent
	if err := r1.Read(&ev); err != nil || ev.Type != mesos.AgentEventSubscribed {
		t.Fatalf("first event = %+v, %v; want SUBSCRIBED", ev, err)
	}
	id := ev.Subscribed.AgentID
	resp2, r2 := subscribeRaw(t, c.srv.URL, id)
	if err := r2.Read(&ev); err != nil || ev.Subscribed.AgentID != id {
		t.Fatalf("re-registration event = %+v, %v; want SUBSCRIBED as %s", ev, err, id)
	}
	// The old stream ends; the old stream ID is refused.
	for {
		if err := r1.Read(&ev); err != nil {
			break
		}
	}
	hb := `{"type":"HEARTBEAT","agent_id":"` + id + `"}`
	if resp, body := postCall(t, c.srv.URL, hb, http.Header{mesos.StreamIDHeader: {resp1.Header.Get(mesos.StreamIDHeader)}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "subscribe again") {
		t.Fatalf("heartbeat on the replaced stream = %d %q, want 400 telling to subscribe again", resp.StatusCode, body)
	}
	if resp, _ := postCall(t, c.srv.URL, hb, http.Header{mesos.StreamIDHeader: {resp2.Header.Get(mesos.StreamIDHeader)}}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("heartbeat on the current stream = %d, want 202", resp.StatusCode)
	}
	st := c.master().State(nil)
	if len(st.Slaves) != 1 || st.Slaves[0].ID != id || !st.Slaves[0].Active {
		t.Fatalf("state slaves = %+v, want exactly one active agent %s", st.Slaves, id)
	}
}

func TestSilentAgentBecomesUnreachable(t *testing.T) {
	c := newCluster(t, fastPings)
	a := c.startAgent("h1", "cpus:2;mem:512")
	b := c.startAgent("h2", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, a.link.AgentID())
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	f.waitEvent(t, "RUNNING", isUpdate("t1", mesos.TaskRunning))

	spare := f.waitOffer(t, a.link.AgentID()) // the rest of the agent, on offer
	a.stop()                                  // agent goes silent: stream closed, heartbeats stop
	f.waitEvent(t, "RESCIND of the disconnected agent's offer", func(ev mesos.Event) bool {
		return ev.Type == mesos.EventTypeRescind && ev.Rescind.OfferID == spare.ID
	})
	lost := f.waitEvent(t, "TASK_LOST for the silent agent's task", isUpdate("t1", mesos.TaskLost))
	if lost.Update.Reason != mesos.ReasonAgentRemoved || lost.Update.Source != mesos.SourceMaster {
		t.Fatalf("TASK_LOST = %+v, want reason %s from the master", lost.Update, mesos.ReasonAgentRemoved)
	}
	f.waitEvent(t, "FAILURE for the agent", func(ev mesos.Event) bool {
		return ev.Type == mesos.EventTypeFailure && ev.Failure.AgentID == a.link.AgentID()
	})
	st := c.master().State(nil)
	if st.UnreachableSlaves != 1 || len(st.Slaves) != 1 || st.Slaves[0].ID != b.link.AgentID() {
		t.Fatalf("state: %d unreachable, slaves %+v; want 1 unreachable and only %s listed", st.UnreachableSlaves, st.Slaves, b.link.AgentID())
	}
	rec, _, _ := c.store.Agents().Get(context.Background(), a.link.AgentID())
	waitFor(t, 5*time.Second, "the registry to mark the agent unreachable", func() bool {
		rec, _, _ = c.store.Agents().Get(context.Background(), a.link.AgentID())
		return !rec.Unreachable.IsZero()
	})
}

func TestFailoverRecoversAgentsAndTasks(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "marathon"})
	agentID := a.link.AgentID()
	o := f.waitOffer(t, agentID)
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	f.waitEvent(t, "RUNNING", isUpdate("t1", mesos.TaskRunning))

	c.depose()
	m2 := c.elect("m2")
	// The framework fails over to the new master with its ID.
	f2 := c.subscribe(mesos.FrameworkInfo{ID: f.id, Name: "marathon"})
	if f2.id != f.id {
		t.Fatalf("re-subscribed as %s, want %s", f2.id, f.id)
	}
	waitFor(t, 5*time.Second, "the agent to re-register with its ID", func() bool {
		st := m2.State(nil)
		return len(st.Slaves) == 1 && st.Slaves[0].ID == agentID && st.Slaves[0].Active
	})
	if err := m2.Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{}}); err != nil {
		t.Fatal(err)
	}
	ev := f2.waitEvent(t, "reconciliation of t1", isUpdate("t1", mesos.TaskRunning))
	if ev.Update.Reason != mesos.ReasonReconciliation || ev.Update.AgentID != agentID || ev.Update.UUID != "" {
		t.Fatalf("reconciled update = %+v, want reason %s, agent %s and no uuid", ev.Update, mesos.ReasonReconciliation, agentID)
	}
	// Explicit reconciliation of a task nobody knows reports it lost.
	m2.Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{
		Tasks: []mesos.ReconcileTask{{TaskID: "ghost", AgentID: agentID}}}})
	f2.waitEvent(t, "TASK_LOST for an unknown task", isUpdate("ghost", mesos.TaskLost))
	// The recovered task still holds its resources: the offer lacks them.
	o2 := f2.waitOffer(t, agentID)
	if want := mesos.MustParseResources("cpus:1;mem:448"); !o2.Resources.Equal(want) {
		t.Fatalf("offer after failover = %s, want %s", o2.Resources, want)
	}
}

func TestFailoverTimeoutTearsDownFramework(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "short", FailoverTimeout: 0.3})
	o := f.waitOffer(t, a.link.AgentID())
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	f.cancel() // the framework goes away and does not come back
	waitFor(t, 5*time.Second, "KILL of the torn-down framework's task", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventKill && ev.Kill.TaskID == "t1" })
		return ok
	})
	waitFor(t, 5*time.Second, "the framework to leave the registry", func() bool {
		_, ok, _ := c.store.Frameworks().Get(context.Background(), f.id)
		return !ok && len(c.master().State(nil).Frameworks) == 0
	})
}

func TestRecoveredFrameworkGetsNoOffersUntilItSubscribes(t *testing.T) {
	c := newCluster(t, nil)
	old := c.subscribe(mesos.FrameworkInfo{Name: "old"})
	c.depose()
	c.elect("m2")
	a := c.startAgent("h1", "cpus:2;mem:512")
	// The recovered framework has the lowest share; were it offered
	// resources it would starve the newcomer.
	f := c.subscribe(mesos.FrameworkInfo{Name: "new"})
	f.waitOffer(t, a.link.AgentID())
	st := c.master().State(nil)
	for _, sf := range st.Frameworks {
		if sf.ID == old.id && (sf.Active || !sf.Recovered || len(sf.Offers) != 0) {
			t.Fatalf("recovered framework = %+v, want inactive, recovered, without offers", sf)
		}
	}
}

// TestFailoverKeepsHealth: an agent re-registering with a new leader
// reports its tasks' latest statuses; their health is in the new leader's
// state at once, and the subscribed framework hears of it without
// reconciling (health updates are sent only when health changes).
func TestFailoverKeepsHealth(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "marathon"})
	agentID := a.link.AgentID()
	launch(t, c.master(), f, f.waitOffer(t, agentID), "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	healthy := true
	if err := a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{
		FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "t1", State: mesos.TaskRunning, Healthy: &healthy, UUID: "u2"},
	}}); err != nil {
		t.Fatal(err)
	}
	f.waitEvent(t, "the health update", func(ev mesos.Event) bool {
		return isUpdate("t1", mesos.TaskRunning)(ev) && ev.Update.Healthy != nil
	})
	tasks := a.taskList()
	tasks[0].Statuses = []mesos.TaskStatus{{TaskID: "t1", State: mesos.TaskRunning, Healthy: &healthy, UUID: "u2"}}
	a.stop()

	c.depose()
	m2 := c.elect("m2")
	f2 := c.subscribe(mesos.FrameworkInfo{ID: f.id, Name: "marathon"})
	c.startAgentAs(agentID, "h1", "cpus:2;mem:512", tasks)
	ev := f2.waitEvent(t, "t1's health from the new leader", isUpdate("t1", mesos.TaskRunning))
	if ev.Update.Healthy == nil || !*ev.Update.Healthy || ev.Update.UUID != "" || ev.Update.AgentID != agentID {
		t.Fatalf("update after the agent re-registered = %+v, want healthy, agent %s, no uuid", ev.Update, agentID)
	}
	st := m2.State(nil)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].Tasks) != 1 {
		t.Fatalf("state frameworks %+v, want one with t1", st.Frameworks)
	}
	sts := st.Frameworks[0].Tasks[0].Statuses
	if len(sts) == 0 || sts[len(sts)-1].Healthy == nil || !*sts[len(sts)-1].Healthy || sts[len(sts)-1].UUID != "" {
		t.Fatalf("t1's statuses in the new leader's state = %+v, want the last healthy, without uuid", sts)
	}
}
