package master

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/agentd/masterlink"
	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
	"corral/tstest"
)

func testLog() *slog.Logger {
	if os.Getenv("CORRAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cluster is a real master over a real embedded etcd, served on loopback;
// the HTTP server forwards to whichever master currently leads.
type cluster struct {
	t      testing.TB
	store  *state.Store
	srv    *httptest.Server
	cur    atomic.Pointer[Master]
	stop   context.CancelFunc
	done   chan struct{}
	config func(*Config)
	logs   tstest.LockedBuffer // the masters' logs

	// What startAgent's links authenticate with.
	secret    string
	clientTLS *tls.Config
}

func testConfig(id string) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.AllocationInterval = 20 * time.Millisecond
	// Heartbeats every second: a shorter interval lets a stall of the
	// loaded test process (-race, builds alongside) drop agents' streams.
	// Tests of silent agents set fastPings.
	cfg.AgentPingTimeout = time.Second
	cfg.MaxAgentPingTimeouts = 5
	return cfg
}

// fastPings has a silent agent declared unreachable within two seconds:
// soon for a test, and long enough that a -race test process stalled for
// a few hundred milliseconds does not drop the agents that stay live.
func fastPings(cfg *Config) {
	cfg.AgentPingTimeout = 100 * time.Millisecond
	cfg.MaxAgentPingTimeouts = 20
}

func newCluster(t *testing.T, config func(*Config)) *cluster {
	return newClusterTLS(t, config, nil)
}

// newClusterTLS serves the agent protocol over TLS with serverTLS, unless
// it is nil.
func newClusterTLS(t testing.TB, config func(*Config), serverTLS *tls.Config) *cluster {
	e, _ := statetest.Start(t)
	c := &cluster{t: t, store: state.NewStore(e.Client), config: config}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := c.cur.Load(); m != nil {
			m.ServeAgentAPI(w, r)
			return
		}
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	}))
	if serverTLS != nil {
		c.srv.TLS = serverTLS
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	c.elect("m1")
	t.Cleanup(c.depose)
	return c
}

// elect starts a master with the given ID over the shared registry.
func (c *cluster) elect(id string) *Master {
	c.t.Helper()
	cfg := testConfig(id)
	if c.config != nil {
		c.config(&cfg)
	}
	log := slog.New(slog.NewTextHandler(&c.logs, nil))
	if os.Getenv("CORRAL_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, &c.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := New(cfg, c.store, log)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := m.Recover(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		m.Run(ctx)
	}(c.done)
	c.cur.Store(m)
	return m
}

// depose stops the current master as a lost leadership would.
func (c *cluster) depose() {
	if m := c.cur.Swap(nil); m != nil {
		c.stop()
		<-c.done
	}
}

func (c *cluster) master() *Master { return c.cur.Load() }

func (c *cluster) addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(c.srv.URL, "http://"), "https://")
}

// testAgent is a simulated agent on a real link: it records events and
// reports the tasks it was asked to launch.
type testAgent struct {
	link   *masterlink.Link
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []mesos.AgentEvent
	tasks  map[string]mesos.Task
}

func (c *cluster) startAgent(hostname, resources string) *testAgent {
	c.t.Helper()
	return c.startAgentAs("", hostname, resources, nil)
}

// startAgentAs starts an agent that re-registers as id with tasks, as a
// restarted agentd does.
func (c *cluster) startAgentAs(id, hostname, resources string, tasks []mesos.Task) *testAgent {
	c.t.Helper()
	a := &testAgent{tasks: map[string]mesos.Task{}, done: make(chan struct{})}
	for _, t := range tasks {
		a.tasks[t.Info.TaskID] = t
	}
	link, err := masterlink.New(masterlink.Config{
		Masters:    []string{c.addr()},
		Info:       mesos.AgentInfo{ID: id, Hostname: hostname, Port: 5051, Resources: mesos.MustParseResources(resources)},
		Tasks:      a.taskList,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
		Secret:     c.secret,
		TLS:        c.clientTLS,
	}, a.onEvent, testLog())
	if err != nil {
		c.t.Fatal(err)
	}
	a.link = link
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		defer close(a.done)
		link.Run(ctx)
	}()
	c.t.Cleanup(a.stop)
	select {
	case <-link.Registered():
	case <-time.After(5 * time.Second):
		c.t.Fatal("agent did not register within 5s")
	}
	return a
}

func (a *testAgent) stop() {
	a.cancel()
	<-a.done
}

func (a *testAgent) onEvent(_ context.Context, ev mesos.AgentEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
	if ev.Type == mesos.AgentEventLaunch {
		a.tasks[ev.Launch.Task.TaskID] = mesos.Task{Info: ev.Launch.Task, FrameworkID: ev.Launch.FrameworkID, State: mesos.TaskStaging}
	}
}

func (a *testAgent) taskList() []mesos.Task {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []mesos.Task
	for _, t := range a.tasks {
		out = append(out, t)
	}
	return out
}

// find returns the first recorded event that matches.
func (a *testAgent) find(match func(mesos.AgentEvent) bool) (mesos.AgentEvent, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ev := range a.events {
		if match(ev) {
			return ev, true
		}
	}
	return mesos.AgentEvent{}, false
}

// update sends a status update as the agent would, and records the state.
func (a *testAgent) update(t *testing.T, frameworkID, taskID string, st mesos.TaskState, uuid string) {
	t.Helper()
	a.mu.Lock()
	task := a.tasks[taskID]
	task.State = st
	task.Statuses = append(task.Statuses, mesos.TaskStatus{TaskID: taskID, State: st})
	a.tasks[taskID] = task
	a.mu.Unlock()
	err := a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{
		FrameworkID: frameworkID, Status: mesos.TaskStatus{TaskID: taskID, State: st, UUID: uuid, Source: mesos.SourceExecutor},
	}})
	if err != nil {
		t.Fatalf("sending %s for %s: %v", st, taskID, err)
	}
}

// testFramework is an in-process framework that records its events.
type testFramework struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []mesos.Event
}

func (c *cluster) subscribe(info mesos.FrameworkInfo) *testFramework {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.master().Subscribe(ctx, info)
	if err != nil {
		cancel()
		c.t.Fatalf("Subscribe(%+v) = %v", info, err)
	}
	f := &testFramework{cancel: cancel, done: make(chan struct{})}
	first := <-ch
	if first.Type != mesos.EventTypeSubscribed {
		c.t.Fatalf("first event = %s, want SUBSCRIBED", first.Type)
	}
	f.id = first.Subscribed.FrameworkID
	go func() {
		defer close(f.done)
		for ev := range ch {
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.mu.Unlock()
		}
	}()
	c.t.Cleanup(func() { cancel(); <-f.done })
	return f
}

func (f *testFramework) find(match func(mesos.Event) bool) (mesos.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range f.events {
		if match(ev) {
			return ev, true
		}
	}
	return mesos.Event{}, false
}

func (f *testFramework) waitEvent(t *testing.T, what string, match func(mesos.Event) bool) mesos.Event {
	t.Helper()
	var ev mesos.Event
	waitFor(t, 5*time.Second, what, func() bool {
		var ok bool
		ev, ok = f.find(match)
		return ok
	})
	return ev
}

func (f *testFramework) waitOffer(t *testing.T, agentID string) mesos.Offer {
	t.Helper()
	ev := f.waitEvent(t, "an offer of agent "+agentID, func(ev mesos.Event) bool {
		for _, o := range ev.Offers {
			if o.AgentID == agentID {
				return true
			}
		}
		return false
	})
	for _, o := range ev.Offers {
		if o.AgentID == agentID {
			f.forget(o.ID)
			return o
		}
	}
	panic("unreachable")
}

// forget drops the OFFERS event holding offerID so waitOffer finds the next.
func (f *testFramework) forget(offerID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ev := range f.events {
		for _, o := range ev.Offers {
			if o.ID == offerID {
				f.events = append(f.events[:i:i], f.events[i+1:]...)
				return
			}
		}
	}
}

func isUpdate(taskID string, st mesos.TaskState) func(mesos.Event) bool {
	return func(ev mesos.Event) bool {
		return ev.Type == mesos.EventTypeUpdate && ev.Update.TaskID == taskID && ev.Update.State == st
	}
}
