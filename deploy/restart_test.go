package deploy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/mesos"
)

// TestAgentdRestartKeepsTasks restarts agentd as agentd.service does — its
// main process alone gets SIGTERM, the tasks' shims nothing — and finds the
// tasks still running as the same processes, re-attached: the master still
// lists them TASK_RUNNING, Marathon launched nothing new, and killing a
// task through Marathon works afterwards.
func TestAgentdRestartKeepsTasks(t *testing.T) {
	unit := unitService(t, filepath.Join(repoRoot(t), "deploy", "agentd.service"))
	if got := unit["KillMode"]; len(got) != 1 || got[0] != "process" {
		t.Fatalf("agentd.service has KillMode=%v, want process: any other mode kills the tasks' shims with agentd", got)
	}
	c := marathontest.Start(t, marathontest.Options{
		MasterArgs: []string{"--log-format", "json"},
		AgentArgs:  []string{"--log-format", "json"},
	})
	events := c.Events()
	post(t, c.Marathon+"/v2/apps", map[string]any{
		"id": "/sleeper", "cmd": "exec sleep 3600", "instances": 2, "cpus": 0.1, "mem": 32,
		"taskKillGracePeriodSeconds": 1,
	})
	tasks := runningTasks(t, c, 2)
	procs := map[string]shim.Process{}
	for _, id := range tasks {
		procs[id] = shimProcess(t, c, id)
	}
	agentID := c.MasterState(t).Slaves[0].ID

	stopping := time.Now()
	exit := c.StopAgent(syscall.SIGTERM, 30*time.Second)
	stopped := time.Since(stopping)
	if !exit.Success() {
		t.Errorf("agentd exited with %v on SIGTERM, want a clean exit (0)", exit)
	}
	for id, p := range procs {
		if !p.Alive() || syscall.Kill(p.TaskPID, 0) != nil {
			t.Fatalf("task %s (shim %d, pid %d) ended with agentd", id, p.ShimPID, p.TaskPID)
		}
	}

	starting := time.Now()
	c.StartAgent()
	c.WaitFor(30*time.Second, "agentd to re-register with its agent ID", func() bool {
		st := c.MasterState(t)
		return len(st.Slaves) == 1 && st.Slaves[0].ID == agentID && st.Slaves[0].Active
	})
	t.Logf("agentd exited %v after SIGTERM; restarted, it was active again after %v", stopped.Round(time.Millisecond), time.Since(starting).Round(time.Millisecond))
	if got := runningTasks(t, c, 2); !slices.Equal(got, tasks) {
		t.Fatalf("after the restart Marathon runs %v, want the same tasks %v", got, tasks)
	}
	for id, p := range procs {
		if got := shimProcess(t, c, id); got != p || !p.Alive() {
			t.Fatalf("task %s runs as %+v after the restart, was %+v", id, got, p)
		}
	}
	st := c.MasterState(t)
	for _, task := range st.Frameworks[0].Tasks {
		if task.State != mesos.TaskRunning {
			t.Errorf("master lists %s as %s after the restart, want TASK_RUNNING", task.ID, task.State)
		}
	}
	if n := len(st.Frameworks[0].Tasks); n != 2 {
		t.Errorf("master lists %d tasks after the restart, want the 2 it had", n)
	}
	for _, e := range statusUpdates(events()) {
		if !slices.Contains(tasks, e.TaskID) {
			t.Errorf("Marathon launched %s (%s): a relaunch", e.TaskID, e.TaskStatus)
		}
		if e.TaskStatus != "TASK_STAGING" && e.TaskStatus != "TASK_STARTING" && e.TaskStatus != "TASK_RUNNING" {
			t.Errorf("task %s went %s (%s) across the restart", e.TaskID, e.TaskStatus, e.Message)
		}
	}

	// The re-attached agentd still kills: one task through Marathon.
	victim, other := tasks[0], tasks[1]
	req, _ := http.NewRequest(http.MethodDelete, c.Marathon+"/v2/apps/sleeper/tasks/"+victim+"?scale=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE /v2/apps/sleeper/tasks/%s: %s", victim, resp.Status)
	}
	c.WaitFor(20*time.Second, "the killed task's process to end", func() bool {
		return !procs[victim].Alive() && syscall.Kill(procs[victim].TaskPID, 0) != nil
	})
	c.WaitFor(20*time.Second, "Marathon to see TASK_KILLED", func() bool {
		for _, e := range statusUpdates(events()) {
			if e.TaskID == victim && e.TaskStatus == "TASK_KILLED" {
				return true
			}
		}
		return false
	})
	if got := runningTasks(t, c, 1); !slices.Equal(got, []string{other}) {
		t.Errorf("after the kill Marathon runs %v, want %v", got, []string{other})
	}
	if !procs[other].Alive() {
		t.Errorf("the task that was not killed (%s) ended", other)
	}

	// --log-format json: every line the daemons wrote is a JSON record.
	for _, name := range []string{"masterd.log", "agentd.log"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var rec struct{ Time, Level, Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Msg == "" || rec.Level == "" {
				t.Fatalf("%s line %d is not a JSON log record: %q", name, i+1, line)
			}
		}
	}
}

func post(t *testing.T, url string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// runningTasks waits until Marathon lists n tasks of /sleeper, all
// TASK_RUNNING, and returns their IDs, sorted.
func runningTasks(t *testing.T, c *marathontest.Cluster, n int) []string {
	t.Helper()
	var ids []string
	c.WaitFor(60*time.Second, "tasks of /sleeper running", func() bool {
		app, ok := c.App("/sleeper")
		if !ok || len(app.Tasks) != n || len(app.Deployments) > 0 {
			return false
		}
		ids = ids[:0]
		for _, task := range app.Tasks {
			if task.State != "TASK_RUNNING" {
				return false
			}
			ids = append(ids, task.ID)
		}
		return true
	})
	slices.Sort(ids)
	return ids
}

// shimProcess reads what a task's shim recorded: its PID and start time
// and the task's PID.
func shimProcess(t *testing.T, c *marathontest.Cluster, taskID string) shim.Process {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(c.AgentDir(), "tasks", "*_"+taskID, "run"))
	if len(dirs) != 1 {
		t.Fatalf("run dir of %s: found %v", taskID, dirs)
	}
	p, ok, err := shim.ReadPid(dirs[0])
	if !ok || err != nil {
		t.Fatalf("shim of %s: recorded %v, %v", taskID, ok, err)
	}
	return p
}

func statusUpdates(evs []marathontest.Event) []marathon.StatusUpdateEvent {
	var out []marathon.StatusUpdateEvent
	for _, e := range evs {
		if e.Type == marathon.EventStatusUpdate {
			var v marathon.StatusUpdateEvent
			if json.Unmarshal(e.Data, &v) == nil {
				out = append(out, v)
			}
		}
	}
	return out
}
