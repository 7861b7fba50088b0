package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/masterd/metrics/metricstest"
	"corral/mesos"
)

// TestAgentMetrics runs tasks that finish, fail, get killed and keep
// running healthy: the agent's /metrics/snapshot and /metrics count them
// as its /state and the master's /master/state show them, and report the
// running task's cgroup usage.
func TestAgentMetrics(t *testing.T) {
	isolation := shim.Posix
	if os.Geteuid() == 0 {
		isolation = shim.Linux
	}
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, isolation, work)
	id := agentID(t, m)
	pid := m.State(nil).Slaves[0].PID // slave(1)@127.0.0.1:port
	agent := "http://" + pid[strings.Index(pid, "@")+1:]

	web := command("web", "cpus:0.25;mem:64", `touch healthy; exec sleep 300`)
	web.HealthCheck = healthCheck(`test -f "$MESOS_SANDBOX/healthy"`)
	f.Launch(t, id, web)
	f.Launch(t, id, command("done", "cpus:0.1;mem:32", `true`))
	f.Launch(t, id, command("fail", "cpus:0.1;mem:32", `exit 3`))
	f.Launch(t, id, command("gone", "cpus:0.1;mem:32", `exec sleep 300`))
	f.WaitUpdate(t, 20*time.Second, "done", mesos.TaskFinished)
	f.WaitUpdate(t, 20*time.Second, "fail", mesos.TaskFailed)
	f.WaitUpdate(t, 20*time.Second, "gone", mesos.TaskRunning)
	f.Kill(t, "gone")
	f.WaitUpdate(t, 20*time.Second, "gone", mesos.TaskKilled)
	mastertest.WaitFor(t, 20*time.Second, "web to be healthy", func() bool {
		for _, ev := range f.Events() {
			if u := ev.Update; u != nil && u.TaskID == "web" && u.Healthy != nil && *u.Healthy {
				return true
			}
		}
		return false
	})

	// Every update acknowledged: nothing pending, and the figures stand
	// still for the comparison.
	var fams metricstest.Families
	mastertest.WaitFor(t, 20*time.Second, "no status update pending", func() bool {
		fams = metricstest.Get(t, agent+"/metrics")
		v, ok := fams.Value("agentd_status_updates_pending")
		return ok && v == 0
	})
	snap := metricstest.Snapshot(t, agent+"/metrics/snapshot")

	// What the agent's /state and the master's /master/state show.
	var state struct {
		Resources map[string]any `json:"resources"`
		Tasks     []mesos.Task   `json:"tasks"`
	}
	resp, err := http.Get(agent + "/state")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	want := map[string]float64{"slave/registered": 1, "slave/cpus_total": state.Resources["cpus"].(float64),
		"slave/mem_total": state.Resources["mem"].(float64), "slave/cpus_used": 0, "slave/mem_used": 0}
	for _, s := range mesos.MetricLiveStates {
		if s != mesos.TaskUnreachable {
			want["slave/tasks_"+s.MetricName()] = 0
		}
	}
	for _, task := range state.Tasks {
		if !task.State.Terminal() {
			want["slave/tasks_"+task.State.MetricName()]++
			want["slave/cpus_used"] += task.Info.Resources.Scalar(mesos.CPUs)
			want["slave/mem_used"] += task.Info.Resources.Scalar(mesos.Mem)
		}
	}
	for _, s := range mesos.MetricEndStates {
		want["slave/tasks_"+s.MetricName()] = 0
	}
	for _, fw := range m.State(nil).Frameworks {
		for _, task := range fw.CompletedTasks {
			want["slave/tasks_"+task.State.MetricName()]++
		}
	}
	want["slave/cpus_percent"] = want["slave/cpus_used"] / want["slave/cpus_total"]
	if d := metricstest.Diff(snap, want); len(d) > 0 {
		t.Errorf("agent's /metrics/snapshot differs from /state and /master/state: %q", d)
	}
	for k, v := range map[string]float64{"slave/tasks_running": 1, "slave/tasks_finished": 1, "slave/tasks_failed": 1,
		"slave/tasks_killed": 1, "slave/cpus_used": 0.25, "slave/cpus_total": 4} {
		if snap[k] != v {
			t.Errorf("snapshot %s = %v, want %v", k, snap[k], v)
		}
	}

	// The Prometheus text says the same, under its names.
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mesos_slave_registered", nil, 1},
		{"mesos_slave_tasks", []string{"state", "running"}, snap["slave/tasks_running"]},
		{"mesos_slave_tasks_terminal_total", []string{"state", "finished"}, snap["slave/tasks_finished"]},
		{"mesos_slave_tasks_terminal_total", []string{"state", "failed"}, snap["slave/tasks_failed"]},
		{"mesos_slave_tasks_terminal_total", []string{"state", "killed"}, snap["slave/tasks_killed"]},
		{"mesos_slave_resources", []string{"resource", "cpus", "type", "used"}, snap["slave/cpus_used"]},
		{"mesos_slave_resources", []string{"resource", "mem", "type", "total"}, snap["slave/mem_total"]},
		{"agentd_tasks_health", []string{"result", "healthy"}, 1},
		{"agentd_tasks_health", []string{"result", "unhealthy"}, 0},
	} {
		if got, ok := fams.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if v, _ := fams.Value("agentd_health_updates_total", "result", "healthy"); v < 1 {
		t.Errorf("agentd_health_updates_total{result=healthy} = %v, want at least 1", v)
	}
	if n := fams.Count("agentd_container_start_seconds"); n < 2 {
		t.Errorf("container starts observed: %d, want at least web's and gone's", n)
	}
	if isolation != shim.Linux {
		return
	}
	// The running task's cgroup, as /monitor/statistics reads it.
	if v, ok := fams.Value("agentd_task_memory_limit_bytes", "task", "web"); !ok || v != 64<<20 {
		t.Errorf("agentd_task_memory_limit_bytes{task=web} = %v (present %v), want 64 MiB", v, ok)
	}
	if v, ok := fams.Value("agentd_task_memory_usage_bytes", "task", "web"); !ok || v <= 0 {
		t.Errorf("agentd_task_memory_usage_bytes{task=web} = %v (present %v), want some memory", v, ok)
	}
	if _, ok := fams.Value("agentd_task_cpu_seconds_total", "task", "web", "mode", "user"); !ok {
		t.Error("agentd_task_cpu_seconds_total{task=web,mode=user} missing")
	}
	if v, _ := fams.Value("agentd_task_cpus_limit", "task", "web"); v != 0.25 {
		t.Errorf("agentd_task_cpus_limit{task=web} = %v, want 0.25", v)
	}
	if _, ok := fams.Value("agentd_task_memory_usage_bytes", "task", "gone"); ok {
		t.Error("a killed task still has usage series")
	}
}
