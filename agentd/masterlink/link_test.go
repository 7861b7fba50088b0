package masterlink

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/mesos"
)

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

// fakeMaster answers the agent protocol as scripted.
type fakeMaster struct {
	// hang, if it returns true for the n-th SUBSCRIBE (from 1), leaves it
	// unanswered until the agent gives up.
	hang func(n int) bool
	// interval is the heartbeat_interval_seconds of SUBSCRIBED.
	interval float64
	// heartbeatStatus answers HEARTBEAT calls.
	heartbeatStatus int
	// unavailable, if it returns true for the n-th SUBSCRIBE, answers it
	// 503 as a master that knows no leader does.
	unavailable func(n int) bool

	mu         sync.Mutex // guards subscribes, heartbeats and at
	subscribes int
	heartbeats int
	at         []time.Time // when each SUBSCRIBE came
}

func (f *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var call mesos.AgentCall
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	switch call.Type {
	case mesos.AgentCallSubscribe:
		f.subscribes++
		f.at = append(f.at, time.Now())
	case mesos.AgentCallHeartbeat:
		f.heartbeats++
	}
	n := f.subscribes
	f.mu.Unlock()
	if call.Type == mesos.AgentCallHeartbeat {
		if f.heartbeatStatus == http.StatusBadRequest {
			http.Error(w, "not the agent's current stream, subscribe again", http.StatusBadRequest)
			return
		}
		w.WriteHeader(f.heartbeatStatus)
		return
	}
	if call.Type != mesos.AgentCallSubscribe {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if f.unavailable != nil && f.unavailable(n) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return
	}
	if f.hang != nil && f.hang(n) {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", mesos.RecordIOContentType)
	w.Header().Set(mesos.StreamIDHeader, "s1")
	w.WriteHeader(http.StatusOK)
	rw := mesos.NewRecordWriter(w)
	rc := http.NewResponseController(w)
	if rw.Write(mesos.AgentEvent{Type: mesos.AgentEventSubscribed, Subscribed: &mesos.AgentSubscribed{
		AgentID: "m-S1", MasterID: "m", HeartbeatIntervalSeconds: f.interval,
	}}) != nil || rc.Flush() != nil {
		return
	}
	// Keep the stream busy so that it never goes idle.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if rw.Write(mesos.AgentEvent{Type: mesos.AgentEventHeartbeat}) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (f *fakeMaster) counts() (subscribes, heartbeats int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subscribes, f.heartbeats
}

// run starts a link to f until the test ends.
func run(t *testing.T, f *fakeMaster, configure func(*Config)) *Link {
	t.Helper()
	srv := httptest.NewServer(f)
	cfg := Config{
		Masters:    []string{strings.TrimPrefix(srv.URL, "http://")},
		Info:       mesos.AgentInfo{Hostname: "h", Resources: mesos.MustParseResources("cpus:1")},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg)
	}
	l, err := New(cfg, func(context.Context, mesos.AgentEvent) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return l
}

// TestGivesUpOnAMasterThatDoesNotAnswer: a master that takes the
// subscription but never answers (hung, or stuck on its store) must not
// hold the agent; it tries again.
func TestGivesUpOnAMasterThatDoesNotAnswer(t *testing.T) {
	f := &fakeMaster{hang: func(n int) bool { return n == 1 }, interval: 1, heartbeatStatus: http.StatusAccepted}
	l := run(t, f, func(c *Config) { c.SubscribeTimeout = 200 * time.Millisecond })
	select {
	case <-l.Registered():
	case <-time.After(5 * time.Second):
		n, _ := f.counts()
		t.Fatalf("not registered within 5s after %d SUBSCRIBE calls; want a retry after the unanswered one", n)
	}
}

// TestBackoffStaysShortWhileAMasterAnswers: a master that answers "no
// leader" (a restarted master waiting for its old lease) is about to
// lead: the agent asks again at least once a second (ReachableBackoff's
// default), however long it has been waiting, rather than doubling its
// wait towards MaxBackoff, and registers as soon as it may.
func TestBackoffStaysShortWhileAMasterAnswers(t *testing.T) {
	const refusals = 9 // doubling from 20ms, the last wait would be >= 5s
	f := &fakeMaster{unavailable: func(n int) bool { return n <= refusals }, interval: 1, heartbeatStatus: http.StatusAccepted}
	l := run(t, f, func(c *Config) { c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, time.Minute })
	select {
	case <-l.Registered():
	case <-time.After(20 * time.Second):
		t.Fatal("not registered within 20s")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.at); i++ {
		// Doubling, the ninth wait would be at least 2.56s; capped, it is
		// at most 1s, plus a round trip that a loaded machine may slow.
		if gap := f.at[i].Sub(f.at[i-1]); gap > 2*time.Second {
			t.Errorf("SUBSCRIBE %d came %v after the 503 to the one before, want within about 1s", i+1, gap.Round(time.Millisecond))
		}
	}
}

// TestResubscribesWhenHeartbeatsAreRefused: a master that refuses the
// agent's heartbeats ("subscribe again") no longer counts the stream as
// the agent's; the link must subscribe again rather than keep it.
func TestResubscribesWhenHeartbeatsAreRefused(t *testing.T) {
	f := &fakeMaster{interval: 0.05, heartbeatStatus: http.StatusBadRequest}
	run(t, f, nil)
	waitFor(t, 5*time.Second, "a second SUBSCRIBE after refused heartbeats", func() bool {
		n, _ := f.counts()
		return n >= 2
	})
}

// TestTinyHeartbeatInterval: a master announcing an absurdly small
// heartbeat interval must not crash the agent (time.NewTicker panics on a
// non-positive period) nor make it flood the master.
func TestTinyHeartbeatInterval(t *testing.T) {
	f := &fakeMaster{interval: 1e-12, heartbeatStatus: http.StatusAccepted}
	l := run(t, f, nil)
	<-l.Registered()
	waitFor(t, 5*time.Second, "heartbeats", func() bool { _, hb := f.counts(); return hb >= 3 })
	// Counted over at least 100 ms, against the time that really passed
	// (a stalled test may read late): far fewer than one per millisecond.
	start := time.Now()
	_, before := f.counts()
	time.Sleep(100 * time.Millisecond)
	_, after := f.counts()
	el := time.Since(start)
	if n := after - before; n > int(el/(5*time.Millisecond))+5 {
		t.Fatalf("%d heartbeats in %v, want the interval bounded below", n, el.Round(time.Millisecond))
	}
}

// TestKeepsRetryingARefusedRegistration: a 400 at SUBSCRIBE is logged and
// retried with backoff; the link never reports itself registered.
func TestKeepsRetryingARefusedRegistration(t *testing.T) {
	var (
		mu    sync.Mutex // guards calls
		calls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "invalid registration: tasks[0].framework_id is empty", http.StatusBadRequest)
	}))
	defer srv.Close()
	l, err := New(Config{
		Masters:    []string{strings.TrimPrefix(srv.URL, "http://")},
		Info:       mesos.AgentInfo{Hostname: "h", Resources: mesos.MustParseResources("cpus:1")},
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	}, func(context.Context, mesos.AgentEvent) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	waitFor(t, 5*time.Second, "three refused SUBSCRIBE calls", func() bool { mu.Lock(); defer mu.Unlock(); return calls >= 3 })
	cancel()
	<-done
	select {
	case <-l.Registered():
		t.Fatal("Registered() closed although every registration was refused")
	default:
	}
	if err := l.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallHeartbeat}); err != ErrNotConnected {
		t.Fatalf("Send without a stream = %v, want ErrNotConnected", err)
	}
}
