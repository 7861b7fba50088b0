package isolation

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestSpecValidate(t *testing.T) {
	ok := Spec{ID: "web.1_a-b", Args: []string{"/bin/true"}, HostRoot: true}
	tests := []struct {
		name string
		edit func(*Spec)
		want string // substring of the error; "" for none
	}{
		{"valid", func(*Spec) {}, ""},
		{"empty ID", func(s *Spec) { s.ID = "" }, "invalid ID"},
		{"ID with slash", func(s *Spec) { s.ID = "a/b" }, "invalid ID"},
		{"ID with plus", func(s *Spec) { s.ID = "a+b" }, "invalid ID"},
		{"dot dot", func(s *Spec) { s.ID = ".." }, "invalid ID"},
		{"no args", func(s *Spec) { s.Args = nil }, "no command"},
		{"two roots", func(s *Spec) { s.Rootfs = "/img" }, "must be empty with HostRoot"},
		{"no root", func(s *Spec) { s.HostRoot = false }, "set HostRoot or Rootfs"},
		{"relative rootfs", func(s *Spec) { s.HostRoot, s.Rootfs = false, "img" }, "invalid Rootfs"},
		{"relative sandbox", func(s *Spec) { s.Sandbox = "sb" }, "invalid Sandbox"},
		{"negative cpus", func(s *Spec) { s.CPUs = -1 }, "invalid CPUs -1"},
		{"negative mem", func(s *Spec) { s.MemMB = -2 }, "invalid MemMB -2"},
		{"negative pids", func(s *Spec) { s.PidsLimit = -3 }, "invalid PidsLimit -3"},
		{"relative mount", func(s *Spec) { s.Mounts = []Mount{{Source: "x", Destination: "/x"}} }, "invalid Mounts[0]"},
		{"profile and unconfined", func(s *Spec) { s.Seccomp, s.SeccompUnconfined = &specs.LinuxSeccomp{}, true }, "invalid Seccomp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			err := s.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   ExitStatus
		stdout string
	}{
		{"echo", "echo hello", ExitStatus{}, "hello\n"},
		{"exit 3", "exit 3", ExitStatus{Code: 3}, ""},
		{"stderr", "echo oops >&2; exit 1", ExitStatus{Code: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			st, out := e.run(t, e.spec("exit-"+strings.ReplaceAll(tt.name, " ", ""), tt.script))
			if st != tt.want || out != tt.stdout {
				t.Errorf("%q: status %+v, stdout %q; want %+v, %q", tt.script, st, out, tt.want, tt.stdout)
			}
		})
	}
	t.Run("SIGKILL", func(t *testing.T) {
		e := newEnv(t)
		c := e.start(t, e.spec("exit-kill", "sleep 1000"))
		if !c.Running() {
			t.Fatal("Running() = false after Start")
		}
		if err := c.Signal(syscall.SIGKILL, false); err != nil {
			t.Fatalf("Signal(SIGKILL): %v", err)
		}
		st, err := c.Wait()
		if want := (ExitStatus{Code: 137, Signal: syscall.SIGKILL}); err != nil || st != want {
			t.Fatalf("Wait() = %+v, %v; want %+v", st, err, want)
		}
		if c.Running() {
			t.Error("Running() = true after the init was killed")
		}
		if err := c.Signal(syscall.SIGTERM, false); !errors.Is(err, ErrNotRunning) {
			t.Errorf("Signal after exit = %v, want ErrNotRunning", err)
		}
	})
}

// TestSignalAll sends SIGTERM to every process: the init of a PID
// namespace ignores it without a handler, its children do not.
func TestSignalAll(t *testing.T) {
	e := newEnv(t)
	c := e.start(t, e.spec("sigall", "sleep 1000 & sleep 1000 & echo ready; wait; echo children gone"))
	waitFor(t, 5*time.Second, "the children", func() bool { return strings.Contains(e.output(t, "stdout"), "ready") })
	if err := c.Signal(syscall.SIGTERM, true); err != nil {
		t.Fatalf("Signal(SIGTERM, all): %v", err)
	}
	st, err := c.Wait()
	if out := e.output(t, "stdout"); err != nil || st != (ExitStatus{}) || !strings.Contains(out, "children gone") {
		t.Errorf("after SIGTERM to all: %+v, %v, stdout %q; want the children gone and a clean exit", st, err, out)
	}
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	resolv := filepath.Join(e.dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.spec("iso", `
echo pid=$$
echo hostname=$(hostname)
echo foo=$FOO
echo cwd=$(pwd)
touch /rootfile 2>/dev/null && echo root=rw || echo root=ro
touch /usr/x 2>/dev/null && echo usr=rw || echo usr=ro
echo x > sandboxfile && echo sandbox=rw
echo x > /tmp/f && echo tmp=rw
cat /etc/resolv.conf
grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -d '\t'
ls /proc/1/root >/dev/null 2>&1 && echo proc=own
`)
	s.Hostname = "box-1"
	s.Env = []string{"FOO=bar baz"}
	s.Mounts = []Mount{{Source: resolv, Destination: "/etc/resolv.conf", ReadOnly: true}}
	st, out := e.run(t, s)
	if st != (ExitStatus{}) {
		t.Fatalf("status %+v, stderr %q", st, e.output(t, "stderr"))
	}
	for _, want := range []string{
		"pid=1", "hostname=box-1", "foo=bar baz", "cwd=" + SandboxPath,
		"root=ro", "usr=ro", "sandbox=rw", "tmp=rw", "nameserver 192.0.2.53",
		"CapEff:" + dockerCapMask, "NoNewPrivs:1",
	} {
		if !slices.Contains(strings.Split(out, "\n"), want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(e.sandbox, "sandboxfile")); err != nil || string(b) != "x\n" {
		t.Errorf("sandboxfile on the host = %q, %v; want x", b, err)
	}
	if exists("/rootfile") {
		os.Remove("/rootfile")
		t.Error("the container wrote to the host's /")
	}
	if host, _ := os.Hostname(); host == "box-1" {
		t.Error("the container changed the host's hostname")
	}
}

func TestOOM(t *testing.T) {
	e := newEnv(t)
	s := e.spec("oom", "head -c 200m /dev/zero | tail")
	s.MemMB = 32
	c := e.start(t, s)
	st, err := c.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !st.OOMKilled || st.Code == 0 {
		t.Errorf("Wait() = %+v, want OOMKilled and a failure", st)
	}
	t.Logf("OOM-killed: %+v", st)
	if oom, err := c.OOMKilled(); err != nil || !oom {
		t.Errorf("OOMKilled() = %v, %v; want true", oom, err)
	}

	ok := e.spec("no-oom", "head -c 10m /dev/zero | tail -c 1 >/dev/null")
	ok.MemMB = 32
	st, _ = e.run(t, ok)
	if st != (ExitStatus{}) {
		t.Errorf("within the limit: Wait() = %+v, want success without OOM", st)
	}
}

// cgroupFile is a file of container id's cgroup for controller.
func cgroupFile(e *testEnv, controller, id, file string) string {
	if e.rt.mode.unified {
		return filepath.Join("/sys/fs/cgroup", cgroupPath(id), file)
	}
	return filepath.Join(e.rt.mode.v1Root, controller, cgroupPath(id), file)
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestLimits(t *testing.T) {
	e := newEnv(t)
	s := e.spec("limits", "sleep 1000")
	s.CPUs, s.MemMB = 0.5, 64
	c := e.start(t, s)
	want := map[string]string{}
	if e.rt.mode.unified {
		want[cgroupFile(e, "", s.ID, "cpu.max")] = "50000 100000"
		want[cgroupFile(e, "", s.ID, "memory.max")] = "67108864"
		if exists(cgroupFile(e, "", s.ID, "memory.swap.max")) {
			want[cgroupFile(e, "", s.ID, "memory.swap.max")] = "0"
		}
	} else {
		want[cgroupFile(e, "cpu", s.ID, "cpu.cfs_quota_us")] = "50000"
		want[cgroupFile(e, "cpu", s.ID, "cpu.cfs_period_us")] = "100000"
		want[cgroupFile(e, "cpu", s.ID, "cpu.shares")] = "512"
		want[cgroupFile(e, "memory", s.ID, "memory.limit_in_bytes")] = "67108864"
		if e.rt.mode.memsw {
			want[cgroupFile(e, "memory", s.ID, "memory.memsw.limit_in_bytes")] = "67108864"
		}
	}
	for p, v := range want {
		if got := readTrim(t, p); got != v {
			t.Errorf("%s = %q, want %q", p, got, v)
		}
	}
	if err := c.Signal(syscall.SIGKILL, true); err != nil {
		t.Fatalf("Signal(SIGKILL, all): %v", err)
	}
	if st, err := c.Wait(); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("Wait() = %+v, %v; want killed by SIGKILL", st, err)
	}

	// A task asking for less memory than its container needs to start
	// runs under Mesos's least limit, 32 MiB, rather than failing.
	t.Run("tiny memory", func(t *testing.T) {
		e := newEnv(t)
		s := e.spec("tinymem", "echo started; exec sleep 1000")
		s.MemMB = 1
		c := e.start(t, s)
		waitFor(t, 5*time.Second, "the task to run", func() bool { return e.output(t, "stdout") == "started\n" })
		p := cgroupFile(e, "memory", s.ID, "memory.limit_in_bytes")
		if e.rt.mode.unified {
			p = cgroupFile(e, "", s.ID, "memory.max")
		}
		limit := readTrim(t, p)
		if err := c.Signal(syscall.SIGKILL, true); err != nil {
			t.Fatal(err)
		}
		c.Wait()
		if limit != "33554432" {
			t.Errorf("memory limit %s, want 32 MiB", limit)
		}
	})

	t.Run("pids", func(t *testing.T) {
		e := newEnv(t)
		s := e.spec("pids", "i=0; while [ $i -lt 30 ]; do sleep 100 & i=$((i+1)); done; echo started all")
		s.PidsLimit = 10
		c := e.start(t, s)
		st, err := c.Wait()
		if err != nil {
			t.Fatal(err)
		}
		out := e.output(t, "stdout")
		if st.Code == 0 || strings.Contains(out, "started all") {
			t.Errorf("30 processes under a limit of 10: %+v, stdout %q; want a fork failure", st, out)
		}
		if got := readTrim(t, cgroupFile(e, "pids", s.ID, "pids.max")); got != "10" {
			t.Errorf("pids.max = %q, want 10", got)
		}
		if ev := readTrim(t, cgroupFile(e, "pids", s.ID, "pids.events")); ev == "max 0" {
			t.Errorf("pids.events = %q, want the limit hit", ev)
		}
	})
}

func TestLoad(t *testing.T) {
	e := newEnv(t)
	c := e.start(t, e.spec("load", "trap 'echo got TERM; exit 7' TERM; echo ready; sleep 1000 & wait"))
	waitFor(t, 5*time.Second, "the trap", func() bool { return strings.Contains(e.output(t, "stdout"), "ready") })

	rt2, err := NewRuntime(e.root)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := rt2.List(); err != nil || !slices.Equal(ids, []string{"load"}) {
		t.Errorf("List() = %v, %v; want [load]", ids, err)
	}
	l, err := rt2.Load("load")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !l.Running() || l.Pid() != c.Pid() || l.ID() != "load" {
		t.Errorf("loaded: Running %v, Pid %d, ID %q; want true, %d, load", l.Running(), l.Pid(), l.ID(), c.Pid())
	}
	if _, err := l.Wait(); !errors.Is(err, ErrNotChild) {
		t.Errorf("Wait on a loaded container = %v, want ErrNotChild", err)
	}
	if st, err := l.Stats(); err != nil || st.Pids < 2 {
		t.Errorf("Stats() = %+v, %v; want sh and sleep", st, err)
	}
	if err := l.Signal(syscall.SIGTERM, false); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	if st, err := c.Wait(); err != nil || st != (ExitStatus{Code: 7}) {
		t.Errorf("Wait() after SIGTERM = %+v, %v; want code 7", st, err)
	}
	if out := e.output(t, "stdout"); !strings.Contains(out, "got TERM") {
		t.Errorf("stdout %q lacks the trap's output", out)
	}
	stale, err := rt2.Load("load")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatalf("Destroy of the loaded container: %v", err)
	}
	checkGone(t, e, "load")
	if err := l.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := stale.Destroy(); err != nil || stale.Running() {
		t.Errorf("Destroy through a stale handle = %v (running %v), want nil", err, stale.Running())
	}
	if _, err := rt2.Load("load"); err == nil {
		t.Error("Load after Destroy succeeded")
	}

	t.Run("destroy running", func(t *testing.T) {
		c := e.start(t, e.spec("load-run", "sleep 1000 & sleep 1000"))
		l, err := rt2.Load("load-run")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Destroy(); err != nil {
			t.Fatalf("Destroy of a running container from a second Runtime: %v", err)
		}
		if l.Running() {
			t.Error("Running() after Destroy")
		}
		if st, err := c.Wait(); err != nil || st.Signal != syscall.SIGKILL {
			t.Errorf("Wait() = %+v, %v; want killed", st, err)
		}
		checkGone(t, e, "load-run")
	})

	t.Run("remove incomplete", func(t *testing.T) {
		c := e.start(t, e.spec("load-broken", "sleep 1000"))
		// As if the creating process died before libcontainer saved its state.
		if err := os.Remove(filepath.Join(e.root, "load-broken", "state.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := rt2.Load("load-broken"); err == nil {
			t.Fatal("Load without state.json succeeded")
		}
		if err := rt2.Remove("load-broken"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if st, err := c.Wait(); err != nil || st.Signal != syscall.SIGKILL {
			t.Errorf("Wait() = %+v, %v; want killed", st, err)
		}
		checkGone(t, e, "load-broken")
		if err := rt2.Remove("load-broken"); err != nil {
			t.Errorf("second Remove: %v", err)
		}
	})
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	s := e.spec("stats", "head -c 4m /dev/zero > /tmp/f; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo busy; sleep 1000")
	s.MemMB = 64
	c := e.start(t, s)
	waitFor(t, 30*time.Second, "the busy loop", func() bool { return strings.Contains(e.output(t, "stdout"), "busy") })
	st, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.MemUsageBytes < 4<<20 || st.MemLimitBytes != 64<<20 || st.CPUUserSeconds+st.CPUSystemSeconds <= 0 || st.Pids < 2 || st.OOMKills != 0 {
		t.Errorf("Stats() = %+v; want >= 4MiB used of 64MiB, CPU time, >= 2 pids, no OOM kill", st)
	}
	if e.rt.mode.hybrid {
		// The v2 reader against the hybrid host's cgroup2 mount, which the
		// container joined (no controllers there, but cpu.stat is core).
		v2, err := statsV2(cgroupPath(s.ID), "/sys/fs/cgroup/unified")
		if err != nil || v2.CPUUserSeconds+v2.CPUSystemSeconds <= 0 {
			t.Errorf("statsV2 on the unified hierarchy = %+v, %v; want CPU time", v2, err)
		}
	}

	unlimited := e.spec("stats-unlimited", "sleep 1000")
	u := e.start(t, unlimited)
	if st, err := u.Stats(); err != nil || st.MemLimitBytes != 0 || st.MemUsageBytes == 0 {
		t.Errorf("Stats() without a limit = %+v, %v; want usage and limit 0", st, err)
	}
	if err := u.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stats(); err == nil {
		t.Error("Stats() after Destroy succeeded")
	}
}

func TestUser(t *testing.T) {
	e := newEnv(t)
	s := e.spec("user", "id -u; id -g; echo x > mine && echo sandbox=rw")
	s.User = "nobody"
	st, out := e.run(t, s)
	if st != (ExitStatus{}) || out != "65534\n65534\nsandbox=rw\n" {
		t.Errorf("as nobody: %+v, stdout %q, stderr %q; want 65534, 65534, sandbox=rw", st, out, e.output(t, "stderr"))
	}

	e2 := newEnv(t)
	s = e2.spec("user-ids", "id -u; id -g")
	s.User = "1234:5678"
	if st, out := e2.run(t, s); st != (ExitStatus{}) || out != "1234\n5678\n" {
		t.Errorf("as 1234:5678: %+v, stdout %q", st, out)
	}

	s.ID, s.User = "user-none", "no-such-user"
	if _, err := e2.rt.Start(s); err == nil || !strings.Contains(err.Error(), "no-such-user") {
		t.Errorf("Start as an unknown user = %v, want an error naming it", err)
	}
	checkGone(t, e2, "user-none")
}

func TestNetNS(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) to pin a network namespace")
	}
	// Outside e.dir: checkGone looks for mounts there, and this one is the
	// test's own until its cleanup.
	nsFile := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(nsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unshare", "--net="+nsFile, "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(nsFile, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the test netns: %v", err)
		}
	})
	const ifaces = "ls /sys/class/net"
	s := e.spec("netns", ifaces)
	s.NetNS = nsFile
	st, out := e.run(t, s)
	if st != (ExitStatus{}) || out != "lo\n" {
		t.Errorf("in a fresh netns: %+v, stdout %q, stderr %q; want only lo", st, out, e.output(t, "stderr"))
	}

	e2 := newEnv(t)
	hostIfaces, err := exec.Command("sh", "-c", ifaces).Output()
	if err != nil {
		t.Fatal(err)
	}
	if st, out := e2.run(t, e2.spec("hostnet", ifaces)); st != (ExitStatus{}) || out != string(hostIfaces) {
		t.Errorf("with the host's network: %+v, interfaces %q; want the host's %q", st, out, hostIfaces)
	}
}

// TestImageRootfs runs a static binary from a directory root, the shape of
// an unpacked image.
func TestImageRootfs(t *testing.T) {
	e := newEnv(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool to build the probe")
	}
	rootfs := filepath.Join(e.dir, "rootfs")
	for _, d := range []string{"etc", "bin"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command(goBin, "build", "-o", filepath.Join(rootfs, "bin", "probe"), "./internal/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/probe\napp:x:1234:1234::/:/bin/probe\n",
		"etc/group":  "root:x:0:\napp:x:1234:\nextra:x:2000:app\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		id, user string
		want     []string
	}{
		{"image-root", "", []string{"pid=1", "uid=0", "hostname=img", "cwd=" + SandboxPath, "foo=bar", "rootfs=rw", "resolv=yes"}},
		{"image-app", "app", []string{"pid=1", "uid=1234", "gid=1234", "rootfs=ro"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			s := Spec{
				ID: tt.id, Args: []string{"probe"}, Env: []string{"FOO=bar"}, User: tt.user,
				Hostname: "img", Rootfs: rootfs, Sandbox: e.sandbox,
				Stdout: filepath.Join(e.sandbox, "stdout"), Stderr: filepath.Join(e.sandbox, "stderr"),
			}
			os.Remove(s.Stdout)
			st, out := e.run(t, s)
			if st != (ExitStatus{}) {
				t.Fatalf("status %+v, stderr %q", st, e.output(t, "stderr"))
			}
			lines := strings.Split(out, "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) && !(w == "resolv=yes" && !hostHasResolver()) {
					t.Errorf("probe output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func hostHasResolver() bool {
	b, err := os.ReadFile("/etc/resolv.conf")
	return err == nil && len(b) > 0
}

// TestConcurrentStarts starts containers from several goroutines at once,
// as a busy agent's shims do from several processes.
func TestConcurrentStarts(t *testing.T) {
	e := newEnv(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("par-%d", i)
			sb := filepath.Join(e.dir, id)
			if err := os.Mkdir(sb, 0o755); err != nil {
				errs <- err
				return
			}
			s := e.spec(id, "echo $ID")
			s.Env = []string{"ID=" + id}
			s.Sandbox, s.Stdout, s.Stderr = sb, filepath.Join(sb, "stdout"), filepath.Join(sb, "stderr")
			c, err := e.rt.Start(s)
			if err != nil {
				errs <- err
				return
			}
			defer func() {
				if err := c.Destroy(); err != nil {
					errs <- err
				}
			}()
			st, err := c.Wait()
			out, _ := os.ReadFile(s.Stdout)
			if err != nil || st != (ExitStatus{}) || string(out) != id+"\n" {
				errs <- fmt.Errorf("%s: %+v, %v, stdout %q", id, st, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		checkGone(t, e, fmt.Sprintf("par-%d", i))
	}
}

func TestCPULimits(t *testing.T) {
	tests := []struct {
		cpus                  float64
		shares, quota, period int64 // all 0: no limit
	}{
		{0, 0, 0, 0},
		{0.001, 2, 1000, 100000}, // both at the kernel's minimum
		{0.01, 10, 1000, 100000}, // the quota at the minimum
		{0.1, 102, 10000, 100000},
		{0.5, 512, 50000, 100000},
		{2, 2048, 200000, 100000},
	}
	for _, tt := range tests {
		c := CPULimits(tt.cpus)
		var shares, quota, period int64
		if c != nil {
			shares, quota, period = int64(*c.Shares), *c.Quota, int64(*c.Period)
		}
		if shares != tt.shares || quota != tt.quota || period != tt.period {
			t.Errorf("CPULimits(%v) = shares %d, quota %d, period %d; want %d, %d, %d",
				tt.cpus, shares, quota, period, tt.shares, tt.quota, tt.period)
		}
	}
}
