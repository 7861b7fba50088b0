package isolation

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// init serves libcontainer's re-exec: a container's first process is this
// test binary run as "<binary> init" (libcontainer/integration/init_test.go
// does the same). Otherwise it pins the main goroutine to the main thread,
// as Init's documentation asks of every binary that starts containers.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
	runtime.LockOSThread()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if execHelperDir != "" {
		os.RemoveAll(execHelperDir)
	}
	os.Exit(code)
}

// requireRoot skips a test that needs namespaces, cgroups and mounts.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
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

// testEnv is a runtime with a state root and a sandbox of the test's own.
type testEnv struct {
	rt      *Runtime
	root    string // runtime state root
	sandbox string
	dir     string // every file of the test lives under dir
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	e := &testEnv{root: filepath.Join(dir, "containers"), sandbox: filepath.Join(dir, "sandbox"), dir: dir}
	if err := os.Mkdir(e.sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(e.root)
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	// Containers start as an installed agent's do, with corral-exec
	// loading their seccomp filters.
	rt.execHelper = execHelperPath(t)
	e.rt = rt
	return e
}

// spec is a host-root /bin/sh -c script in the sandbox, output to
// sandbox/stdout and sandbox/stderr.
func (e *testEnv) spec(id, script string) Spec {
	return Spec{
		ID:       id,
		Args:     []string{"/bin/sh", "-c", script},
		HostRoot: true,
		Sandbox:  e.sandbox,
		Stdout:   filepath.Join(e.sandbox, "stdout"),
		Stderr:   filepath.Join(e.sandbox, "stderr"),
	}
}

// start starts s and registers its destruction and a check that nothing of
// it is left behind.
func (e *testEnv) start(t *testing.T, s Spec) *Container {
	t.Helper()
	c, err := e.rt.Start(s)
	if err != nil {
		t.Fatalf("Start(%s): %v", s.ID, err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy(%s): %v", s.ID, err)
		}
		checkGone(t, e, s.ID)
	})
	return c
}

// run starts s, waits for it and returns its status and stdout.
func (e *testEnv) run(t *testing.T, s Spec) (ExitStatus, string) {
	t.Helper()
	c := e.start(t, s)
	st, err := c.Wait()
	if err != nil {
		t.Fatalf("Wait(%s): %v", s.ID, err)
	}
	return st, e.output(t, "stdout")
}

func (e *testEnv) output(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.sandbox, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGone fails t if container id left a cgroup, a process, a mount of
// the test's files or its state behind.
func checkGone(t *testing.T, e *testEnv, id string) {
	t.Helper()
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/corral/" + id)
	if v2 := "/sys/fs/cgroup/corral/" + id; exists(v2) {
		cg = append(cg, v2)
	}
	if len(cg) > 0 {
		t.Errorf("cgroups left behind: %v", cg)
	}
	if exists(filepath.Join(e.root, id)) {
		t.Errorf("state left behind: %s", filepath.Join(e.root, id))
	}
	if pids := processesIn(cgroupPath(id)); len(pids) > 0 {
		t.Errorf("processes left behind in %s: %v", cgroupPath(id), pids)
	}
	if z := zombieChildren(); len(z) > 0 {
		t.Errorf("unreaped children: %v", z)
	}
	// Every thread is back in the host's mount namespace (libcontainer's
	// mount-source thread exits shortly after Start), so /proc/self is the
	// host's view.
	waitFor(t, 5*time.Second, "threads to leave container mount namespaces", func() bool {
		return len(foreignMountNSThreads()) == 0
	})
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.dir) || strings.Contains(l, "/corral/"+id) {
			t.Errorf("mount left behind: %s", l)
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// processesIn lists the host's processes whose cgroup (any hierarchy) is
// cgroup or beneath it.
func processesIn(cgroup string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "cgroup"))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			parts := strings.SplitN(s.Text(), ":", 3)
			if len(parts) == 3 && under(parts[2], cgroup) {
				pid, _ := strconv.Atoi(filepath.Base(d))
				out = append(out, pid)
				break
			}
		}
		f.Close()
	}
	return out
}

// zombieChildren lists this process's children that exited unreaped.
func zombieChildren() []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := strconv.Itoa(os.Getpid())
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == self {
			out = append(out, fmt.Sprintf("%s %s", s[:i+1], f[0]))
		}
	}
	return out
}

// foreignMountNSThreads lists this process's threads that are not in the
// calling thread's mount namespace.
func foreignMountNSThreads() []string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Readlink("/proc/thread-self/ns/mnt")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/mnt")
	for _, p := range tasks {
		if ns, err := os.Readlink(p); err == nil && ns != self {
			out = append(out, p+" "+ns)
		}
	}
	return out
}
