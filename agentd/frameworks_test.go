package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
)

// taskDir returns the directory of a framework's task on the agent, found
// by the task.json in it.
func taskDir(t *testing.T, workDir, frameworkID, taskID string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*", "task.json"))
	var found []string
	for _, f := range files {
		var task struct {
			FrameworkID string         `json:"framework_id"`
			Info        mesos.TaskInfo `json:"info"`
		}
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &task) == nil &&
			task.FrameworkID == frameworkID && task.Info.TaskID == taskID {
			found = append(found, filepath.Dir(f))
		}
	}
	if len(found) != 1 {
		t.Fatalf("directory of task %s of framework %s: found %v", taskID, frameworkID, found)
	}
	return found[0]
}

// agentTasks reads the agent's /state tasks as framework → task → state.
func agentTasks(m *mastertest.Master) (map[string]map[string]mesos.TaskState, error) {
	slaves := m.State(nil).Slaves
	if len(slaves) == 0 {
		return nil, errors.New("no agent registered")
	}
	pid := slaves[0].PID // slave(1)@127.0.0.1:port
	resp, err := http.Get("http://" + pid[strings.Index(pid, "@")+1:] + "/state")
	if err != nil {
		return nil, err // a restarting agent's port may not be open yet
	}
	defer resp.Body.Close()
	var st struct {
		Tasks []mesos.Task `json:"tasks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding the agent's /state: %w", err)
	}
	out := map[string]map[string]mesos.TaskState{}
	for _, task := range st.Tasks {
		if out[task.FrameworkID] == nil {
			out[task.FrameworkID] = map[string]mesos.TaskState{}
		}
		out[task.FrameworkID][task.Info.TaskID] = task.State
	}
	return out, nil
}

// agentHas reports whether the agent's /state lists exactly want.
func agentHas(m *mastertest.Master, want map[string]map[string]mesos.TaskState) bool {
	got, err := agentTasks(m)
	return err == nil && equalTasks(got, want)
}

// masterTasks reads the master's tasks as framework → task → state.
func masterTasks(m *mastertest.Master) map[string]map[string]mesos.TaskState {
	out := map[string]map[string]mesos.TaskState{}
	for _, f := range m.State(nil).Frameworks {
		out[f.ID] = map[string]mesos.TaskState{}
		for _, task := range f.Tasks {
			out[f.ID][task.ID] = task.State
		}
	}
	return out
}

// updatesOf counts a framework's status updates of a task in each state.
func updatesOf(f *mastertest.Framework, taskID string) map[mesos.TaskState]int {
	n := map[mesos.TaskState]int{}
	for _, ev := range f.Events() {
		if ev.Type == mesos.EventTypeUpdate && ev.Update.TaskID == taskID {
			n[ev.Update.State]++
		}
	}
	return n
}

// Two frameworks launch a task of the same ID on one agent: both run, each
// framework gets its own task's updates and acknowledges them, a kill ends
// only the framework's own task, and an agent restart recovers both.
func runSameTaskIDInTwoFrameworks(t *testing.T, isolation string) {
	m := mastertest.Start(t, nil)
	fa, fb := m.Subscribe(t, "a"), m.Subscribe(t, "b")
	work := t.TempDir()
	a := startAgent(t, m, isolation, work)
	id := agentID(t, m)

	fa.Launch(t, id, command("t1", "cpus:0.1;mem:64", `echo a > who; exec sleep 300`))
	tb := command("t1", "cpus:0.1;mem:64", `echo b > who; exec sleep 300`)
	tb.HealthCheck = healthCheck(`test -f "$MESOS_SANDBOX/who"`)
	fb.Launch(t, id, tb)
	fa.WaitUpdate(t, 20*time.Second, "t1", mesos.TaskRunning)
	fb.WaitUpdate(t, 20*time.Second, "t1", mesos.TaskRunning)
	mastertest.WaitFor(t, 20*time.Second, "framework b's t1 healthy", func() bool {
		for _, ev := range fb.Events() {
			if u := ev.Update; u != nil && u.TaskID == "t1" && u.Healthy != nil && *u.Healthy {
				return true
			}
		}
		return false
	})
	for _, ev := range fa.Events() {
		if u := ev.Update; u != nil && u.Healthy != nil {
			t.Errorf("framework a got a health update of framework b's task: %+v", u)
		}
	}
	dirs := map[string]string{fa.ID: taskDir(t, work, fa.ID, "t1"), fb.ID: taskDir(t, work, fb.ID, "t1")}
	for fid, want := range map[string]string{fa.ID: "a", fb.ID: "b"} {
		who := filepath.Join(dirs[fid], "sandbox", "who")
		mastertest.WaitFor(t, 5*time.Second, who, func() bool { return readFile(t, who) != "" })
		if got := readFile(t, who); got != want {
			t.Errorf("framework %s's t1 sandbox holds %q, want %q", fid, got, want)
		}
	}
	want := map[string]map[string]mesos.TaskState{fa.ID: {"t1": mesos.TaskRunning}, fb.ID: {"t1": mesos.TaskRunning}}
	if got, err := agentTasks(m); err != nil || !equalTasks(got, want) {
		t.Fatalf("agent /state tasks = %v (%v), want %v", got, err, want)
	}
	mastertest.WaitFor(t, 10*time.Second, "the master to see both tasks running", func() bool { return equalTasks(masterTasks(m), want) })

	// kill -9 agentd: both tasks run on, and are recovered.
	pids := map[string]int{}
	for fid, dir := range dirs {
		p, ok, err := shim.ReadPid(filepath.Join(dir, "run"))
		if !ok || err != nil {
			t.Fatalf("pid of framework %s's t1: %v %v", fid, ok, err)
		}
		pids[fid] = p.TaskPID
	}
	a.stop(syscall.SIGKILL)
	a.start()
	mastertest.WaitFor(t, 20*time.Second, "the agent back with both tasks", func() bool {
		st := m.State(nil)
		return len(st.Slaves) == 1 && st.Slaves[0].Active && agentHas(m, want)
	})
	for fid, pid := range pids {
		if p, _, _ := shim.ReadPid(filepath.Join(dirs[fid], "run")); p.TaskPID != pid {
			t.Fatalf("framework %s's t1 runs as pid %d after the restart, was %d", fid, p.TaskPID, pid)
		}
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("framework %s's t1 (pid %d) did not survive the agent restart: %v", fid, pid, err)
		}
	}

	// Killing framework a's t1 leaves framework b's running.
	fa.Kill(t, "t1")
	fa.WaitUpdate(t, 10*time.Second, "t1", mesos.TaskKilled)
	want = map[string]map[string]mesos.TaskState{fb.ID: {"t1": mesos.TaskRunning}}
	// The acknowledged TASK_KILLED makes the agent forget the task.
	mastertest.WaitFor(t, 10*time.Second, "the agent to forget framework a's t1", func() bool { return agentHas(m, want) })
	if err := syscall.Kill(pids[fb.ID], 0); err != nil {
		t.Fatalf("framework b's t1 ended when framework a's was killed: %v", err)
	}
	if n := updatesOf(fb, "t1"); n[mesos.TaskKilling] != 0 || n[mesos.TaskKilled] != 0 {
		t.Fatalf("framework b got updates %v of its t1, want no kill", n)
	}
	if got := masterTasks(m)[fb.ID]["t1"]; got != mesos.TaskRunning {
		t.Fatalf("master sees framework b's t1 as %q, want TASK_RUNNING", got)
	}
	fb.Kill(t, "t1")
	fb.WaitUpdate(t, 10*time.Second, "t1", mesos.TaskKilled)
	mastertest.WaitFor(t, 10*time.Second, "the agent to forget framework b's t1", func() bool { return agentHas(m, map[string]map[string]mesos.TaskState{}) })
	for _, f := range []*mastertest.Framework{fa, fb} {
		if n := updatesOf(f, "t1"); n[mesos.TaskLost] != 0 || n[mesos.TaskKilled] != 1 {
			t.Errorf("framework %s got updates %v of t1, want one TASK_KILLED and none lost", f.ID, n)
		}
	}
}

func equalTasks(a, b map[string]map[string]mesos.TaskState) bool {
	if len(a) != len(b) {
		return false
	}
	for fid, ts := range a {
		if len(ts) != len(b[fid]) {
			return false
		}
		for id, st := range ts {
			if b[fid][id] != st {
				return false
			}
		}
	}
	return true
}

func TestAgentSameTaskIDInTwoFrameworksPosix(t *testing.T) {
	runSameTaskIDInTwoFrameworks(t, shim.Posix)
}

func TestAgentSameTaskIDInTwoFrameworksLinux(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	runSameTaskIDInTwoFrameworks(t, shim.Linux)
}

// toPreviousLayout turns a stopped agent's work directory into what the
// agentd before framework-keyed tasks wrote: status logs in
// status/<task ID> and task.json without a container ID. The tasks' IDs are
// plain, so their directories and container IDs were named as now.
func toPreviousLayout(t *testing.T, workDir string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(workDir, "status", "*+*", "updates.log"))
	if len(logs) == 0 {
		t.Fatal("no status logs to move")
	}
	for _, l := range logs {
		dir := filepath.Dir(l)
		old := filepath.Join(filepath.Dir(dir), strings.SplitN(filepath.Base(dir), "+", 2)[1])
		if err := os.Rename(dir, old); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(workDir, "tasks", "*", "task.json"))
	for _, f := range files {
		var task map[string]any
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &task) != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		delete(task, "container_id")
		if b, err = json.Marshal(task); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// An upgraded agentd recovers the tasks of the previous layout: they run
// on, their updates are acknowledged and forgotten, and another framework
// can launch a task of the same ID next to them.
func TestAgentRecoversPreviousLayout(t *testing.T) {
	m := mastertest.Start(t, nil)
	fa, fb := m.Subscribe(t, "a"), m.Subscribe(t, "b")
	work := t.TempDir()
	a := startAgent(t, m, shim.Posix, work)
	id := agentID(t, m)
	fa.Launch(t, id, command("t1", "cpus:0.1;mem:64", `exec sleep 300`))
	fa.WaitUpdate(t, 20*time.Second, "t1", mesos.TaskRunning)
	dir := taskDir(t, work, fa.ID, "t1")
	p, _, _ := shim.ReadPid(filepath.Join(dir, "run"))
	a.stop(syscall.SIGKILL)
	toPreviousLayout(t, work)
	old := filepath.Join(work, "status", "t1")
	a.start()

	want := map[string]map[string]mesos.TaskState{fa.ID: {"t1": mesos.TaskRunning}}
	mastertest.WaitFor(t, 20*time.Second, "the agent back with its task", func() bool {
		st := m.State(nil)
		return len(st.Slaves) == 1 && st.Slaves[0].Active && agentHas(m, want)
	})
	if q, _, _ := shim.ReadPid(filepath.Join(dir, "run")); q.TaskPID != p.TaskPID || syscall.Kill(p.TaskPID, 0) != nil {
		t.Fatalf("t1 runs as pid %d after the upgrade, was %d (alive: %v)", q.TaskPID, p.TaskPID, syscall.Kill(p.TaskPID, 0))
	}
	fb.Launch(t, id, command("t1", "cpus:0.1;mem:64", `exec sleep 300`))
	fb.WaitUpdate(t, 20*time.Second, "t1", mesos.TaskRunning)

	fa.Kill(t, "t1")
	fa.WaitUpdate(t, 10*time.Second, "t1", mesos.TaskKilled)
	want = map[string]map[string]mesos.TaskState{fb.ID: {"t1": mesos.TaskRunning}}
	mastertest.WaitFor(t, 10*time.Second, "the agent to forget framework a's t1", func() bool { return agentHas(m, want) })
	// The status log goes after the task is forgotten, once its last
	// update is acknowledged.
	mastertest.WaitFor(t, 10*time.Second, "the previous layout's status directory of t1 to be removed", func() bool {
		_, err := os.Stat(old)
		return os.IsNotExist(err)
	})
	if n := updatesOf(fb, "t1"); n[mesos.TaskKilled] != 0 || n[mesos.TaskLost] != 0 {
		t.Errorf("framework b got updates %v of its t1, want it running", n)
	}
}
