package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/agentd/masterlink"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// masterdBinary builds masterd once per test run.
func masterdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "masterd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "masterd")
		out, err := exec.Command("go", "build", "-o", binary, "corral/masterd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build masterd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type proc struct {
	cmd  *exec.Cmd
	port int
	args []string
}

func (p *proc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// startMasterd runs the real binary; extra flags follow the defaults.
func startMasterd(t *testing.T, port int, extra ...string) *proc {
	t.Helper()
	args := append([]string{
		"--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--marathon-listen", "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		"--hostname", "127.0.0.1",
		"--log-level", "warn",
	}, extra...)
	cmd := exec.Command(masterdBinary(t), args...)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, port: port, args: args}
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

var noRedirect = &http.Client{
	Timeout:       2 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(addr, path string) (int, string, []byte) {
	resp, err := noRedirect.Get("http://" + addr + path)
	if err != nil {
		return 0, "", nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), b
}

func masterState(t *testing.T, addr string) (mesos.MasterState, bool) {
	code, _, body := get(addr, "/master/state")
	if code != http.StatusOK {
		return mesos.MasterState{}, false
	}
	var st mesos.MasterState
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decoding /master/state: %v\n%s", err, body)
	}
	return st, true
}

func TestServesStateWithEmbeddedEtcd(t *testing.T) {
	port := statetest.FreePort(t)
	cfg := statetest.Config(t)
	masterdBinary(t) // build outside the measured start-up
	start := time.Now()
	startMasterd(t, port, "--work-dir", t.TempDir(), "--etcd-listen-client", cfg.ClientURL, "--etcd-listen-peer", cfg.PeerURL)
	var st mesos.MasterState
	// Typically under 0.5 s (logged below); the bound allows for a cold,
	// loaded disk under embedded etcd's first fsyncs.
	waitFor(t, 15*time.Second, "/master/state from a fresh masterd", func() bool {
		var ok bool
		st, ok = masterState(t, "127.0.0.1:"+strconv.Itoa(port))
		return ok
	})
	t.Logf("/master/state served %v after start", time.Since(start).Round(time.Millisecond))
	want := "master@127.0.0.1:" + strconv.Itoa(port)
	if st.Leader != want || st.PID != want || st.LeaderInfo == nil || st.LeaderInfo.Port != port {
		t.Fatalf("state leader = %q pid %q info %+v, want %s", st.Leader, st.PID, st.LeaderInfo, want)
	}
	if code, _, _ := get("127.0.0.1:"+strconv.Itoa(port), "/health"); code != http.StatusOK {
		t.Fatalf("/health = %d, want 200", code)
	}
}

func TestTwoMastersFailover(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	flags := []string{"--etcd-endpoints", etcdURL, "--election-ttl", "2s", "--allocation-interval", "100ms", "--agent-ping-timeout", "1s"}
	a := startMasterd(t, statetest.FreePort(t), flags...)
	b := startMasterd(t, statetest.FreePort(t), flags...)

	var leader, standby *proc
	waitFor(t, 10*time.Second, "exactly one leader and one redirecting standby", func() bool {
		ca, la, _ := get(a.addr(), "/master/state")
		cb, lb, _ := get(b.addr(), "/master/state")
		switch {
		case ca == 200 && cb == 307 && lb == "//"+a.addr()+"/master/state":
			leader, standby = a, b
		case cb == 200 && ca == 307 && la == "//"+b.addr()+"/master/state":
			leader, standby = b, a
		default:
			return false
		}
		return true
	})
	if ca, _, _ := get(a.addr(), "/master/state"); ca == 200 {
		if cb, _, _ := get(b.addr(), "/master/state"); cb == 200 {
			t.Fatal("both masters serve /master/state as leader")
		}
	}

	// Three agents that know both masters register with the leader.
	var links []*masterlink.Link
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := range 3 {
		l, err := masterlink.New(masterlink.Config{
			Masters:    []string{a.addr(), b.addr()},
			Info:       mesos.AgentInfo{Hostname: fmt.Sprintf("agent-%d", i), Port: 5051, Resources: mesos.MustParseResources("cpus:2;mem:1024;ports:[31000-32000]")},
			MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		}, func(context.Context, mesos.AgentEvent) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	activeIDs := func(addr string) map[string]bool {
		st, ok := masterState(t, addr)
		if !ok || st.UnreachableSlaves != 0 {
			return nil
		}
		ids := map[string]bool{}
		for _, s := range st.Slaves {
			if s.Active {
				ids[s.ID] = true
			}
		}
		return ids
	}
	waitFor(t, 10*time.Second, "3 agents active on the leader", func() bool { return len(activeIDs(leader.addr())) == 3 })
	before := activeIDs(leader.addr())

	// Kill the leader: no resignation, its session must expire.
	killed := time.Now()
	leader.kill()
	// The session's TTL is 2 s; etcd's lessor revokes it on its own tick
	// and fsync, which a loaded machine slows: the bound is generous, and
	// the time taken is logged.
	waitFor(t, 15*time.Second, "the standby to lead once the old session expires", func() bool {
		_, ok := masterState(t, standby.addr())
		return ok
	})
	t.Logf("new leader serving %v after the kill (TTL 2s)", time.Since(killed).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "all 3 agents to re-register with the new leader", func() bool {
		after := activeIDs(standby.addr())
		if len(after) != 3 {
			return false
		}
		for id := range before {
			if !after[id] {
				return false
			}
		}
		// The master counts an agent active before the agent has read
		// the answer to its subscription.
		for _, l := range links {
			if l.Master() != standby.addr() {
				return false
			}
		}
		return true
	})
	for _, l := range links {
		if !before[l.AgentID()] || l.Master() != standby.addr() {
			t.Fatalf("agent %s is on %s, want its old ID on the new leader %s", l.AgentID(), l.Master(), standby.addr())
		}
	}

	// The old leader comes back as a standby and points at the new leader.
	back := startMasterd(t, leader.port, flags...)
	waitFor(t, 10*time.Second, "the restarted master to redirect to the new leader", func() bool {
		code, loc, _ := get(back.addr(), "/master/state?jsonp=x")
		return code == 307 && loc == "//"+standby.addr()+"/master/state?jsonp=x"
	})
	if code, loc, _ := get(back.addr(), "/master/redirect"); code != 307 || loc != "//"+standby.addr() {
		t.Fatalf("/master/redirect = %d %q, want 307 //%s", code, loc, standby.addr())
	}
	if len(activeIDs(standby.addr())) != 3 {
		t.Fatal("agents lost after the old leader came back")
	}
}

func TestNoLeaderAnswers503(t *testing.T) {
	// An etcd that never answers: the master serves but cannot be elected.
	port := statetest.FreePort(t)
	p := startMasterd(t, port, "--etcd-endpoints", "http://127.0.0.1:"+strconv.Itoa(statetest.FreePort(t)))
	waitFor(t, 3*time.Second, "503 No leader elected", func() bool {
		code, _, body := get(p.addr(), "/master/state")
		return code == http.StatusServiceUnavailable && string(body) == "No leader elected\n"
	})
}

// TestMain removes the masterd binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}
