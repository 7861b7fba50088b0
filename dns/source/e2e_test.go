package source

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/dns/records"
	"corral/masterd/marathon/marathontest"
	"corral/mesos"
	"corral/tstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	marathontest.RemoveBinaries()
	os.Exit(code)
}

// rawStream records a SUBSCRIBE stream as a client sees it, with arrival
// times.
type rawStream struct {
	mu     sync.Mutex
	events []mesos.OperatorEvent
	at     []time.Time
}

func subscribeRaw(t *testing.T, mesosURL string) *rawStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, mesosURL+mesos.OperatorAPIPath, strings.NewReader(`{"type":"SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE = %s", resp.Status)
	}
	rs := &rawStream{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rr := mesos.NewRecordReader(resp.Body)
		for {
			var ev mesos.OperatorEvent
			if err := rr.Read(&ev); err != nil {
				return
			}
			rs.mu.Lock()
			rs.events, rs.at = append(rs.events, ev), append(rs.at, time.Now())
			rs.mu.Unlock()
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return rs
}

// find returns the first event that matches and when it arrived.
func (rs *rawStream) find(match func(mesos.OperatorEvent) bool) (mesos.OperatorEvent, time.Time, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, ev := range rs.events {
		if match(ev) {
			return ev, rs.at[i], true
		}
	}
	return mesos.OperatorEvent{}, time.Time{}, false
}

// timedSnapshots records snapshots with the time they were emitted.
type timedSnapshots struct {
	mu  sync.Mutex
	all []mesos.MasterState
	at  []time.Time
}

func (s *timedSnapshots) emit(ms mesos.MasterState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all, s.at = append(s.all, ms), append(s.at, time.Now())
}

// first returns the first snapshot that matches and when it was emitted.
func (s *timedSnapshots) first(match func(mesos.MasterState) bool) (mesos.MasterState, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ms := range s.all {
		if match(ms) {
			return ms, s.at[i], true
		}
	}
	return mesos.MasterState{}, time.Time{}, false
}

func (s *timedSnapshots) last() mesos.MasterState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return mesos.MasterState{}
	}
	return s.all[len(s.all)-1]
}

func appTasks(ms mesos.MasterState, name string) []mesos.StateTask {
	var out []mesos.StateTask
	for _, f := range ms.Frameworks {
		for _, t := range f.Tasks {
			if t.Name == name {
				out = append(out, t)
			}
		}
	}
	return out
}

func marathonCall(t *testing.T, c *marathontest.Cluster, method, path string, body any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.Marathon+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %s %s", method, path, resp.Status, b)
	}
}

// TestRealMaster follows a real masterd: a Marathon app's tasks show up
// running and healthy with their agent and ports, and go when it is
// deleted. It also checks masterd's operator API as a raw client sees it,
// and measures how long a TASK_RUNNING takes from the master's stream to a
// snapshot.
func TestRealMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts masterd and agentd")
	}
	c := marathontest.Start(t, marathontest.Options{})
	raw := subscribeRaw(t, c.Mesos)
	snaps := &timedSnapshots{}
	src := newSource(t, nil, strings.TrimPrefix(c.Mesos, "http://"))
	runWith(t, src, snaps.emit)
	tstest.WaitFor(t, 10*time.Second, "the first snapshot", func() bool {
		ms := snaps.last()
		return ms.Leader != "" && len(ms.Slaves) == 1 && len(ms.Frameworks) == 1
	})

	const instances = 3
	marathonCall(t, c, http.MethodPost, "/v2/apps", map[string]any{
		"id":              "/dnsweb",
		"cmd":             "echo ok > index.html && exec busybox httpd -f -p $PORT0 -h .",
		"instances":       instances,
		"cpus":            0.1,
		"mem":             32,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
		"healthChecks": []map[string]any{{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
			"gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}},
		"taskKillGracePeriodSeconds": 1,
	})
	tstest.WaitFor(t, 60*time.Second, "the app's tasks running and healthy in a snapshot", func() bool {
		ts := appTasks(snaps.last(), "dnsweb")
		if len(ts) != instances {
			return false
		}
		for _, tk := range ts {
			last := tk.Statuses[len(tk.Statuses)-1]
			if tk.State != mesos.TaskRunning || last.Healthy == nil || !*last.Healthy {
				return false
			}
		}
		return true
	})
	ms := snaps.last()
	for _, tk := range appTasks(ms, "dnsweb") {
		ports, _ := tk.Resources["ports"].(string)
		if !strings.HasPrefix(ports, "[31") || !slices.ContainsFunc(ms.Slaves, func(a mesos.StateAgent) bool { return a.ID == tk.SlaveID }) {
			t.Fatalf("task %s: ports %q on agent %q, want a 31xxx port on a listed agent (%+v)", tk.ID, ports, tk.SlaveID, ms.Slaves)
		}
	}
	if ms.Leader != "master@127.0.0.1:"+strings.Split(c.Mesos, ":")[2] {
		t.Fatalf("snapshot leader = %q, want master@%s", ms.Leader, strings.TrimPrefix(c.Mesos, "http://"))
	}

	// The snapshot makes Mesos-DNS's records: leader, the app's A and SRV.
	rcfg := records.DefaultConfig()
	rcfg.Masters = src.Masters()
	start := time.Now()
	rs, err := records.Generate(ms, rcfg)
	if err != nil {
		t.Fatalf("records.Generate(snapshot) = %v", err)
	}
	t.Logf("records.Generate of the snapshot: %v, %d records", time.Since(start), rs.Len())
	if len(rs.Lookup("leader.mesos.")) != 1 || len(rs.Lookup("dnsweb.marathon.mesos.")) == 0 || len(rs.Lookup("_dnsweb._tcp.marathon.mesos.")) != instances {
		t.Fatalf("records: leader %v, dnsweb %v, _dnsweb._tcp %v; want a leader, the app's address and %d SRV",
			rs.Lookup("leader.mesos."), rs.Lookup("dnsweb.marathon.mesos."), rs.Lookup("_dnsweb._tcp.marathon.mesos."), instances)
	}

	// The raw stream: SUBSCRIBED first, then each task's TASK_ADDED and
	// TASK_UPDATED to TASK_RUNNING; the latency of each to a snapshot.
	if ev, _, ok := raw.find(func(mesos.OperatorEvent) bool { return true }); !ok || ev.Type != mesos.OperatorEventSubscribed {
		t.Fatalf("first event = %s, want SUBSCRIBED", ev.Type)
	}
	var lat, fromAgent []time.Duration
	for _, tk := range appTasks(ms, "dnsweb") {
		if _, _, ok := raw.find(func(ev mesos.OperatorEvent) bool {
			return ev.Type == mesos.OperatorEventTaskAdded && ev.TaskAdded.Task.TaskID.Value == tk.ID
		}); !ok {
			t.Fatalf("no TASK_ADDED for %s", tk.ID)
		}
		_, at, ok := raw.find(func(ev mesos.OperatorEvent) bool {
			return ev.Type == mesos.OperatorEventTaskUpdated && ev.TaskUpdated.Status.TaskID.Value == tk.ID && ev.TaskUpdated.State == mesos.TaskRunning
		})
		if !ok {
			t.Fatalf("no TASK_UPDATED to TASK_RUNNING for %s", tk.ID)
		}
		first, emitted, _ := snaps.first(func(ms mesos.MasterState) bool {
			return slices.ContainsFunc(appTasks(ms, "dnsweb"), func(x mesos.StateTask) bool { return x.ID == tk.ID && x.State == mesos.TaskRunning })
		})
		lat = append(lat, emitted.Sub(at))
		for _, x := range appTasks(first, "dnsweb") {
			if x.ID == tk.ID {
				// The status's timestamp is the agent's, when it saw the task run.
				agentTS := time.Unix(0, int64(x.Statuses[len(x.Statuses)-1].Timestamp*1e9))
				fromAgent = append(fromAgent, emitted.Sub(agentTS))
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(fromAgent, func(i, j int) bool { return fromAgent[i] < fromAgent[j] })
	t.Logf("TASK_RUNNING on the master's stream → snapshot: %v (sorted, %d tasks; a raw client and the source read the same stream, so ≈0)", lat, len(lat))
	t.Logf("TASK_RUNNING status timestamp (agent) → snapshot: %v", fromAgent)
	// Streamed, it is milliseconds; the bound only tells a stream from a
	// poll, with room for a loaded -race test process.
	if lat[len(lat)-1] > time.Second {
		t.Errorf("slowest TASK_RUNNING to snapshot took %v, want < 1s (streamed, not polled)", lat[len(lat)-1])
	}

	// GET_STATE lists the tasks.
	resp, err := http.Post(c.Mesos+mesos.OperatorAPIPath, "application/json", strings.NewReader(`{"type":"GET_STATE"}`))
	if err != nil {
		t.Fatal(err)
	}
	var gs mesos.OperatorResponse
	err = json.NewDecoder(resp.Body).Decode(&gs)
	resp.Body.Close()
	if err != nil || gs.GetState == nil {
		t.Fatalf("GET_STATE: %v %+v", err, gs)
	}
	n := 0
	for _, tk := range gs.GetState.GetTasks.Tasks {
		if tk.Name == "dnsweb" && tk.State == mesos.TaskRunning {
			n++
		}
	}
	if n != instances {
		t.Fatalf("GET_STATE lists %d running dnsweb tasks, want %d", n, instances)
	}

	// Deleting the app kills the tasks: TASK_UPDATED to TASK_KILLED, and
	// they leave the snapshot.
	killed := appTasks(ms, "dnsweb")
	marathonCall(t, c, http.MethodDelete, "/v2/apps/dnsweb", nil)
	tstest.WaitFor(t, 30*time.Second, "the tasks gone from the snapshot", func() bool {
		return len(appTasks(snaps.last(), "dnsweb")) == 0
	})
	for _, tk := range killed {
		if _, _, ok := raw.find(func(ev mesos.OperatorEvent) bool {
			return ev.Type == mesos.OperatorEventTaskUpdated && ev.TaskUpdated.Status.TaskID.Value == tk.ID && ev.TaskUpdated.State == mesos.TaskKilled
		}); !ok {
			t.Fatalf("no TASK_UPDATED to TASK_KILLED for %s", tk.ID)
		}
	}
	if st := src.Status(); !st.Connected || !st.Streaming {
		t.Fatalf("Status() = %+v, want connected and streaming", st)
	}
}
