package marathon_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/masterd/metrics/metricstest"
)

// TestMetricsMatchState deploys an app of three instances through Marathon
// and kills one of its tasks: masterd's /metrics (on both ports) and
// /metrics/snapshot, and the agent's, count what /master/state shows.
func TestMetricsMatchState(t *testing.T) {
	c := marathontest.Start(t, marathontest.Options{})
	app := map[string]any{"id": "/sleepy", "cmd": "exec sleep 300", "instances": 3, "cpus": 0.1, "mem": 16,
		"taskKillGracePeriodSeconds": 1}
	if code, body := call(t, c, http.MethodPost, "/v2/apps", app); code != http.StatusCreated {
		t.Fatalf("POST /v2/apps: %d %s", code, body)
	}
	var tasks []marathon.Task
	running := func(n int) func() bool {
		return func() bool {
			a, ok := c.App("/sleepy")
			if !ok || len(a.Deployments) > 0 || a.Counts == nil || a.Counts.Running != n || len(a.Tasks) != n {
				return false
			}
			tasks = a.Tasks
			return true
		}
	}
	c.WaitFor(60*time.Second, "3 running instances", running(3))
	if code, body := call(t, c, http.MethodDelete, "/v2/apps/sleepy/tasks/"+tasks[0].ID+"?scale=true", nil); code != http.StatusOK {
		t.Fatalf("killing a task: %d %s", code, body)
	}
	c.WaitFor(30*time.Second, "2 running instances", running(2))
	c.WaitFor(30*time.Second, "the killed task in /master/state", func() bool {
		return metricstest.FromState(c.MasterState(t))["master/tasks_killed"] == 1
	})

	// Offers come and go between reads; the figures agree once they
	// stand still.
	var snapDiff, promDiff []string
	var snap map[string]float64
	var fams metricstest.Families
	defer func() {
		if t.Failed() {
			t.Logf("/metrics/snapshot differs from /master/state: %q", snapDiff)
			t.Logf("/metrics differs from /master/state: %q", promDiff)
		}
	}()
	c.WaitFor(10*time.Second, "the metrics to match /master/state", func() bool {
		want := metricstest.FromState(c.MasterState(t))
		snap = metricstest.Snapshot(t, c.Mesos+"/metrics/snapshot")
		fams = metricstest.Get(t, c.Mesos+"/metrics")
		snapDiff = metricstest.Diff(snap, want)
		promDiff = metricstest.Diff(fams.MasterFigures(), want)
		return len(snapDiff) == 0 && len(promDiff) == 0
	})
	for k, want := range map[string]float64{"master/elected": 1, "master/slaves_active": 1, "master/frameworks_active": 1,
		"master/tasks_running": 2, "master/tasks_killed": 1, "master/cpus_used": 0.2, "master/mem_used": 32} {
		if snap[k] != want {
			t.Errorf("snapshot %s = %v, want %v", k, snap[k], want)
		}
	}

	// The Marathon port serves the same registry, with Marathon's figures.
	mfams := metricstest.Get(t, c.Marathon+"/metrics")
	for _, cs := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mesos_master_tasks", []string{"state", "running"}, 2},
		{"mesos_master_elected", nil, 1},
		{"marathon_apps", nil, 1},
		{"marathon_deployments", nil, 0},
		{"marathon_launch_queue_instances", nil, 0},
	} {
		if got, ok := mfams.Value(cs.name, cs.labels...); !ok || got != cs.want {
			t.Errorf("Marathon port %s%v = %v (present %v), want %v", cs.name, cs.labels, got, ok, cs.want)
		}
	}
	if v, _ := mfams.Value("masterd_leader_changes_total"); v < 1 {
		t.Errorf("masterd_leader_changes_total = %v, want at least 1", v)
	}
	for _, h := range []struct {
		name   string
		labels []string
	}{
		{"masterd_http_request_duration_seconds", []string{"api", "marathon", "route", "/v2/apps", "code", "201"}},
		{"masterd_http_request_duration_seconds", []string{"api", "mesos", "route", "GET /master/state", "code", "200"}},
		{"masterd_etcd_request_duration_seconds", []string{"method", "Txn"}},
		{"mesos_allocator_allocation_run_seconds", nil},
	} {
		if mfams.Count(h.name, h.labels...) == 0 {
			t.Errorf("%s%v observed nothing", h.name, h.labels)
		}
	}

	// The agent counts the same tasks.
	pid := c.MasterState(t).Slaves[0].PID
	agent := metricstest.Snapshot(t, "http://"+pid[strings.Index(pid, "@")+1:]+"/metrics/snapshot")
	for _, k := range []string{"tasks_running", "tasks_killed", "cpus_used", "mem_used"} {
		if agent["slave/"+k] != snap["master/"+k] {
			t.Errorf("agent's slave/%s = %v, master's master/%s = %v", k, agent["slave/"+k], k, snap["master/"+k])
		}
	}
}
