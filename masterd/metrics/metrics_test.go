package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/agentd/masterlink"
	"corral/masterd/master"
	"corral/masterd/master/mastertest"
	"corral/masterd/metrics"
	"corral/masterd/metrics/metricstest"
	"corral/mesos"
	"corral/tstest"
)

// simAgent registers with the master over the agent protocol and plays
// its tasks' executors: a launched task reports TASK_RUNNING, unless it is
// named "stuck" (it stays staging), and a killed one TASK_KILLED.
func simAgent(t *testing.T, m *mastertest.Master, resources string) *masterlink.Link {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var link *masterlink.Link
	send := func(fid, taskID string, state mesos.TaskState) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := mesos.TaskStatus{TaskID: taskID, State: state, UUID: mesos.NewUUID(), AgentID: link.AgentID()}
			link.Send(ctx, mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{FrameworkID: fid, Status: st}})
		}()
	}
	var err error
	link, err = masterlink.New(masterlink.Config{
		Masters: []string{m.Addr}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Info: mesos.AgentInfo{Hostname: "sim", IP: "127.0.0.1", Port: 5051, Resources: mesos.MustParseResources(resources)},
	}, func(_ context.Context, ev mesos.AgentEvent) {
		switch ev.Type {
		case mesos.AgentEventLaunch:
			if ev.Launch.Task.Name != "stuck" {
				send(ev.Launch.FrameworkID, ev.Launch.Task.TaskID, mesos.TaskRunning)
			}
		case mesos.AgentEventKill:
			send(ev.Kill.FrameworkID, ev.Kill.TaskID, mesos.TaskKilled)
		}
	}, mastertest.Log())
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); link.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-link.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("simulated agent did not register")
	}
	return link
}

func task(id, name string) mesos.TaskInfo {
	return mesos.TaskInfo{TaskID: id, Name: name, Resources: mesos.MustParseResources("cpus:0.5;mem:128"),
		Command: &mesos.CommandInfo{Value: "sleep 1000"}}
}

// TestFiguresMatchMasterState launches tasks on two agents, kills one and
// leaves one staging: the snapshot and the Prometheus text show what
// /master/state shows.
func TestFiguresMatchMasterState(t *testing.T) {
	var ms *mastertest.Master
	met := metrics.New(metrics.Sources{Master: func() *master.Master { return ms.Master }, Leading: func() bool { return true }})
	ms = mastertest.Start(t, func(c *master.Config) { c.AllocationTime = met.AllocationTime })
	a1 := simAgent(t, ms, "cpus:4;mem:1024;disk:100")
	a2 := simAgent(t, ms, "cpus:2;mem:512;disk:100")
	f := ms.Subscribe(t, "fw")
	f.Launch(t, a1.AgentID(), task("run", "run"))
	f.Launch(t, a1.AgentID(), task("kill", "kill"))
	f.Launch(t, a2.AgentID(), task("stuck", "stuck"))
	f.WaitUpdate(t, 10*time.Second, "run", mesos.TaskRunning)
	f.WaitUpdate(t, 10*time.Second, "kill", mesos.TaskRunning)
	f.Kill(t, "kill")
	f.WaitUpdate(t, 10*time.Second, "kill", mesos.TaskKilled)

	srv := httptest.NewServer(met.Handler())
	defer srv.Close()
	// Offers come and go between two reads; the figures must agree once
	// they stand still (the framework keeps what it is offered).
	var snapDiff, promDiff []string
	var snap map[string]float64
	var fams metricstest.Families
	defer func() {
		if t.Failed() {
			t.Logf("snapshot differs from /master/state: %q", snapDiff)
			t.Logf("Prometheus text differs from /master/state: %q", promDiff)
		}
	}()
	tstest.WaitFor(t, 10*time.Second, "the figures to match /master/state", func() bool {
		want := metricstest.FromState(ms.State(nil))
		snap = met.Snapshot()
		fams = metricstest.Get(t, srv.URL)
		snapDiff = metricstest.Diff(snap, want)
		promDiff = metricstest.Diff(fams.MasterFigures(), want)
		return len(snapDiff) == 0 && len(promDiff) == 0
	})
	for k, want := range map[string]float64{
		"master/elected": 1, "master/slaves_active": 2, "master/frameworks_active": 1,
		"master/tasks_running": 1, "master/tasks_staging": 1, "master/tasks_killed": 1,
		"master/cpus_total": 6, "master/cpus_used": 1, "master/mem_used": 256, "master/mem_percent": 256.0 / 1536,
	} {
		if got := snap[k]; got != want {
			t.Errorf("snapshot %s = %v, want %v", k, got, want)
		}
	}
	if v, _ := fams.Value("mesos_master_elected"); v != 1 {
		t.Errorf("mesos_master_elected = %v, want 1", v)
	}
	if n := fams.Count("mesos_allocator_allocation_run_seconds"); n == 0 || float64(n) > snap["allocator/mesos/allocation_runs"]+100 {
		t.Errorf("allocation cycles observed %d, snapshot allocation_runs %v", n, snap["allocator/mesos/allocation_runs"])
	}
}

// TestStandbySnapshot: a master that does not lead reports master/elected
// 0 and no cluster figures, which only the leader knows.
func TestStandbySnapshot(t *testing.T) {
	met := metrics.New(metrics.Sources{Master: func() *master.Master { return nil }, Leading: func() bool { return false }})
	snap := met.Snapshot()
	if snap["master/elected"] != 0 {
		t.Errorf("master/elected = %v, want 0", snap["master/elected"])
	}
	if _, ok := snap["master/uptime_secs"]; !ok {
		t.Error("master/uptime_secs missing")
	}
	if _, ok := snap["master/tasks_running"]; ok {
		t.Error("a standby reports master/tasks_running")
	}
}

// TestInstrumentLabelsRouteNotPath: requests are counted under the route
// pattern that served them, never the raw path (IDs would make series
// without bound), and streams still flush through the wrapper.
func TestInstrumentLabelsRouteNotPath(t *testing.T) {
	met := metrics.New(metrics.Sources{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/apps/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flushing through the instrumented writer: %v", err)
		}
	})
	srv := httptest.NewServer(met.Instrument("marathon", mux))
	defer srv.Close()
	for _, p := range []string{"/v2/apps/a", "/v2/apps/b", "/nowhere", "/stream"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	msrv := httptest.NewServer(met.Handler())
	defer msrv.Close()
	wants := []struct {
		route, code string
		want        uint64
	}{
		{"GET /v2/apps/{id}", "200", 2},
		{"-", "404", 1},
		{"GET /stream", "202", 1},
	}
	count := func(fams metricstest.Families, route, code string) uint64 {
		return fams.Count("masterd_http_request_duration_seconds", "api", "marathon", "route", route, "code", code)
	}
	// A request is counted as its handler returns, which for the flushed
	// stream may be after the client has read the response.
	var fams metricstest.Families
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fams = metricstest.Get(t, msrv.URL)
		if count(fams, "GET /stream", "202") > 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range wants {
		if got := count(fams, c.route, c.code); got != c.want {
			t.Errorf("requests of route %q code %s = %d, want %d", c.route, c.code, got, c.want)
		}
	}
	for _, m := range fams["masterd_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "/v2/apps/a") {
				t.Errorf("raw path %q used as a route label", l.GetValue())
			}
		}
	}
}
