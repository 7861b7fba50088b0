package source

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"corral/mesos"
)

func id(s string) *mesos.V1ID { return &mesos.V1ID{Value: s} }

func v1Task(fw, task, agent string, st mesos.TaskState) mesos.V1Task {
	return mesos.NewV1Task(mesos.TaskInfo{
		Name: task, TaskID: task, AgentID: agent, Resources: mesos.MustParseResources("cpus:0.1;ports:[31000-31000]"),
	}, fw, st, []mesos.TaskStatus{{TaskID: task, AgentID: agent, State: st, Timestamp: 1}})
}

func agent(agentID string) mesos.OperatorAgent {
	return mesos.OperatorAgent{AgentInfo: mesos.V1AgentInfo{ID: id(agentID), Hostname: "10.0.0.1", Port: 5051}, Active: true, PID: "slave(1)@10.0.0.1:5051"}
}

func framework(fw, name string) mesos.OperatorFramework {
	return mesos.OperatorFramework{FrameworkInfo: mesos.V1FrameworkInfo{ID: id(fw), Name: name}, Active: true}
}

func subscribed(gs mesos.GetState) mesos.OperatorEvent {
	return mesos.OperatorEvent{Type: mesos.OperatorEventSubscribed, Subscribed: &mesos.OperatorSubscribed{GetState: gs, HeartbeatIntervalSeconds: 15}}
}

func taskUpdate(fw, task string, st mesos.TaskState, healthy *bool, ip string) mesos.OperatorEvent {
	s := mesos.V1TaskStatus{TaskID: mesos.V1ID{Value: task}, State: st, Timestamp: 2, Healthy: healthy}
	if ip != "" {
		s.ContainerStatus = &mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.IPAddress{{IPAddress: ip}}}}}
	}
	return mesos.OperatorEvent{Type: mesos.OperatorEventTaskUpdated, TaskUpdated: &mesos.OperatorTaskUpdated{
		FrameworkID: mesos.V1ID{Value: fw}, Status: s, State: st,
	}}
}

func TestStateApply(t *testing.T) {
	yes, no := true, false
	base := mesos.GetState{
		GetAgents:     mesos.GetAgents{Agents: []mesos.OperatorAgent{agent("S1")}},
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.OperatorFramework{framework("F1", "marathon")}},
		GetTasks:      mesos.GetTasks{Tasks: []mesos.V1Task{v1Task("F1", "t1", "S1", mesos.TaskRunning)}},
	}
	for _, tc := range []struct {
		name    string
		events  []mesos.OperatorEvent
		changed bool // by the last event
		check   func(t *testing.T, ms mesos.MasterState)
	}{
		{"subscribed", []mesos.OperatorEvent{subscribed(base)}, true, func(t *testing.T, ms mesos.MasterState) {
			if len(ms.Slaves) != 1 || len(ms.Frameworks) != 1 || len(ms.Frameworks[0].Tasks) != 1 || ms.ActivatedSlaves != 1 {
				t.Fatalf("snapshot = %+v, want one agent, one framework with one task", ms)
			}
		}},
		{"task added", []mesos.OperatorEvent{subscribed(base),
			{Type: mesos.OperatorEventTaskAdded, TaskAdded: &mesos.OperatorTaskAdded{Task: v1Task("F1", "t2", "S1", mesos.TaskStaging)}}}, true,
			func(t *testing.T, ms mesos.MasterState) {
				if ts := ms.Frameworks[0].Tasks; len(ts) != 2 || ts[1].ID != "t2" || ts[1].State != mesos.TaskStaging {
					t.Fatalf("tasks = %+v, want t1 and t2 staging", ts)
				}
			}},
		{"running with an address, then a health change keeps it", []mesos.OperatorEvent{subscribed(base),
			taskUpdate("F1", "t1", mesos.TaskRunning, nil, "10.1.0.5"), taskUpdate("F1", "t1", mesos.TaskRunning, &no, "")}, true,
			func(t *testing.T, ms mesos.MasterState) {
				sts := ms.Frameworks[0].Tasks[0].Statuses
				last := sts[len(sts)-1]
				if last.Healthy == nil || *last.Healthy || last.ContainerStatus == nil || last.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "10.1.0.5" {
					t.Fatalf("latest status = %+v, want unhealthy with the address kept", last)
				}
			}},
		{"killed is gone", []mesos.OperatorEvent{subscribed(base), taskUpdate("F1", "t1", mesos.TaskKilled, &yes, "")}, true,
			func(t *testing.T, ms mesos.MasterState) {
				if len(ms.Frameworks[0].Tasks) != 0 {
					t.Fatalf("tasks = %+v, want none", ms.Frameworks[0].Tasks)
				}
			}},
		{"update of an unknown task", []mesos.OperatorEvent{subscribed(base), taskUpdate("F1", "nope", mesos.TaskRunning, nil, "")}, false, nil},
		{"heartbeat", []mesos.OperatorEvent{subscribed(base), {Type: mesos.OperatorEventHeartbeat}}, false, nil},
		{"unknown type", []mesos.OperatorEvent{subscribed(base), {Type: "OPERATION_UPDATED"}}, false, nil},
		{"type without body", []mesos.OperatorEvent{subscribed(base), {Type: mesos.OperatorEventTaskAdded}}, false, nil},
		{"agent removed", []mesos.OperatorEvent{subscribed(base),
			{Type: mesos.OperatorEventAgentRemoved, AgentRemoved: &mesos.OperatorAgentRemoved{AgentID: mesos.V1ID{Value: "S1"}}}}, true,
			func(t *testing.T, ms mesos.MasterState) {
				if len(ms.Slaves) != 0 {
					t.Fatalf("agents = %+v, want none", ms.Slaves)
				}
			}},
		{"framework removed takes its tasks", []mesos.OperatorEvent{subscribed(base),
			{Type: mesos.OperatorEventFrameworkRemoved, FrameworkRemoved: &mesos.OperatorFrameworkRemove{FrameworkInfo: mesos.V1FrameworkInfo{ID: id("F1")}}}}, true,
			func(t *testing.T, ms mesos.MasterState) {
				if len(ms.Frameworks) != 0 || len(ms.OrphanTasks) != 0 {
					t.Fatalf("frameworks %+v, orphans %+v, want none", ms.Frameworks, ms.OrphanTasks)
				}
			}},
		{"task of an unknown framework is an orphan", []mesos.OperatorEvent{subscribed(base),
			{Type: mesos.OperatorEventTaskAdded, TaskAdded: &mesos.OperatorTaskAdded{Task: v1Task("F9", "t9", "S1", mesos.TaskRunning)}}}, true,
			func(t *testing.T, ms mesos.MasterState) {
				if len(ms.OrphanTasks) != 1 || ms.OrphanTasks[0].ID != "t9" {
					t.Fatalf("orphans = %+v, want t9", ms.OrphanTasks)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newState()
			var changed bool
			for _, ev := range tc.events {
				changed, _ = s.apply(ev)
			}
			if changed != tc.changed {
				t.Fatalf("apply(%s) changed = %v, want %v", tc.events[len(tc.events)-1].Type, changed, tc.changed)
			}
			if tc.check != nil {
				tc.check(t, s.snapshot())
			}
		})
	}
}

// TestSnapshotsAreIndependent: a snapshot handed out does not change when
// later events are applied.
func TestSnapshotsAreIndependent(t *testing.T) {
	s := newState()
	s.apply(subscribed(mesos.GetState{
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.OperatorFramework{framework("F1", "marathon")}},
		GetTasks:      mesos.GetTasks{Tasks: []mesos.V1Task{v1Task("F1", "t1", "S1", mesos.TaskStaging)}},
	}))
	before := s.snapshot()
	b1, _ := json.Marshal(before)
	for range 20 {
		s.apply(taskUpdate("F1", "t1", mesos.TaskRunning, nil, "10.0.0.9"))
	}
	b2, _ := json.Marshal(before)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("an earlier snapshot changed:\n%s\n%s", b1, b2)
	}
	if n := len(s.snapshot().Frameworks[0].Tasks[0].Statuses); n != maxStatuses {
		t.Fatalf("statuses kept = %d, want %d", n, maxStatuses)
	}
}

// FuzzEvents feeds arbitrary bytes to the stream decoder and applies what
// decodes: nothing may panic, and every snapshot must encode.
func FuzzEvents(f *testing.F) {
	var buf bytes.Buffer
	w := mesos.NewRecordWriter(&buf)
	w.Write(subscribed(mesos.GetState{
		GetAgents:     mesos.GetAgents{Agents: []mesos.OperatorAgent{agent("S1")}},
		GetFrameworks: mesos.GetFrameworks{Frameworks: []mesos.OperatorFramework{framework("F1", "marathon")}},
		GetTasks:      mesos.GetTasks{Tasks: []mesos.V1Task{v1Task("F1", "t1", "S1", mesos.TaskRunning)}},
	}))
	w.Write(taskUpdate("F1", "t1", mesos.TaskRunning, nil, "10.0.0.2"))
	w.Write(mesos.OperatorEvent{Type: mesos.OperatorEventHeartbeat})
	f.Add(buf.Bytes())
	f.Add([]byte("20\n{\"type\":\"HEARTBEAT\"}"))
	f.Add([]byte("99999999999999999999\n"))
	f.Add([]byte("5\n{\"typ"))
	f.Add([]byte(`74` + "\n" + `{"type":"TASK_UPDATED","task_updated":{"framework_id":{},"status":{},"state":""}}`))
	f.Add([]byte(`110` + "\n" + `{"type":"TASK_ADDED","task_added":{"task":{"task_id":{"value":"x"},"resources":[{"name":"p","ranges":{"range":[{"begin":9,"end":1}]}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		events := make(chan mesos.OperatorEvent, 16)
		done := make(chan error, 1)
		go func() {
			done <- readEvents(context.Background(), bytes.NewReader(data), events)
			close(events)
		}()
		s := newState()
		for ev := range events {
			s.apply(ev)
			if _, err := json.Marshal(s.snapshot()); err != nil {
				t.Fatalf("snapshot does not encode: %v", err)
			}
		}
		if err := <-done; err == nil {
			t.Fatal("readEvents returned nil at the end of the input")
		}
	})
}
