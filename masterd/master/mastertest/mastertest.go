// Package mastertest runs a real leading master over a real embedded etcd,
// served on loopback, and an in-process framework on it, for the tests of
// other daemons (agentd's end-to-end tests, later Marathon's).
package mastertest

import (
	"corral/tstest"

	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/masterd/master"
	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// Log returns a discarding logger, or a stderr one when CORRAL_TEST_LOG is set.
func Log() *slog.Logger {
	if os.Getenv("CORRAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// WaitFor polls cond until it holds or fails the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tstest.WaitFor(t, timeout, what, cond)
}

// Master is a running master and the address agents dial.
type Master struct {
	*master.Master
	Addr string
}

// Start runs a master (ID "m1", 50 ms allocation interval) until the test ends.
func Start(t testing.TB, configure func(*master.Config)) *Master {
	t.Helper()
	e, _ := statetest.Start(t)
	cfg := master.DefaultConfig()
	cfg.ID = "m1"
	cfg.AllocationInterval = 50 * time.Millisecond
	cfg.AgentPingTimeout = time.Second
	if configure != nil {
		configure(&cfg)
	}
	m, err := master.New(cfg, state.NewStore(e.Client), Log())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	srv := httptest.NewServer(http.HandlerFunc(m.ServeAgentAPI))
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &Master{Master: m, Addr: strings.TrimPrefix(srv.URL, "http://")}
}

// Framework is an in-process framework that records its events and
// acknowledges every status update, as a real scheduler does.
type Framework struct {
	ID string
	m  *Master

	mu       sync.Mutex // guards events and accepted
	events   []mesos.Event
	accepted map[string]bool // offer IDs already used
}

// Subscribe registers a framework until the test ends.
func (m *Master) Subscribe(t testing.TB, name string) *Framework {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := m.Master.Subscribe(ctx, mesos.FrameworkInfo{Name: name})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	first := <-ch
	f := &Framework{ID: first.Subscribed.FrameworkID, m: m, accepted: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Type == mesos.EventTypeUpdate && ev.Update.UUID != "" {
				m.Call(context.Background(), mesos.Call{FrameworkID: f.ID, Type: mesos.CallAcknowledge, Acknowledge: &mesos.CallAckArgs{
					AgentID: ev.Update.AgentID, TaskID: ev.Update.TaskID, UUID: ev.Update.UUID}})
			}
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// Events returns the events received so far.
func (f *Framework) Events() []mesos.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mesos.Event(nil), f.events...)
}

// WaitUpdate waits for a status update of task in state st and returns it.
func (f *Framework) WaitUpdate(t testing.TB, timeout time.Duration, taskID string, st mesos.TaskState) mesos.TaskStatus {
	t.Helper()
	var got mesos.TaskStatus
	WaitFor(t, timeout, taskID+" "+string(st), func() bool {
		for _, ev := range f.Events() {
			if ev.Type == mesos.EventTypeUpdate && ev.Update.TaskID == taskID && ev.Update.State == st {
				got = *ev.Update
				return true
			}
		}
		return false
	})
	return got
}

// Launch waits for an offer of agentID that fits the task and launches the
// task on it.
func (f *Framework) Launch(t testing.TB, agentID string, task mesos.TaskInfo) {
	t.Helper()
	var offer mesos.Offer
	WaitFor(t, 10*time.Second, "an offer of agent "+agentID, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		gone := map[string]bool{}
		for _, ev := range f.events {
			if ev.Type == mesos.EventTypeRescind {
				gone[ev.Rescind.OfferID] = true
			}
		}
		for i := len(f.events) - 1; i >= 0; i-- {
			for _, o := range f.events[i].Offers {
				if o.AgentID == agentID && !gone[o.ID] && !f.accepted[o.ID] && o.Resources.Contains(task.Resources) {
					offer = o
					f.accepted[o.ID] = true
					return true
				}
			}
		}
		return false
	})
	task.AgentID = agentID
	err := f.m.Call(context.Background(), mesos.Call{FrameworkID: f.ID, Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
		OfferIDs:   []string{offer.ID},
		Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: []mesos.TaskInfo{task}}}},
		Filters:    &mesos.Filters{RefuseSeconds: 0},
	}})
	if err != nil {
		t.Fatalf("launching %s: %v", task.TaskID, err)
	}
}

// Kill asks the master to kill a task.
func (f *Framework) Kill(t testing.TB, taskID string) {
	t.Helper()
	if err := f.m.Call(context.Background(), mesos.Call{FrameworkID: f.ID, Type: mesos.CallKill, Kill: &mesos.CallKillArgs{TaskID: taskID}}); err != nil {
		t.Fatal(err)
	}
}
