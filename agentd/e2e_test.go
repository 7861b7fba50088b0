package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// agentdBinary builds agentd and, next to it, corral-shim and corral-exec
// once per test run; agentd runs corral-shim as its tasks' shims,
// libcontainer re-executes that as the containers' init, and the init
// executes corral-exec to load the filter, so the tests run the real
// binaries.
func agentdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agentd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "agentd")
		out, err := exec.Command("go", "build", "-o", dir+"/", "corral/agentd", "corral/agentd/corral-shim", "corral/isolation/corral-exec").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build agentd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

type agentProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	args    []string
	workDir string
	netns   string // path of the network namespace agentd runs in; "" the test's own
}

func startAgent(t testing.TB, m *mastertest.Master, isolation, workDir string, flags ...string) *agentProc {
	t.Helper()
	a := &agentProc{t: t, workDir: workDir, args: append([]string{
		"--master", m.Addr, "--work-dir", workDir, "--listen", "127.0.0.1:0",
		"--isolation", isolation, "--hostname", "h1", "--advertise-ip", "127.0.0.1",
		"--resources", "cpus:4;mem:2048;disk:1000;ports:[31000-31100]",
		"--kill-grace-period", "1s", "--registration-backoff", "50ms", "--log-level", "debug",
	}, flags...)}
	a.start()
	t.Cleanup(func() { a.stop(syscall.SIGKILL); killShims(t, workDir) })
	return a
}

func (a *agentProc) start() {
	a.cmd = exec.Command(agentdBinary(a.t), a.args...)
	log, err := os.OpenFile(filepath.Join(a.workDir, "agentd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		os.MkdirAll(a.workDir, 0o755)
		log, _ = os.Create(filepath.Join(a.workDir, "agentd.log"))
	}
	a.cmd.Stdout, a.cmd.Stderr = log, log
	start := a.cmd.Start
	if a.netns != "" {
		start = func() error { return startInNetns(a.netns, a.cmd) }
	}
	if err := start(); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agentProc) stop(sig syscall.Signal) {
	if a.cmd != nil && a.cmd.ProcessState == nil {
		a.cmd.Process.Signal(sig)
		a.cmd.Wait()
	}
}

// killShims ends every task a test left running, through their shims.
func killShims(t testing.TB, workDir string) {
	dirs, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*", "run"))
	for _, d := range dirs {
		if p, ok, _ := shim.ReadPid(d); ok && p.Alive() {
			shim.RequestKill(d, p, 0)
			mastertest.WaitFor(t, 10*time.Second, "shim "+d+" to exit", func() bool { return !p.Alive() })
		}
	}
}

func agentID(t testing.TB, m *mastertest.Master) string {
	t.Helper()
	var id string
	mastertest.WaitFor(t, 10*time.Second, "the agent to register", func() bool {
		st := m.State(nil)
		if len(st.Slaves) == 1 && st.Slaves[0].Active {
			id = st.Slaves[0].ID
			return true
		}
		return false
	})
	return id
}

func command(taskID, resources, cmd string, env ...mesos.EnvVar) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name: taskID, TaskID: taskID, Resources: mesos.MustParseResources(resources),
		Command: &mesos.CommandInfo{Value: cmd, Environment: env},
	}
}

// sandbox returns a task's sandbox directory on the agent.
func sandbox(t *testing.T, workDir, taskID string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*_"+taskID, "sandbox"))
	if len(dirs) != 1 {
		t.Fatalf("sandbox of %s: found %v", taskID, dirs)
	}
	return dirs[0]
}

func readFile(t *testing.T, path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func taskPID(t *testing.T, workDir, taskID string) int {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*_"+taskID, "run"))
	if len(dirs) != 1 {
		t.Fatalf("run dir of %s: found %v", taskID, dirs)
	}
	p, ok, err := shim.ReadPid(dirs[0])
	if !ok || err != nil {
		t.Fatalf("pid of %s: %v %v", taskID, ok, err)
	}
	return p.TaskPID
}

func runAgentLifecycle(t *testing.T, isolation string) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	a := startAgent(t, m, isolation, work)
	id := agentID(t, m)

	// Launch: the task sees Mesos's and Marathon's environment.
	f.Launch(t, id, command("env", "cpus:0.1;mem:64;ports:[31000-31001]",
		`echo "$PORT0 $PORT1 $PORTS $HOST $MESOS_TASK_ID $FOO" > env.txt; exec sleep 300`,
		mesos.EnvVar{Name: "FOO", Value: "bar"}))
	running := f.WaitUpdate(t, 20*time.Second, "env", mesos.TaskRunning)
	if running.AgentID != id {
		t.Fatalf("RUNNING from agent %q, want %q", running.AgentID, id)
	}
	envFile := filepath.Join(sandbox(t, work, "env"), "env.txt")
	mastertest.WaitFor(t, 5*time.Second, "env.txt", func() bool { return readFile(t, envFile) != "" })
	if got, want := readFile(t, envFile), "31000 31001 31000,31001 h1 env bar"; got != want {
		t.Fatalf("task environment = %q, want %q", got, want)
	}
	// The task's shim is corral-shim, installed next to agentd.
	dirs, _ := filepath.Glob(filepath.Join(work, "tasks", "*_env", "run"))
	if len(dirs) == 1 {
		p, _, _ := shim.ReadPid(dirs[0])
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.ShimPID))
		if err != nil || filepath.Base(exe) != shim.BinaryName {
			t.Errorf("the task's shim runs %q (%v), want %s", exe, err, shim.BinaryName)
		}
	} else {
		t.Errorf("run dir of env: found %v", dirs)
	}

	// Kill honours the grace period: SIGTERM first, SIGKILL only after it.
	f.Launch(t, id, command("graceful", "cpus:0.1;mem:64",
		`trap 'echo term > term.txt; sleep 0.5; echo done >> term.txt; exit 0' TERM; touch ready; while true; do sleep 0.1; done`))
	f.WaitUpdate(t, 20*time.Second, "graceful", mesos.TaskRunning)
	// RUNNING means the process started, not that the shell set its trap yet.
	mastertest.WaitFor(t, 5*time.Second, "the TERM handler", func() bool {
		_, err := os.Stat(filepath.Join(sandbox(t, work, "graceful"), "ready"))
		return err == nil
	})
	f.Kill(t, "graceful")
	f.WaitUpdate(t, 10*time.Second, "graceful", mesos.TaskKilling)
	f.WaitUpdate(t, 10*time.Second, "graceful", mesos.TaskKilled)
	if got := readFile(t, filepath.Join(sandbox(t, work, "graceful"), "term.txt")); got != "term\ndone" {
		t.Fatalf("graceful task wrote %q, want it to finish its TERM handler", got)
	}
	f.Launch(t, id, command("stubborn", "cpus:0.1;mem:64", `trap '' TERM; touch ready; while true; do sleep 0.1; done`))
	f.WaitUpdate(t, 20*time.Second, "stubborn", mesos.TaskRunning)
	mastertest.WaitFor(t, 5*time.Second, "the stubborn task to ignore TERM", func() bool {
		_, err := os.Stat(filepath.Join(sandbox(t, work, "stubborn"), "ready"))
		return err == nil
	})
	start := time.Now()
	f.Kill(t, "stubborn")
	f.WaitUpdate(t, 10*time.Second, "stubborn", mesos.TaskKilled)
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("a task ignoring SIGTERM was killed after %v, before the 1s grace period", waited)
	}

	// A failing command reports its exit code.
	f.Launch(t, id, command("fails", "cpus:0.1;mem:64", "exit 3"))
	failed := f.WaitUpdate(t, 20*time.Second, "fails", mesos.TaskFailed)
	if !strings.Contains(failed.Message, "status 3") {
		t.Fatalf("TASK_FAILED message = %q, want the exit status 3", failed.Message)
	}

	// kill -9 agentd while three tasks run; one of them exits meanwhile.
	for _, id2 := range []string{"r1", "r2"} {
		f.Launch(t, id, command(id2, "cpus:0.1;mem:64", "exec sleep 300"))
		f.WaitUpdate(t, 20*time.Second, id2, mesos.TaskRunning)
	}
	f.Launch(t, id, command("r3", "cpus:0.1;mem:64", `while [ ! -f stop ]; do sleep 0.05; done; exit 7`))
	f.WaitUpdate(t, 20*time.Second, "r3", mesos.TaskRunning)
	pids := map[string]int{"r1": taskPID(t, work, "r1"), "r2": taskPID(t, work, "r2"), "env": taskPID(t, work, "env")}
	a.stop(syscall.SIGKILL)
	os.WriteFile(filepath.Join(sandbox(t, work, "r3"), "stop"), nil, 0o644)
	mastertest.WaitFor(t, 10*time.Second, "r3 to exit while agentd is down", func() bool {
		_, ok, _ := shim.ReadExit(filepath.Join(filepath.Dir(sandbox(t, work, "r3")), "run"))
		return ok
	})
	a.start()
	exited := f.WaitUpdate(t, 20*time.Second, "r3", mesos.TaskFailed)
	if !strings.Contains(exited.Message, "status 7") {
		t.Fatalf("r3 ended with %q, want its true exit status 7", exited.Message)
	}
	mastertest.WaitFor(t, 10*time.Second, "the agent to re-register with its ID", func() bool {
		st := m.State(nil)
		return len(st.Slaves) == 1 && st.Slaves[0].ID == id && st.Slaves[0].Active
	})
	for task, pid := range pids {
		if got := taskPID(t, work, task); got != pid {
			t.Fatalf("task %s runs as pid %d after the restart, was %d: relaunched", task, got, pid)
		}
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("task %s (pid %d) did not survive the agent restart: %v", task, pid, err)
		}
	}
	st := m.State(nil)
	live := map[string]mesos.TaskState{}
	for _, task := range st.Frameworks[0].Tasks {
		live[task.ID] = task.State
	}
	for _, task := range []string{"env", "r1", "r2"} {
		if live[task] != mesos.TaskRunning {
			t.Fatalf("master sees %s as %q after the agent restart, want TASK_RUNNING (tasks: %v)", task, live[task], live)
		}
	}
	for _, ev := range f.Events() {
		if ev.Type == mesos.EventTypeUpdate && ev.Update.State == mesos.TaskLost {
			t.Fatalf("task reported lost: %+v", ev.Update)
		}
	}
}

func TestAgentPosixIsolation(t *testing.T) { runAgentLifecycle(t, shim.Posix) }

func TestAgentLinuxIsolation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	runAgentLifecycle(t, shim.Linux)
}

// cgroupDirs lists the cgroup directories of Corral's tasks on this host,
// v1 controllers and the v2 hierarchy alike.
func cgroupDirs(task string) []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/corral/*" + task, "/sys/fs/cgroup/corral/*" + task} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}

func TestAgentLinuxContainment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	a := startAgent(t, m, shim.Linux, work)
	id := agentID(t, m)

	f.Launch(t, id, command("boxed", "cpus:0.5;mem:64",
		`echo $$ > pid.txt; if touch /corral-rootfs-probe 2>/dev/null; then echo writable; else echo readonly; fi > root.txt; exec sleep 300`))
	f.WaitUpdate(t, 20*time.Second, "boxed", mesos.TaskRunning)
	box := sandbox(t, work, "boxed")
	mastertest.WaitFor(t, 5*time.Second, "root.txt", func() bool { return readFile(t, filepath.Join(box, "root.txt")) != "" })
	if got := readFile(t, filepath.Join(box, "pid.txt")); got != "1" {
		t.Errorf("task's shell is pid %q inside its container, want 1 (own pid namespace)", got)
	}
	if got := readFile(t, filepath.Join(box, "root.txt")); got != "readonly" {
		t.Errorf("task found the root file system %s, want readonly", got)
	}
	if _, err := os.Stat("/corral-rootfs-probe"); err == nil {
		os.Remove("/corral-rootfs-probe")
		t.Errorf("the task wrote to the host's root")
	}
	dirs := cgroupDirs("boxed")
	if len(dirs) == 0 {
		t.Fatalf("no cgroup under /corral for the task")
	}
	limits := map[string]string{ // v1 and v2 names of the memory and cpu limits
		"memory.limit_in_bytes": "67108864", "memory.max": "67108864",
		"cpu.cfs_quota_us": "50000", "cpu.max": "50000 100000",
	}
	found := 0
	for _, d := range dirs {
		for file, want := range limits {
			if v := readFile(t, filepath.Join(d, file)); v != "" {
				found++
				if v != want {
					t.Errorf("%s/%s = %s, want %s", d, file, v, want)
				}
			}
		}
	}
	if found < 2 {
		t.Errorf("found %d of the memory and cpu limit files in %v, want both", found, dirs)
	}

	// The agent reports the container's usage as Mesos's /monitor/statistics.
	pid := m.State(nil).Slaves[0].PID // slave(1)@127.0.0.1:port
	resp, err := http.Get("http://" + pid[strings.Index(pid, "@")+1:] + "/monitor/statistics")
	if err != nil {
		t.Fatal(err)
	}
	var stats []struct {
		ExecutorID string         `json:"executor_id"`
		Statistics map[string]any `json:"statistics"`
	}
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if len(stats) != 1 || stats[0].ExecutorID != "boxed" || stats[0].Statistics["mem_limit_bytes"] != float64(64<<20) ||
		stats[0].Statistics["mem_total_bytes"].(float64) <= 0 {
		t.Errorf("/monitor/statistics = %+v, want boxed with a 64 MiB limit and some memory used", stats)
	}

	// A task that exceeds its memory limit fails, saying so.
	f.Launch(t, id, command("hog", "cpus:0.5;mem:32", `head -c 300m /dev/zero | tail > /dev/null`))
	oom := f.WaitUpdate(t, 30*time.Second, "hog", mesos.TaskFailed)
	if oom.Reason != "REASON_CONTAINER_LIMITATION_MEMORY" || !strings.Contains(oom.Message, "Memory limit") {
		t.Errorf("memory hog ended with reason %q message %q, want an OOM reason", oom.Reason, oom.Message)
	}

	// Killing releases the cgroups; stopping everything leaves nothing.
	f.Kill(t, "boxed")
	f.WaitUpdate(t, 10*time.Second, "boxed", mesos.TaskKilled)
	mastertest.WaitFor(t, 5*time.Second, "the task's cgroups to go", func() bool { return len(cgroupDirs("boxed")) == 0 && len(cgroupDirs("hog")) == 0 })
	a.stop(syscall.SIGTERM)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), work) {
		t.Errorf("mounts under the agent's work dir remain:\n%s", mounts)
	}
}

// TestMain removes the agentd binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}
