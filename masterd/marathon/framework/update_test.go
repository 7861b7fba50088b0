package framework_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"corral/masterd/marathon/api"
	"corral/masterd/marathon/framework"
	"corral/masterd/marathon/model"
	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
	"corral/tstest"
)

// scriptedMaster is a master the test speaks for: it hands the framework
// the events the test sends and records the framework's calls.
type scriptedMaster struct {
	events chan mesos.Event
	mu     sync.Mutex
	calls  []mesos.Call
}

func (m *scriptedMaster) Subscribe(ctx context.Context, _ mesos.FrameworkInfo) (<-chan mesos.Event, error) {
	return m.events, nil
}

func (m *scriptedMaster) Call(_ context.Context, c mesos.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, c)
	return nil
}

func (m *scriptedMaster) find(typ string) (mesos.Call, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.calls {
		if c.Type == typ {
			return c, true
		}
	}
	return mesos.Call{}, false
}

func (m *scriptedMaster) count(typ string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.calls {
		if c.Type == typ {
			n++
		}
	}
	return n
}

// TestUpdateFromAnotherAgentIgnored: a status update that names another
// agent than the one the instance was launched on (a forged one the master
// could not check: after a failover it knows no task of an agent that has
// not re-registered yet) changes nothing: the instance stays running and
// nothing is killed or launched in its place.
func TestUpdateFromAnotherAgentIgnored(t *testing.T) {
	e, _ := statetest.Start(t)
	m := &scriptedMaster{events: make(chan mesos.Event, 16)}
	fw, ctx, _ := runSubscribed(t, framework.DefaultConfig(), state.NewStore(e.Client).WithLimits(embeddedLimits()), m)
	if _, err := fw.Deploy(ctx, func(r *model.Root) error {
		a := app("/web", 0)
		r.Apps[a.ID] = a
		return nil
	}, api.DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	m.events <- mesos.Event{Type: mesos.EventTypeOffers, Offers: []mesos.Offer{{
		ID: "o-1", FrameworkID: "fw-1", AgentID: "agent-a", Hostname: "host-a",
		Resources: mesos.MustParseResources("cpus:4;mem:1024;ports:[31000-32000]"),
	}}}
	var taskID string
	tstest.WaitFor(t, 5*time.Second, "the launch on agent-a", func() bool {
		c, ok := m.find(mesos.CallAccept)
		if ok {
			taskID = c.Accept.Operations[0].Launch.TaskInfos[0].TaskID
		}
		return ok
	})
	m.events <- mesos.Event{Type: mesos.EventTypeUpdate, Update: &mesos.TaskStatus{TaskID: taskID, AgentID: "agent-a", State: mesos.TaskRunning}}
	running := func() bool {
		task, ok := fw.View().Task(taskID)
		return ok && task.State == string(mesos.TaskRunning) && task.SlaveID == "agent-a"
	}
	tstest.WaitFor(t, 5*time.Second, "the task running on agent-a", running)

	m.events <- mesos.Event{Type: mesos.EventTypeUpdate, Update: &mesos.TaskStatus{TaskID: taskID, AgentID: "agent-b", State: mesos.TaskFailed, UUID: "forged"}}
	// A later genuine update is handled after the forged one.
	m.events <- mesos.Event{Type: mesos.EventTypeUpdate, Update: &mesos.TaskStatus{TaskID: taskID, AgentID: "agent-a", State: mesos.TaskRunning, UUID: "real"}}
	tstest.WaitFor(t, 5*time.Second, "the genuine update's acknowledgement", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, c := range m.calls {
			if c.Type == mesos.CallAcknowledge && c.Acknowledge.UUID == "real" {
				return true
			}
		}
		return false
	})
	if !running() {
		task, _ := fw.View().Task(taskID)
		t.Fatalf("after TASK_FAILED from agent-b the task is %+v, want TASK_RUNNING on agent-a", task)
	}
	if n := m.count(mesos.CallAccept); n != 1 {
		t.Errorf("%d launches, want the first only (no replacement)", n)
	}
	if c, ok := m.find(mesos.CallKill); ok {
		t.Errorf("the framework killed %+v", c.Kill)
	}
}

// TestBurstOfUpdates: 300 tasks report TASK_RUNNING at once, more than
// etcd takes in one transaction by default (128 operations, the store's
// limits here), so the updates the framework writes together must be
// split. Every update is applied and acknowledged, the waiting ones
// written together: far fewer write transactions than updates (counted by
// etcd's revision; one each took at least 6 s with etcd 20 ms away), and a
// framework restarted over the same store finds every instance running.
func TestBurstOfUpdates(t *testing.T) {
	const n, delay = 300, 20 * time.Millisecond
	_, url := statetest.Start(t)
	proxy := statetest.StartProxy(t, url)
	cli := dial(t, proxy.URL)
	store := state.NewStore(cli)
	// Every transaction that writes moves etcd's revision by one.
	revision := func() int64 {
		resp, err := cli.Get(context.Background(), "/")
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	m := &scriptedMaster{events: make(chan mesos.Event, n+16)}
	cfg := framework.DefaultConfig()
	cfg.MaxInstancesPerOffer = n
	fw, ctx, stop := runSubscribed(t, cfg, store, m)
	if _, err := fw.Deploy(ctx, func(r *model.Root) error {
		a := app("/burst", 0)
		a.Instances = n
		r.Apps[a.ID] = a
		return nil
	}, api.DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	m.events <- mesos.Event{Type: mesos.EventTypeOffers, Offers: []mesos.Offer{{
		ID: "o-1", FrameworkID: "fw-1", AgentID: "agent-a", Hostname: "host-a",
		Resources: mesos.MustParseResources("cpus:8;mem:8192;ports:[31000-32000]"),
	}}}
	var ids []string
	tstest.WaitFor(t, 5*time.Second, "the launch of the instances", func() bool {
		c, ok := m.find(mesos.CallAccept)
		if ok {
			for _, ti := range c.Accept.Operations[0].Launch.TaskInfos {
				ids = append(ids, ti.TaskID)
			}
		}
		return ok
	})
	if len(ids) != n {
		t.Fatalf("%d instances launched from the offer, want %d", len(ids), n)
	}
	proxy.SetDelay(delay)
	before := revision()
	start := time.Now()
	for i, id := range ids {
		m.events <- mesos.Event{Type: mesos.EventTypeUpdate, Update: &mesos.TaskStatus{
			TaskID: id, AgentID: "agent-a", State: mesos.TaskRunning, UUID: fmt.Sprintf("u-%d", i)}}
	}
	tstest.WaitFor(t, 2*n*delay, "every update acknowledged", func() bool {
		return m.count(mesos.CallAcknowledge) >= n
	})
	took := time.Since(start)
	proxy.SetDelay(0)
	if writes := revision() - before; writes > n/4 {
		t.Errorf("%d updates took %d etcd write transactions (%v with etcd %v away), want them batched: at most %d", n, writes, took.Round(time.Millisecond), delay, n/4)
	} else {
		t.Logf("%d updates: %d write transactions, %v with etcd %v away", n, writes, took.Round(time.Millisecond), delay)
	}
	acked := map[string]bool{}
	m.mu.Lock()
	for _, c := range m.calls {
		if c.Type == mesos.CallAcknowledge {
			acked[c.Acknowledge.TaskID+" "+c.Acknowledge.UUID] = true
		}
	}
	m.mu.Unlock()
	for i, id := range ids {
		if !acked[fmt.Sprintf("%s u-%d", id, i)] {
			t.Fatalf("update u-%d of %s was not acknowledged", i, id)
		}
	}
	running := func(fw *framework.Framework) int {
		k := 0
		v := fw.View()
		for _, id := range ids {
			if task, ok := v.Task(id); ok && task.State == string(mesos.TaskRunning) {
				k++
			}
		}
		return k
	}
	tstest.WaitFor(t, 5*time.Second, "every instance running in the view", func() bool { return running(fw) == n })

	// A restarted framework reads every instance back as running: each
	// update was stored before it was acknowledged.
	stop()
	if got := running(newFramework(t, store, cfg)); got != n {
		t.Fatalf("after a restart %d of %d instances are running, want all", got, n)
	}
}

// runSubscribed loads a framework over store and runs it against m, which
// has told it it subscribed as fw-1. stop ends Run and waits for it; the
// test's cleanup calls it too.
func runSubscribed(t *testing.T, cfg framework.Config, store *state.Store, m *scriptedMaster) (fw *framework.Framework, ctx context.Context, stop func()) {
	t.Helper()
	fw, err := framework.New(cfg, store, m, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fw.Run(ctx) }()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	m.events <- mesos.Event{Type: mesos.EventTypeSubscribed, Subscribed: &mesos.EventSubscribed{FrameworkID: "fw-1"}}
	return fw, ctx, stop
}
