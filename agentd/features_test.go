package main_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
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
	"corral/tstest"
)

func healthCheck(cmd string) *mesos.HealthCheck {
	return &mesos.HealthCheck{
		Type: "COMMAND", Command: &mesos.CommandInfo{Value: cmd},
		DelaySeconds: 0.001, IntervalSeconds: 0.1, TimeoutSeconds: 2, GracePeriodSeconds: 0.5, ConsecutiveFailures: 3,
	}
}

func runHealthChecks(t *testing.T, isolation string) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, isolation, work)
	id := agentID(t, m)

	good := command("good", "cpus:0.1;mem:64", `touch healthy; exec sleep 300`)
	good.HealthCheck = healthCheck(`test -f "$MESOS_SANDBOX/healthy"`)
	f.Launch(t, id, good)
	mastertest.WaitFor(t, 20*time.Second, "a healthy status for the good task", func() bool {
		for _, ev := range f.Events() {
			if u := ev.Update; u != nil && u.TaskID == "good" && u.State == mesos.TaskRunning && u.Healthy != nil && *u.Healthy {
				return true
			}
		}
		return false
	})

	bad := command("bad", "cpus:0.1;mem:64", `exec sleep 300`)
	bad.HealthCheck = healthCheck(`test -f "$MESOS_SANDBOX/healthy"`)
	f.Launch(t, id, bad)
	f.WaitUpdate(t, 20*time.Second, "bad", mesos.TaskRunning)
	killed := f.WaitUpdate(t, 20*time.Second, "bad", mesos.TaskKilled)
	if killed.Reason != "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED" || !strings.Contains(killed.Message, "3 consecutive failed health checks") {
		t.Fatalf("unhealthy task ended with reason %q message %q, want it killed for its health checks", killed.Reason, killed.Message)
	}
	for _, ev := range f.Events() {
		if u := ev.Update; u != nil && u.TaskID == "good" && u.State.Terminal() {
			t.Fatalf("the healthy task ended: %+v", u)
		}
	}
}

func TestHealthChecksPosix(t *testing.T) { runHealthChecks(t, shim.Posix) }

func TestHealthChecksLinux(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	runHealthChecks(t, shim.Linux)
}

func TestFetchIntoSandbox(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tool.sh" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("#!/bin/sh\necho fetched-and-ran > out.txt\n"))
	}))
	defer files.Close()
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Posix, work)
	id := agentID(t, m)

	ok := command("fetcher", "cpus:0.1;mem:64", `./tool.sh; exec sleep 300`)
	ok.Command.URIs = []mesos.CommandURI{{Value: files.URL + "/tool.sh", Executable: true}}
	f.Launch(t, id, ok)
	f.WaitUpdate(t, 20*time.Second, "fetcher", mesos.TaskRunning)
	out := filepath.Join(sandbox(t, work, "fetcher"), "out.txt")
	mastertest.WaitFor(t, 5*time.Second, "the fetched script to run", func() bool { return readFile(t, out) == "fetched-and-ran" })

	missing := command("missing", "cpus:0.1;mem:64", `exec sleep 300`)
	missing.Command.URIs = []mesos.CommandURI{{Value: files.URL + "/nope.tgz", Extract: true}}
	f.Launch(t, id, missing)
	failed := f.WaitUpdate(t, 20*time.Second, "missing", mesos.TaskFailed)
	if !strings.Contains(failed.Message, "404") || !strings.Contains(failed.Message, "nope.tgz") {
		t.Fatalf("failed fetch reported %q, want the URI and the 404", failed.Message)
	}
}

func TestRebootRegistersAsNewAgent(t *testing.T) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	a := startAgent(t, m, shim.Posix, work)
	first := agentID(t, m)
	f.Launch(t, first, command("before", "cpus:0.1;mem:64", "exec sleep 300"))
	f.WaitUpdate(t, 20*time.Second, "before", mesos.TaskRunning)

	// A reboot ends every process and changes the boot ID.
	a.stop(syscall.SIGKILL)
	killShims(t, work)
	if err := os.WriteFile(filepath.Join(work, "meta", "boot_id"), []byte("an-earlier-boot"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start()
	var second string
	mastertest.WaitFor(t, 10*time.Second, "registration as a new agent", func() bool {
		for _, s := range m.State(nil).Slaves {
			if s.ID != first && s.Active {
				second = s.ID
				return true
			}
		}
		return false
	})
	if entries, _ := os.ReadDir(filepath.Join(work, "tasks")); len(entries) != 0 {
		t.Fatalf("the previous boot's tasks are still in the work dir: %v", entries)
	}
	t.Logf("agent %s became %s after the reboot", first, second)
}

func TestNonRootNeedsPosix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to another user")
	}
	bin := agentdBinary(t)
	os.Chmod(filepath.Dir(bin), 0o755)
	cmd := exec.Command(bin, "--master", "127.0.0.1:1", "--work-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("agentd as non-root without --isolation=posix kept running")
	}
	if err == nil || !strings.Contains(string(out), "--isolation=posix") {
		t.Fatalf("agentd as non-root = %v, %q; want it to exit saying to use --isolation=posix", err, out)
	}
}

func TestKillRightAfterLaunch(t *testing.T) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Posix, work)
	id := agentID(t, m)
	f.Launch(t, id, command("early", "cpus:0.1;mem:64", "exec sleep 300"))
	f.Kill(t, "early") // reaches the agent right behind the LAUNCH
	f.WaitUpdate(t, 20*time.Second, "early", mesos.TaskKilled)
}

// A task whose directory was removed by hand (an operator freeing disk)
// is still killed: the agent signals the shim it remembers, and the task
// ends TASK_KILLED with its process gone, rather than staying
// TASK_KILLING forever with its process alive and its ports held.
func TestKillAfterTaskDirRemoved(t *testing.T) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Posix, work)
	id := agentID(t, m)
	f.Launch(t, id, command("orphan", "cpus:0.1;mem:64", "exec sleep 300"))
	f.WaitUpdate(t, 20*time.Second, "orphan", mesos.TaskRunning)
	pid := taskPID(t, work, "orphan")
	if err := os.RemoveAll(taskDir(t, work, f.ID, "orphan")); err != nil {
		t.Fatal(err)
	}
	f.Kill(t, "orphan")
	killed := f.WaitUpdate(t, 20*time.Second, "orphan", mesos.TaskKilled)
	if !strings.Contains(killed.Message, "was removed") {
		t.Errorf("TASK_KILLED message %q, want it to say the run directory was removed", killed.Message)
	}
	tstest.WaitFor(t, 10*time.Second, "the task's process to be gone", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	})
}

// A container whose task directory was removed while the agent was down
// belongs to no task the restarted agent knows: it is destroyed as the
// agent recovers, not left running unseen with the ports and memory the
// master offers to others.
func TestRecoveryDestroysContainersOfNoTask(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	a := startAgent(t, m, shim.Linux, work)
	id := agentID(t, m)
	f.Launch(t, id, command("kept", "cpus:0.1;mem:64", "exec sleep 300"))
	f.Launch(t, id, command("lost", "cpus:0.1;mem:64", "exec sleep 300"))
	f.WaitUpdate(t, 20*time.Second, "kept", mesos.TaskRunning)
	f.WaitUpdate(t, 20*time.Second, "lost", mesos.TaskRunning)
	kept, lost := taskPID(t, work, "kept"), taskPID(t, work, "lost")
	a.stop(syscall.SIGKILL)
	if err := os.RemoveAll(taskDir(t, work, f.ID, "lost")); err != nil {
		t.Fatal(err)
	}
	a.start()
	// The agent logs it once the container's cgroups and state are gone,
	// a moment after its process.
	tstest.WaitFor(t, 20*time.Second, "the container of no task to be destroyed", func() bool {
		b, _ := os.ReadFile(filepath.Join(work, "agentd.log"))
		return strings.Contains(string(b), "destroyed a container of no task")
	})
	if err := syscall.Kill(lost, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the process of the container of no task still runs (kill -0: %v)", err)
	}
	if dirs := cgroupDirs("lost"); len(dirs) > 0 {
		t.Errorf("the container of no task left its cgroups: %v", dirs)
	}
	if err := syscall.Kill(kept, 0); err != nil {
		t.Fatalf("the task the agent knows was stopped too: %v", err)
	}
}

// With --max-starting-tasks 1, a task launched while another is starting
// waits in TASK_STARTING and runs once the one ahead of it runs; a kill
// while it waits ends it without starting it.
func TestStartingTasksTakeTurns(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // holds the first task in its start until the test opens
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("#!/bin/sh\n"))
	}))
	defer files.Close()
	defer open()
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Posix, work, "--max-starting-tasks", "1")
	id := agentID(t, m)

	slow := command("slow", "cpus:0.1;mem:64", "./tool.sh; exec sleep 300")
	slow.Command.URIs = []mesos.CommandURI{{Value: files.URL + "/tool.sh", Executable: true}}
	f.Launch(t, id, slow)
	f.WaitUpdate(t, 20*time.Second, "slow", mesos.TaskStarting)
	f.Launch(t, id, command("next", "cpus:0.1;mem:64", "exec sleep 300"))
	f.Launch(t, id, command("doomed", "cpus:0.1;mem:64", "exec sleep 300"))
	f.WaitUpdate(t, 20*time.Second, "next", mesos.TaskStarting)
	f.WaitUpdate(t, 20*time.Second, "doomed", mesos.TaskStarting)
	f.Kill(t, "doomed")
	killed := f.WaitUpdate(t, 20*time.Second, "doomed", mesos.TaskKilled)
	if !strings.Contains(killed.Message, "before it started") {
		t.Errorf("killed while waiting: message %q, want it to say the task never started", killed.Message)
	}
	// Unbounded, "next" would run within milliseconds of its launch.
	time.Sleep(300 * time.Millisecond)
	if st, _ := lastUpdate(f, "next"); st.State != mesos.TaskStarting {
		t.Fatalf("next is %s while slow holds the only start turn, want TASK_STARTING", st.State)
	}
	for _, task := range []string{"next", "doomed"} {
		if hasPidFile(work, task) {
			t.Fatalf("%s's process started while slow holds the only start turn", task)
		}
	}
	open()
	f.WaitUpdate(t, 20*time.Second, "slow", mesos.TaskRunning)
	f.WaitUpdate(t, 20*time.Second, "next", mesos.TaskRunning)
}

// lastUpdate returns the latest status update of a task.
func lastUpdate(f *mastertest.Framework, taskID string) (mesos.TaskStatus, bool) {
	var last mesos.TaskStatus
	ok := false
	for _, ev := range f.Events() {
		if ev.Type == mesos.EventTypeUpdate && ev.Update.TaskID == taskID {
			last, ok = *ev.Update, true
		}
	}
	return last, ok
}

// hasPidFile reports whether a task's shim recorded its process.
func hasPidFile(workDir, taskID string) bool {
	matches, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*_"+taskID, "run", shim.PidFile))
	return len(matches) > 0
}
