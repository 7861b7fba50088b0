package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/mesos"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// never polls cond for d and fails if it ever holds.
func never(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("condition met within %v, want never", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder collects what onChange is called with.
type recorder struct {
	mu      sync.Mutex // guards results and at
	results []Result
	at      []time.Time
}

func (r *recorder) onChange(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	r.at = append(r.at, time.Now())
}

func (r *recorder) all() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.results...)
}

func (r *recorder) kills() int {
	n := 0
	for _, res := range r.all() {
		if res.Kill {
			n++
		}
	}
	return n
}

// run runs c until the test ends.
func run(t *testing.T, c *Checker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// fast is a check of typ that runs every 10ms with a 1s timeout, never
// kills, and starts at once.
func fast(typ string) mesos.HealthCheck {
	return mesos.HealthCheck{Type: typ, DelaySeconds: 0.001, IntervalSeconds: 0.01, TimeoutSeconds: 1}
}

// pastGrace is a task start long enough ago that the grace period is over.
func pastGrace() time.Time { return time.Now().Add(-time.Hour) }

// checked reports whether c has a result.
func checked(c *Checker) func() bool {
	return func() bool {
		r := c.Result()
		return !r.LastSuccess.IsZero() || !r.LastFailure.IsZero()
	}
}

// fakeExec answers COMMAND checks from a script: call n (from 1) gets
// script(n).
type fakeExec struct {
	calls  atomic.Int64
	script func(n int64) (int, string, error)

	mu       sync.Mutex // guards commands
	commands []string
}

func (f *fakeExec) exec(ctx context.Context, command string) (int, string, error) {
	f.mu.Lock()
	f.commands = append(f.commands, command)
	f.mu.Unlock()
	return f.script(f.calls.Add(1))
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SplitHostPort(%q): %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("port of %q: %v", addr, err)
	}
	return n
}

func TestHTTP(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		healthy bool
		cause   string
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {}, true, ""},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, true, ""},
		{"302 not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/broken", http.StatusFound)
		}, true, ""},
		{"399", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(399) }, true, ""},
		{"103 then 200", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		}, true, ""},
		{"101 final", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) }, false, "101 Switching Protocols"},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, false, "404 Not Found"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, false, "500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wrongPath atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/health" {
					wrongPath.Store(r.URL.Path)
					w.WriteHeader(500)
					return
				}
				tt.handler(w, r)
			}))
			defer srv.Close()
			check := fast(TypeHTTP)
			check.HTTPPath = "/health"
			c, err := New(check, Target{Host: "127.0.0.1", Port: port(t, srv.Listener.Addr().String())}, nil, pastGrace(), nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			run(t, c)
			waitFor(t, 5*time.Second, checked(c))
			r := c.Result()
			if r.Healthy != tt.healthy {
				t.Errorf("Healthy = %v, want %v (cause %q)", r.Healthy, tt.healthy, r.LastFailureCause)
			}
			if !strings.Contains(r.LastFailureCause, tt.cause) {
				t.Errorf("LastFailureCause = %q, want it to contain %q", r.LastFailureCause, tt.cause)
			}
			if p := wrongPath.Load(); p != nil {
				t.Errorf("server got a request for %q, want only /health", p)
			}
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	check := fast(TypeHTTP)
	check.TimeoutSeconds = 0.05
	c, err := New(check, Target{Port: port(t, srv.Listener.Addr().String())}, nil, pastGrace(), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, checked(c))
	r := c.Result()
	if r.Healthy || r.ConsecutiveFailures == 0 {
		t.Errorf("Healthy, ConsecutiveFailures = %v, %d, want false, > 0", r.Healthy, r.ConsecutiveFailures)
	}
	if want := "no result within 50ms"; !strings.Contains(r.LastFailureCause, want) {
		t.Errorf("LastFailureCause = %q, want it to contain %q", r.LastFailureCause, want)
	}
}

func TestTCP(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name    string
		addr    string
		healthy bool
	}{
		{"open port", open.Addr().String(), true},
		{"closed port", closedAddr, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(fast(TypeTCP), Target{Host: "127.0.0.1", Port: port(t, tt.addr)}, nil, pastGrace(), nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			run(t, c)
			waitFor(t, 5*time.Second, checked(c))
			if r := c.Result(); r.Healthy != tt.healthy {
				t.Errorf("Healthy = %v, want %v (cause %q)", r.Healthy, tt.healthy, r.LastFailureCause)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name    string
		script  func(int64) (int, string, error)
		healthy bool
		cause   string
	}{
		{"exit 0", func(int64) (int, string, error) { return 0, "ok", nil }, true, ""},
		{"exit 1", func(int64) (int, string, error) { return 1, "not ready\n", nil }, false, "exited with code 1: not ready"},
		{"exec error", func(int64) (int, string, error) { return -1, "", errors.New("task not running") }, false, "task not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExec{script: tt.script}
			check := fast(TypeCommand)
			check.Command = &mesos.CommandInfo{Value: "test -f /tmp/ready"}
			c, err := New(check, Target{}, f.exec, pastGrace(), nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			run(t, c)
			waitFor(t, 5*time.Second, checked(c))
			r := c.Result()
			if r.Healthy != tt.healthy {
				t.Errorf("Healthy = %v, want %v (cause %q)", r.Healthy, tt.healthy, r.LastFailureCause)
			}
			if !strings.Contains(r.LastFailureCause, tt.cause) {
				t.Errorf("LastFailureCause = %q, want it to contain %q", r.LastFailureCause, tt.cause)
			}
			f.mu.Lock()
			got := f.commands[0]
			f.mu.Unlock()
			if got != "test -f /tmp/ready" {
				t.Errorf("exec got command %q, want %q", got, "test -f /tmp/ready")
			}
		})
	}
}

func TestCommandTimeout(t *testing.T) {
	exec := func(ctx context.Context, command string) (int, string, error) {
		<-ctx.Done()
		return -1, "", ctx.Err()
	}
	check := fast(TypeCommand)
	check.TimeoutSeconds = 0.03
	check.Command = &mesos.CommandInfo{Value: "sleep 100"}
	c, err := New(check, Target{}, exec, pastGrace(), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, checked(c))
	if r := c.Result(); !strings.Contains(r.LastFailureCause, "no result within 30ms") {
		t.Errorf("LastFailureCause = %q, want it to contain %q", r.LastFailureCause, "no result within 30ms")
	}
}

func TestGracePeriodEndsAtFirstSuccess(t *testing.T) {
	// Three failures in the grace period, a pass, then failures that count.
	f := &fakeExec{script: func(n int64) (int, string, error) {
		if n == 4 {
			return 0, "", nil
		}
		return 1, "", nil
	}}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.GracePeriodSeconds = 3600
	check.ConsecutiveFailures = 2
	var rec recorder
	c, err := New(check, Target{}, f.exec, time.Now(), rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return rec.kills() > 0 })

	got := rec.all()
	want := []struct {
		healthy bool
		fails   int
		kill    bool
	}{{true, 0, false}, {false, 1, false}, {false, 2, true}}
	if len(got) != len(want) {
		t.Fatalf("onChange got %d results %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Healthy != w.healthy || got[i].ConsecutiveFailures != w.fails || got[i].Kill != w.kill {
			t.Errorf("onChange #%d = healthy %v, failures %d, kill %v; want %v, %d, %v",
				i, got[i].Healthy, got[i].ConsecutiveFailures, got[i].Kill, w.healthy, w.fails, w.kill)
		}
	}
	if n := f.calls.Load(); n != 6 {
		t.Errorf("checks run = %d, want 6 (3 ignored, 1 pass, 2 failures)", n)
	}
}

func TestGracePeriodExpires(t *testing.T) {
	f := &fakeExec{script: func(int64) (int, string, error) { return 1, "", nil }}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.GracePeriodSeconds = 0.2
	check.ConsecutiveFailures = 2
	var rec recorder
	started := time.Now()
	c, err := New(check, Target{}, f.exec, started, rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return rec.kills() > 0 })
	rec.mu.Lock()
	firstCounted := rec.at[0]
	rec.mu.Unlock()
	if d := firstCounted.Sub(started); d < 200*time.Millisecond {
		t.Errorf("first counted failure %v after start, want >= the 200ms grace period", d)
	}
	if n := f.calls.Load(); n < 5 {
		t.Errorf("checks run = %d, want several ignored in the grace period before the 2 that counted", n)
	}
}

func TestKillOnce(t *testing.T) {
	f := &fakeExec{script: func(int64) (int, string, error) { return 1, "", nil }}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.ConsecutiveFailures = 3
	var rec recorder
	c, err := New(check, Target{}, f.exec, pastGrace(), rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return rec.kills() > 0 })
	// Twenty intervals: no more checks and no second kill.
	never(t, 200*time.Millisecond, func() bool { return f.calls.Load() > 3 || len(rec.all()) > 3 })

	got := rec.all()
	for i, r := range got {
		if r.ConsecutiveFailures != i+1 || r.Kill != (i == 2) || r.Healthy {
			t.Errorf("onChange #%d = %+v, want %d failures, kill %v, unhealthy", i, r, i+1, i == 2)
		}
	}
	if n := rec.kills(); n != 1 {
		t.Errorf("results with Kill = %d, want 1", n)
	}
	if r := c.Result(); !r.Kill {
		t.Errorf("Result().Kill = false after the kill, want true")
	}
}

func TestZeroMaxFailuresNeverKills(t *testing.T) {
	f := &fakeExec{script: func(int64) (int, string, error) { return 1, "", nil }}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	var rec recorder
	c, err := New(check, Target{}, f.exec, pastGrace(), rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return c.Result().ConsecutiveFailures >= 10 })
	if n := rec.kills(); n != 0 {
		t.Errorf("results with Kill = %d, want 0", n)
	}
}

func TestRecovery(t *testing.T) {
	// Two failures, then passes from then on.
	f := &fakeExec{script: func(n int64) (int, string, error) {
		if n <= 2 {
			return 1, "", nil
		}
		return 0, "", nil
	}}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.ConsecutiveFailures = 3
	var rec recorder
	c, err := New(check, Target{}, f.exec, pastGrace(), rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return f.calls.Load() >= 8 })

	got := rec.all()
	if len(got) != 3 {
		t.Fatalf("onChange got %d results %+v, want 3: 1 failure, 2 failures, healthy (and none for repeated passes)", len(got), got)
	}
	if got[0].ConsecutiveFailures != 1 || got[1].ConsecutiveFailures != 2 {
		t.Errorf("failure counts = %d, %d, want 1, 2", got[0].ConsecutiveFailures, got[1].ConsecutiveFailures)
	}
	if !got[2].Healthy || got[2].ConsecutiveFailures != 0 || got[2].Kill {
		t.Errorf("after a pass: %+v, want healthy with 0 failures and no kill", got[2])
	}
	if r := c.Result(); !r.Healthy || r.ConsecutiveFailures != 0 {
		t.Errorf("Result() = %+v, want healthy with 0 failures", r)
	}
}

func TestDelay(t *testing.T) {
	var first atomic.Int64 // unix nanos of the first check
	exec := func(context.Context, string) (int, string, error) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		return 0, "", nil
	}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.DelaySeconds = 0.15
	started := time.Now()
	c, err := New(check, Target{}, exec, started, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	run(t, c)
	waitFor(t, 5*time.Second, func() bool { return first.Load() != 0 })
	if d := time.Unix(0, first.Load()).Sub(started); d < 150*time.Millisecond {
		t.Errorf("first check %v after the task started, want >= the 150ms delay", d)
	}
}

func TestCancelDuringCheck(t *testing.T) {
	// A check cut short by Run's ctx is not a failure of the task.
	inCheck := make(chan struct{})
	exec := func(ctx context.Context, _ string) (int, string, error) {
		close(inCheck)
		<-ctx.Done()
		return -1, "", ctx.Err()
	}
	check := fast(TypeCommand)
	check.Command = &mesos.CommandInfo{Value: "check"}
	check.TimeoutSeconds = 3600
	var rec recorder
	c, err := New(check, Target{}, exec, pastGrace(), rec.onChange)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	<-inCheck
	cancel()
	<-done
	if got := rec.all(); len(got) != 0 {
		t.Errorf("onChange got %+v after cancel, want nothing", got)
	}
	if r := c.Result(); !r.LastFailure.IsZero() {
		t.Errorf("Result() = %+v, want no failure recorded", r)
	}
}

// TestHTTPS probes a self-signed TLS server with scheme https: healthy; the
// same server probed over plain HTTP is not.
func TestHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, tt := range []struct {
		scheme  string
		healthy bool
	}{{"https", true}, {"", false}} {
		check := fast(TypeHTTP)
		check.Scheme = tt.scheme
		c, err := New(check, Target{Host: "127.0.0.1", Port: port(t, srv.Listener.Addr().String())}, nil, pastGrace(), nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		run(t, c)
		waitFor(t, 5*time.Second, checked(c))
		if r := c.Result(); r.Healthy != tt.healthy {
			t.Errorf("scheme %q: Healthy = %v, want %v (cause %q)", tt.scheme, r.Healthy, tt.healthy, r.LastFailureCause)
		}
	}
}
