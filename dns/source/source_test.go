package source

import (
	"context"
	"encoding/json"
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

	"corral/mesos"
	"corral/tstest"
)

func testLog() *slog.Logger {
	if os.Getenv("CORRAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"no masters", func(c *Config) { c.Masters = nil }, "invalid masters"},
		{"no port", func(c *Config) { c.Masters = []string{"m1"} }, `invalid master "m1", must be host:port`},
		{"port 0", func(c *Config) { c.Masters = []string{"m1:0"} }, "port must be in [1, 65535]"},
		{"scheme", func(c *Config) { c.Scheme = "ftp" }, `invalid scheme "ftp"`},
		{"refresh", func(c *Config) { c.Refresh = time.Millisecond }, "invalid refresh 1ms, must be at least 1s"},
		{"coalesce", func(c *Config) { c.Coalesce = 2 * time.Second }, "invalid coalesce 2s"},
		{"backoff", func(c *Config) { c.MaxBackoff = time.Millisecond }, "invalid max backoff"},
		{"client timeout", func(c *Config) { c.Client = &http.Client{Timeout: time.Second} }, "invalid client timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// fakeMaster is a leading master on loopback. Its /api/v1 runs stream for
// each SUBSCRIBE, or answers 404 when stream is nil.
type fakeMaster struct {
	srv        *httptest.Server
	subscribes atomic.Int32
	mu         sync.Mutex // guards state and stream
	state      mesos.MasterState
	stream     func(w http.ResponseWriter, r *http.Request, n int)
}

func newFakeMaster(t *testing.T) *fakeMaster {
	f := &fakeMaster{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /master/redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+r.Host)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("GET /master/state", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		st := f.state
		f.mu.Unlock()
		json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("POST /api/v1", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		stream := f.stream
		f.mu.Unlock()
		if stream == nil {
			http.NotFound(w, r)
			return
		}
		n := int(f.subscribes.Add(1))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		stream(w, r, n)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	f.state = mesos.MasterState{Leader: "master@" + f.addr(), PID: "master@" + f.addr(), Hostname: "fake",
		Frameworks: []mesos.StateFramework{{ID: "F1", Name: "marathon", PID: "scheduler-1@10.0.0.7:8080"}}}
	return f
}

func (f *fakeMaster) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeMaster) setStream(s func(w http.ResponseWriter, r *http.Request, n int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stream = s
}

func writeRecord(w http.ResponseWriter, v any) {
	mesos.NewRecordWriter(w).Write(v)
	w.(http.Flusher).Flush()
}

// snapshots collects what Run emits.
type snapshots struct {
	mu  sync.Mutex
	all []mesos.MasterState
}

func (s *snapshots) emit(ms mesos.MasterState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, ms)
}

func (s *snapshots) list() []mesos.MasterState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mesos.MasterState(nil), s.all...)
}

func (s *snapshots) last() (mesos.MasterState, bool) {
	l := s.list()
	if len(l) == 0 {
		return mesos.MasterState{}, false
	}
	return l[len(l)-1], true
}

// run starts a source against masters and stops it when the test ends.
func run(t *testing.T, change func(*Config), masters ...string) (*Source, *snapshots) {
	t.Helper()
	src := newSource(t, change, masters...)
	snaps := &snapshots{}
	runWith(t, src, snaps.emit)
	return src, snaps
}

func newSource(t *testing.T, change func(*Config), masters ...string) *Source {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Masters = masters
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	cfg.RequestTimeout = 2 * time.Second
	if change != nil {
		change(&cfg)
	}
	src, err := New(cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// runWith runs src until the test ends.
func runWith(t *testing.T, src *Source, emit func(mesos.MasterState)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context ending")
		}
	})
}

func hasRunningTask(ms mesos.MasterState, task, ip string) bool {
	for _, f := range ms.Frameworks {
		for _, tk := range f.Tasks {
			if tk.ID != task || tk.State != mesos.TaskRunning {
				continue
			}
			if ip == "" {
				return true
			}
			for _, st := range tk.Statuses {
				if st.ContainerStatus != nil && len(st.ContainerStatus.NetworkInfos) > 0 &&
					len(st.ContainerStatus.NetworkInfos[0].IPAddresses) > 0 && st.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress == ip {
					return true
				}
			}
		}
	}
	return false
}

var baseState = mesos.GetState{
	GetAgents:     mesos.GetAgents{Agents: []mesos.OperatorAgent{agent("S1")}},
	GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.OperatorFramework{framework("F1", "marathon")}},
	GetTasks:      mesos.GetTasks{Tasks: []mesos.V1Task{v1Task("F1", "t1", "S1", mesos.TaskRunning)}},
}

func TestStreamFollowsEvents(t *testing.T) {
	f := newFakeMaster(t)
	next := make(chan mesos.OperatorEvent, 16)
	f.setStream(func(w http.ResponseWriter, r *http.Request, n int) {
		writeRecord(w, subscribed(baseState))
		for ev := range next {
			writeRecord(w, ev)
		}
	})
	src, snaps := run(t, nil, f.addr())
	tstest.WaitFor(t, 5*time.Second, "the first snapshot", func() bool {
		ms, ok := snaps.last()
		return ok && hasRunningTask(ms, "t1", "")
	})
	ms, _ := snaps.last()
	if ms.Leader != "master@"+f.addr() || ms.Hostname != "fake" || ms.Frameworks[0].PID != "scheduler-1@10.0.0.7:8080" || ms.Frameworks[0].Name != "marathon" {
		t.Fatalf("first snapshot: leader %q hostname %q framework %+v, want the master fields and PID from /master/state", ms.Leader, ms.Hostname, ms.Frameworks[0])
	}
	if st := src.Status(); !st.Connected || !st.Streaming || st.Leader != f.addr() || st.Err != nil {
		t.Fatalf("Status() = %+v, want connected and streaming from %s", st, f.addr())
	}
	next <- mesos.OperatorEvent{Type: mesos.OperatorEventTaskAdded, TaskAdded: &mesos.OperatorTaskAdded{Task: v1Task("F1", "t2", "S1", mesos.TaskStaging)}}
	next <- taskUpdate("F1", "t2", mesos.TaskRunning, nil, "10.1.0.2")
	next <- taskUpdate("F1", "t1", mesos.TaskKilled, nil, "")
	tstest.WaitFor(t, 5*time.Second, "t2 running and t1 gone", func() bool {
		ms, _ := snaps.last()
		return hasRunningTask(ms, "t2", "10.1.0.2") && !hasRunningTask(ms, "t1", "")
	})
	close(next)
}

// TestBrokenStreams: whatever a master does to its stream after SUBSCRIBED,
// the source keeps the last good snapshot (never an empty one), reports
// the error, and subscribes again.
func TestBrokenStreams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(w http.ResponseWriter)
		err   string // substring of the error reported
	}{
		{"garbage length", func(w http.ResponseWriter) { w.Write([]byte("abc\n{}")) }, `invalid record length "abc"`},
		{"garbage record", func(w http.ResponseWriter) { w.Write([]byte("5\nnope!")) }, "decoding record"},
		{"wrong JSON type", func(w http.ResponseWriter) { w.Write([]byte(`14` + "\n" + `{"type":[1,2]}`)) }, "decoding record"},
		{"truncated record", func(w http.ResponseWriter) { w.Write([]byte("100\n{\"type\":\"TASK_")) }, "unexpected EOF"},
		{"clean end", func(w http.ResponseWriter) {}, "the master ended the event stream"},
		{"vanishes", func(w http.ResponseWriter) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMaster(t)
			// The stream breaks once the source has emitted SUBSCRIBED's
			// snapshot, which waits for its own read of /master/state.
			emitted := make(chan struct{})
			f.setStream(func(w http.ResponseWriter, r *http.Request, n int) {
				if n > 1 {
					// Later subscriptions never get anywhere.
					<-r.Context().Done()
					return
				}
				writeRecord(w, subscribed(baseState))
				select {
				case <-emitted:
				case <-r.Context().Done():
					return
				}
				tc.after(w)
			})
			src, snaps := run(t, nil, f.addr())
			tstest.WaitFor(t, 5*time.Second, "the first snapshot", func() bool { return len(snaps.list()) > 0 })
			close(emitted)
			tstest.WaitFor(t, 5*time.Second, "a second subscription", func() bool { return f.subscribes.Load() >= 2 })
			tstest.WaitFor(t, 5*time.Second, "the error reported", func() bool {
				st := src.Status()
				return !st.Connected && st.Err != nil && strings.Contains(st.Err.Error(), tc.err)
			})
			all := snaps.list()
			if len(all) == 0 {
				t.Fatal("no snapshot before the stream broke")
			}
			for i, ms := range all {
				if !hasRunningTask(ms, "t1", "") {
					t.Fatalf("snapshot %d of %d lacks t1: %+v", i, len(all), ms)
				}
			}
		})
	}
}

// TestPollsWithoutOperatorAPI: a master without /api/v1 is polled.
func TestPollsWithoutOperatorAPI(t *testing.T) {
	f := newFakeMaster(t)
	f.state.Frameworks[0].Tasks = []mesos.StateTask{{ID: "old", State: mesos.TaskRunning, FrameworkID: "F1"}}
	src, snaps := run(t, func(c *Config) { c.Refresh = time.Second }, f.addr())
	tstest.WaitFor(t, 5*time.Second, "the first poll", func() bool {
		ms, ok := snaps.last()
		return ok && hasRunningTask(ms, "old", "")
	})
	if st := src.Status(); !st.Connected || st.Streaming {
		t.Fatalf("Status() = %+v, want connected, not streaming", st)
	}
	f.mu.Lock()
	f.state.Frameworks[0].Tasks = []mesos.StateTask{{ID: "new", State: mesos.TaskRunning, FrameworkID: "F1"}}
	f.mu.Unlock()
	tstest.WaitFor(t, 5*time.Second, "the next poll", func() bool {
		ms, _ := snaps.last()
		return hasRunningTask(ms, "new", "")
	})
	n := len(snaps.list())
	time.Sleep(1500 * time.Millisecond)
	if got := len(snaps.list()); got != n {
		t.Fatalf("an unchanged state was emitted again: %d snapshots, then %d", n, got)
	}
}

// TestFollowsLeaderAndReconnects: the source asks a standby for the leader,
// and after the leader's stream ends it subscribes again, re-resolving.
func TestFollowsLeaderAndReconnects(t *testing.T) {
	leader := newFakeMaster(t)
	leader.setStream(func(w http.ResponseWriter, r *http.Request, n int) {
		st := baseState
		if n > 1 {
			st.GetTasks.Tasks = []mesos.V1Task{v1Task("F1", "t-after", "S1", mesos.TaskRunning)}
		}
		writeRecord(w, subscribed(st))
		if n == 1 {
			return // the stream ends: the leader stepped down and back
		}
		<-r.Context().Done()
	})
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leader.addr()+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	down := "127.0.0.1:1" // a master that is down
	_, snaps := run(t, nil, down, strings.TrimPrefix(standby.URL, "http://"))
	tstest.WaitFor(t, 5*time.Second, "the state after resubscribing", func() bool {
		ms, _ := snaps.last()
		return hasRunningTask(ms, "t-after", "")
	})
	leader.srv.CloseClientConnections()
}
