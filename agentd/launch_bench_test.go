package main_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
)

// BenchmarkLaunchBurst is issue 16's agent-side goal: 100 tasks of
// cpus 0.01 launched at once on one agent with linux isolation, all
// RUNNING within 5 s. It times one ACCEPT carrying every LAUNCH until the
// framework holds every TASK_RUNNING, and reports it as ms-to-all-running
// (and the median task's ms-to-running). The tasks run `sleep 600`.
//
//	flock -o /tmp/corral-e2e.lock go test ./agentd/ -run '^$' -bench LaunchBurst -benchtime 1x
func BenchmarkLaunchBurst(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("linux isolation needs root")
	}
	const tasks = 100
	for i := 0; b.Loop(); i++ {
		m := mastertest.Start(b, nil)
		f := m.Subscribe(b, "bench")
		work := b.TempDir()
		startAgent(b, m, shim.Linux, work, "--resources", "cpus:4;mem:4096;disk:1000;ports:[31000-31100]", "--log-level", "info")
		id := agentID(b, m)
		infos := make([]mesos.TaskInfo, tasks)
		for j := range infos {
			infos[j] = command(fmt.Sprintf("t%d-%d", i, j), "cpus:0.01;mem:16", "exec sleep 600")
			infos[j].AgentID = id
		}
		offer := waitOffer(b, f, id)
		t0 := time.Now()
		err := m.Call(context.Background(), mesos.Call{FrameworkID: f.ID, Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
			OfferIDs:   []string{offer},
			Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: infos}}},
		}})
		if err != nil {
			b.Fatalf("launching %d tasks: %v", tasks, err)
		}
		var half, all time.Duration
		mastertest.WaitFor(b, 60*time.Second, fmt.Sprintf("%d tasks RUNNING", tasks), func() bool {
			running := map[string]bool{}
			for _, ev := range f.Events() {
				if ev.Type != mesos.EventTypeUpdate {
					continue
				}
				if ev.Update.State.Terminal() {
					b.Fatalf("task %s: %s %s", ev.Update.TaskID, ev.Update.State, ev.Update.Message)
				}
				running[ev.Update.TaskID] = running[ev.Update.TaskID] || ev.Update.State == mesos.TaskRunning
			}
			n := 0
			for _, r := range running {
				if r {
					n++
				}
			}
			if n >= tasks/2 && half == 0 {
				half = time.Since(t0)
			}
			all = time.Since(t0)
			return n == tasks
		})
		b.ReportMetric(float64(all.Milliseconds()), "ms-to-all-running")
		b.ReportMetric(float64(half.Milliseconds()), "ms-to-half-running")
	}
}

// waitOffer returns the ID of an offer of agentID.
func waitOffer(t testing.TB, f *mastertest.Framework, agentID string) string {
	var id string
	mastertest.WaitFor(t, 10*time.Second, "an offer of agent "+agentID, func() bool {
		for _, ev := range f.Events() {
			for _, o := range ev.Offers {
				if o.AgentID == agentID {
					id = o.ID
				}
			}
		}
		return id != ""
	})
	return id
}
