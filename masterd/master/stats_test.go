package master

import (
	"fmt"
	"testing"
	"time"

	"corral/masterd/state"
	"corral/mesos"
)

// bigMaster is a master holding agents agents with perAgent running tasks
// each, of one framework, built in memory (no registry).
func bigMaster(b *testing.B, agents, perAgent int) *Master {
	m, err := New(testConfig("m1"), nil, testLog())
	if err != nil {
		b.Fatal(err)
	}
	f := newFramework(state.Framework{Info: mesos.FrameworkInfo{ID: "fw", Name: "fw", Role: "*"}}, time.Time{})
	f.events = newQueue[mesos.Event]()
	m.frameworks["fw"] = f
	res := mesos.MustParseResources("cpus:0.1;mem:32;ports:[31000-31000]")
	for i := range agents {
		id := fmt.Sprintf("m1-S%d", i)
		a := &agent{rec: state.Agent{Info: mesos.AgentInfo{ID: id, Hostname: id, Port: 5051,
			Resources: mesos.MustParseResources("cpus:8;mem:16384;disk:100000;ports:[31000-32000]")}},
			stream: &agentStream{q: newQueue[mesos.AgentEvent]()}, tasks: map[taskKey]*task{}}
		for j := range perAgent {
			tid := fmt.Sprintf("%s-t%d", id, j)
			t := &task{info: mesos.TaskInfo{TaskID: tid, AgentID: id, Resources: res}, frameworkID: "fw", state: mesos.TaskRunning}
			t.record(mesos.TaskStatus{TaskID: tid, State: mesos.TaskRunning})
			a.tasks[taskKey{"fw", tid}] = t
			f.tasks[tid] = t
		}
		m.agents[id] = a
	}
	return m
}

// BenchmarkStats is what a scrape of /metrics or /metrics/snapshot costs
// the master (under its lock), next to rendering /master/state.
func BenchmarkStats(b *testing.B) {
	for _, n := range []struct{ agents, perAgent int }{{100, 10}, {1000, 10}} {
		m := bigMaster(b, n.agents, n.perAgent)
		b.Run(fmt.Sprintf("Stats/%dtasks", n.agents*n.perAgent), func(b *testing.B) {
			for b.Loop() {
				if s := m.Stats(); s.Tasks[mesos.TaskRunning] != n.agents*n.perAgent {
					b.Fatalf("running = %d", s.Tasks[mesos.TaskRunning])
				}
			}
		})
		b.Run(fmt.Sprintf("State/%dtasks", n.agents*n.perAgent), func(b *testing.B) {
			for b.Loop() {
				m.State(nil)
			}
		})
	}
}
