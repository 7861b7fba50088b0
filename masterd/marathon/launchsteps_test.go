package marathon_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/masterd/metrics/metricstest"
	"corral/mesos"
)

// launchSteps splits BenchmarkLaunch100's time per task into the steps of
// the launch path, from timestamps the cluster already shows:
//
//	offer → accept      Marathon's stagedAt (it matched the offer) to the
//	                    master's TASK_STAGING (it took the ACCEPT): the
//	                    launch intents' etcd write and the call
//	accept → starting   to the agent's TASK_STARTING: the LAUNCH's way to
//	                    the agent and its task directory and spec
//	starting → running  to the agent's TASK_RUNNING: network, shim and
//	                    container, and the wait for a start slot
//	                    (--max-starting-tasks)
//
// and counts masterd's etcd requests (every method) per task launched
// and the CPU time masterd used, while the timer ran: on 2 cores, what
// masterd burns, the containers starting do not get.
type launchSteps struct {
	offerAccept, acceptStarting, startingRunning []time.Duration
	etcd                                         uint64
	cpu                                          time.Duration
	launched, iterations                         int
}

// add records the steps of tasks (one iteration's app) from /master/state.
func (s *launchSteps) add(b *testing.B, c *marathontest.Cluster, tasks []marathon.Task, runningAt map[string]time.Time) {
	b.Helper()
	master := map[string][]mesos.TaskStatus{}
	for _, f := range c.MasterState(b).Frameworks {
		for _, t := range f.Tasks {
			master[t.ID] = t.Statuses
		}
	}
	for _, t := range tasks {
		staged, err := marathon.ParseTimestamp(t.StagedAt)
		if err != nil {
			b.Fatalf("task %s: stagedAt %q: %v", t.ID, t.StagedAt, err)
		}
		at := map[mesos.TaskState]time.Time{}
		for _, st := range master[t.ID] {
			if _, ok := at[st.State]; !ok && st.Timestamp > 0 {
				sec, frac := math.Modf(st.Timestamp)
				at[st.State] = time.Unix(int64(sec), int64(frac*1e9))
			}
		}
		accepted, starting, running := at[mesos.TaskStaging], at[mesos.TaskStarting], at[mesos.TaskRunning]
		if accepted.IsZero() || starting.IsZero() || running.IsZero() {
			b.Fatalf("task %s: /master/state has statuses %+v, want STAGING, STARTING and RUNNING", t.ID, master[t.ID])
		}
		s.offerAccept = append(s.offerAccept, accepted.Sub(staged))
		s.acceptStarting = append(s.acceptStarting, starting.Sub(accepted))
		s.startingRunning = append(s.startingRunning, running.Sub(starting))
	}
}

func (s *launchSteps) report(b *testing.B) {
	for _, st := range []struct {
		name string
		ds   []time.Duration
	}{
		{"offer-accept", s.offerAccept},
		{"accept-starting", s.acceptStarting},
		{"starting-running", s.startingRunning},
	} {
		b.ReportMetric(ms(percentile(st.ds, 0.50)), "ms-"+st.name+"-p50")
		b.ReportMetric(ms(percentile(st.ds, 0.99)), "ms-"+st.name+"-p99")
	}
	if s.launched > 0 {
		b.ReportMetric(float64(s.etcd)/float64(s.launched), "etcd-req/task")
		b.ReportMetric(ms(s.cpu)/float64(s.iterations), "ms-masterd-cpu")
	}
}

// cpuTime is the user and system CPU time process pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command (field 2) is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// etcdRequests is how many unary etcd requests masterd has made.
func etcdRequests(b *testing.B, c *marathontest.Cluster) uint64 {
	return metricstest.Get(b, c.Mesos+"/metrics").Count("masterd_etcd_request_duration_seconds")
}
