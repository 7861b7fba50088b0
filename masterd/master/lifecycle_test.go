package master

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// TestRunReturnsWhileAFrameworkStopsReading: a master that steps down must
// not wait for a framework to drain its events; it re-subscribes with the
// next leader and reconciles anyway.
func TestRunReturnsWhileAFrameworkStopsReading(t *testing.T) {
	c := newCluster(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // unblocks the event pump should Run hang
	ch, err := c.master().Subscribe(ctx, mesos.FrameworkInfo{Name: "stalled"})
	if err != nil {
		t.Fatal(err)
	}
	id := (<-ch).Subscribed.FrameworkID
	// More updates than the event channel buffers, none of them read.
	var tasks []mesos.ReconcileTask
	for i := range 200 {
		tasks = append(tasks, mesos.ReconcileTask{TaskID: fmt.Sprintf("ghost-%d", i)})
	}
	if err := c.master().Call(ctx, mesos.Call{FrameworkID: id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{Tasks: tasks}}); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { c.depose(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s while a framework was not reading its events")
	}
	// The subscription's channel is closed, pending events dropped.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the framework's event channel stayed open after the master stopped")
		}
	}
}

// TestResubscribeReturnsOutstandingOffers: offers are rescinded and made
// again when a framework (re-)subscribes; the new scheduler instance does
// not know the old one's offer IDs, so they must not hold the resources.
func TestResubscribeReturnsOutstandingOffers(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	f.waitOffer(t, a.link.AgentID())
	// A new scheduler instance takes over while the old stream is still open.
	f2 := c.subscribe(mesos.FrameworkInfo{ID: f.id, Name: "fw"})
	o := f2.waitOffer(t, a.link.AgentID())
	if want := mesos.MustParseResources("cpus:2;mem:512"); !o.Resources.Equal(want) {
		t.Fatalf("offer after re-subscribing = %s, want the whole agent %s", o.Resources, want)
	}
}

// TestUpdateOfTornDownFrameworkIsAcknowledged: once a framework is torn
// down nobody will acknowledge its tasks' updates; the master does, or the
// agent retries them forever.
func TestUpdateOfTornDownFrameworkIsAcknowledged(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, a.link.AgentID())
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	f.waitEvent(t, "RUNNING", isUpdate("t1", mesos.TaskRunning))
	if err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallTeardown}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "KILL of the torn-down framework's task", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventKill && ev.Kill.TaskID == "t1" })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskKilled, "u2")
	waitFor(t, 5*time.Second, "the master to acknowledge TASK_KILLED of the torn-down framework", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool {
			return ev.Type == mesos.AgentEventAcknowledge && ev.Acknowledge.UUID == "u2" && ev.Acknowledge.TaskID == "t1" && ev.Acknowledge.FrameworkID == f.id
		})
		return ok
	})
}

// TestReregistrationOutlivesQueuedUnreachableWrite: an agent declared
// unreachable that comes back before the registry write of its
// unreachability lands must end up reachable in the registry, or the next
// leader kills its tasks.
func TestReregistrationOutlivesQueuedUnreachableWrite(t *testing.T) {
	e, _ := statetest.Start(t)
	store := state.NewStore(e.Client)
	m, err := New(testConfig("m1"), store, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(m.ServeAgentAPI))
	t.Cleanup(srv.Close)

	// Run is not started yet, so registry writes queue up.
	_, r1 := subscribeRaw(t, srv.URL, "")
	var ev mesos.AgentEvent
	if err := r1.Read(&ev); err != nil || ev.Type != mesos.AgentEventSubscribed {
		t.Fatalf("first event = %+v, %v; want SUBSCRIBED", ev, err)
	}
	id := ev.Subscribed.AgentID
	m.mu.Lock()
	m.markUnreachable(id, m.agents[id], time.Now(), "test: silent")
	m.mu.Unlock()
	_, r2 := subscribeRaw(t, srv.URL, id)
	if err := r2.Read(&ev); err != nil || ev.Type != mesos.AgentEventSubscribed {
		t.Fatalf("re-registration event = %+v, %v; want SUBSCRIBED", ev, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	flushed := make(chan struct{})
	m.mu.Lock()
	m.persist(func(context.Context) error { close(flushed); return nil })
	m.mu.Unlock()
	select {
	case <-flushed:
	case <-time.After(5 * time.Second):
		t.Fatal("registry writes not applied within 5s")
	}
	rec, ok, err := store.Agents().Get(context.Background(), id)
	if err != nil || !ok || !rec.Unreachable.IsZero() {
		t.Fatalf("registry record of the re-registered agent = %+v, %v, %v; want it reachable", rec, ok, err)
	}
}

// TestAcceptWithDuplicateOfferIDs: listing an offer twice must not let a
// task use its resources twice.
func TestAcceptWithDuplicateOfferIDs(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:1;mem:256")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, a.link.AgentID())
	err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
		OfferIDs: []string{o.ID, o.ID},
		Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: []mesos.TaskInfo{{
			Name: "twice", TaskID: "twice", AgentID: o.AgentID, Resources: mesos.MustParseResources("cpus:2;mem:256"),
			Command: &mesos.CommandInfo{Value: "true"},
		}}}}},
		Filters: &mesos.Filters{RefuseSeconds: 0},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.waitEvent(t, "TASK_DROPPED for an offer accepted twice", isUpdate("twice", mesos.TaskDropped))
	if _, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch }); ok {
		t.Fatal("the agent was asked to launch a task that needs twice what it has")
	}
	// The offer went back whole.
	if o2 := f.waitOffer(t, a.link.AgentID()); !o2.Resources.Equal(mesos.MustParseResources("cpus:1;mem:256")) {
		t.Fatalf("offer after the refused accept = %s, want the whole agent", o2.Resources)
	}
}

// TestStepDownFlushesRegistryWrites: writes the leader queued before it
// stepped down still land while its fence holds.
func TestStepDownFlushesRegistryWrites(t *testing.T) {
	e, _ := statetest.Start(t)
	store := state.NewStore(e.Client)
	m, err := New(testConfig("m1"), store, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithCancel(context.Background())
	defer fcancel()
	ch, err := m.Subscribe(fctx, mesos.FrameworkInfo{Name: "fw"})
	if err != nil {
		t.Fatal(err)
	}
	id := (<-ch).Subscribed.FrameworkID
	if err := m.Call(context.Background(), mesos.Call{FrameworkID: id, Type: mesos.CallTeardown}); err != nil {
		t.Fatal(err)
	}
	// Leadership ends before the registry write loop ran at all.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.Frameworks().Get(context.Background(), id); ok || err != nil {
		t.Fatalf("torn-down framework still in the registry after step-down (err %v)", err)
	}
}

// TestWholeAgentOfferedAgainAfterTasksEnd follows an agent's resources
// through a launch, a broken stream and re-registration with the task, the
// task's end and a teardown: no resource is lost or counted twice.
func TestWholeAgentOfferedAgainAfterTasksEnd(t *testing.T) {
	c := newCluster(t, nil)
	whole := mesos.MustParseResources("cpus:2;mem:512;ports:[31000-31009]")
	a := c.startAgent("h1", "cpus:2;mem:512;ports:[31000-31009]")
	agentID := a.link.AgentID()
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	decline := func(f *testFramework, o mesos.Offer) {
		t.Helper()
		if err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallDecline,
			Decline: &mesos.CallDeclineArgs{OfferIDs: []string{o.ID}, Filters: &mesos.Filters{RefuseSeconds: 0}}}); err != nil {
			t.Fatal(err)
		}
	}
	o := f.waitOffer(t, agentID)
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64;ports:[31000-31000]", 0)
	waitFor(t, 5*time.Second, "LAUNCH t1", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	f.waitEvent(t, "RUNNING", isUpdate("t1", mesos.TaskRunning))

	// The agent's stream breaks; it re-registers with t1.
	a.stop()
	a2 := c.startAgentAs(agentID, "h1", "cpus:2;mem:512;ports:[31000-31009]", a.taskList())
	waitFor(t, 5*time.Second, "the agent to re-register", func() bool {
		st := c.master().State(nil)
		return len(st.Slaves) == 1 && st.Slaves[0].Active && st.Slaves[0].ReregisteredTime > 0
	})
	rest := mesos.MustParseResources("cpus:1;mem:448;ports:[31001-31009]")
	o = f.waitOffer(t, agentID)
	for !o.Resources.Equal(rest) { // offers made before re-registration were rescinded
		o = f.waitOffer(t, agentID)
	}
	decline(f, o)
	a2.update(t, f.id, "t1", mesos.TaskFinished, "u2")
	f.waitEvent(t, "FINISHED", isUpdate("t1", mesos.TaskFinished))
	// The declined rest may be offered again before t1's end is applied,
	// and t1's resources then separately; declined, both come back as one
	// offer of the whole agent. None may hold more than the agent has.
	deadline := time.Now().Add(10 * time.Second)
	for o = f.waitOffer(t, agentID); !o.Resources.Equal(whole); o = f.waitOffer(t, agentID) {
		if !whole.Contains(o.Resources) || time.Now().After(deadline) {
			t.Fatalf("offer after t1 ended = %s, want the whole agent %s", o.Resources, whole)
		}
		decline(f, o)
	}

	// A second task, then a teardown: the next framework gets the whole agent.
	launch(t, c.master(), f, o, "t2", "cpus:2;mem:512;ports:[31000-31009]", 0)
	waitFor(t, 5*time.Second, "LAUNCH t2", func() bool {
		_, ok := a2.find(func(ev mesos.AgentEvent) bool {
			return ev.Type == mesos.AgentEventLaunch && ev.Launch.Task.TaskID == "t2"
		})
		return ok
	})
	g := c.subscribe(mesos.FrameworkInfo{Name: "next"})
	if err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallTeardown}); err != nil {
		t.Fatal(err)
	}
	if o := g.waitOffer(t, agentID); !o.Resources.Equal(whole) {
		t.Fatalf("offer after the teardown = %s, want the whole agent %s", o.Resources, whole)
	}
}

// TestKillOnRecoveringAgentIsNotAnsweredLost: after a failover, a kill of
// a task the new leader has not seen yet is answered as reconciliation is
// (Mesos does the same): nothing while its agent may still re-register with
// it. A TASK_LOST would make the framework launch a replacement of a task
// that is still running.
func TestKillOnRecoveringAgentIsNotAnsweredLost(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	agentID := a.link.AgentID()
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, agentID)
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskRunning, "u1")
	f.waitEvent(t, "RUNNING", isUpdate("t1", mesos.TaskRunning))

	a.stop() // the agent will re-register later, not yet
	c.depose()
	m2 := c.elect("m2")
	f2 := c.subscribe(mesos.FrameworkInfo{ID: f.id, Name: "fw"})
	ctx := context.Background()
	if err := m2.Call(ctx, mesos.Call{FrameworkID: f.id, Type: mesos.CallKill, Kill: &mesos.CallKillArgs{TaskID: "t1", AgentID: agentID}}); err != nil {
		t.Fatal(err)
	}
	// Events arrive in order: once this answer is in, any answer to the
	// kill would be too.
	if err := m2.Call(ctx, mesos.Call{FrameworkID: f.id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{
		Tasks: []mesos.ReconcileTask{{TaskID: "ghost", AgentID: "no-such-agent"}}}}); err != nil {
		t.Fatal(err)
	}
	f2.waitEvent(t, "TASK_LOST of a task on an unknown agent", isUpdate("ghost", mesos.TaskLost))
	if ev, ok := f2.find(isUpdate("t1", mesos.TaskLost)); ok {
		t.Fatalf("kill of a task on a recovering agent answered %+v, want no answer yet", ev.Update)
	}
	// A kill naming an agent the master knows nothing of is answered.
	if err := m2.Call(ctx, mesos.Call{FrameworkID: f.id, Type: mesos.CallKill, Kill: &mesos.CallKillArgs{TaskID: "t9", AgentID: "no-such-agent"}}); err != nil {
		t.Fatal(err)
	}
	ev := f2.waitEvent(t, "TASK_LOST for a kill of an unknown task", isUpdate("t9", mesos.TaskLost))
	if ev.Update.Reason != mesos.ReasonReconciliation || ev.Update.Source != mesos.SourceMaster {
		t.Fatalf("answer to a kill of an unknown task = %+v, want a reconciliation update from the master", ev.Update)
	}
}

// masterGoroutines returns the stacks of goroutines running master code.
func masterGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "corral/masterd/master.(*Master)") && !strings.Contains(g, "masterGoroutines") {
			out = append(out, g)
		}
	}
	return out
}

// TestRunLeavesNothingRunning: once Run returns, the agents' streams, the
// frameworks' event pumps and the registry writer have all ended.
func TestRunLeavesNothingRunning(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("h1", "cpus:2;mem:512")
	c.startAgent("h2", "cpus:2;mem:512")
	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	o := f.waitOffer(t, a.link.AgentID())
	launch(t, c.master(), f, o, "t1", "cpus:1;mem:64", 0)
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	if len(masterGoroutines()) == 0 {
		t.Fatal("no master goroutines found while the master runs: the check is broken")
	}
	c.depose()
	deadline := time.Now().Add(5 * time.Second)
	for left := masterGoroutines(); len(left) > 0; left = masterGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still run master code 5s after Run returned:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
