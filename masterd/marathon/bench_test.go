package marathon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/mesos"
)

// benchMasterArgs run masterd as deployed (its default allocation interval
// of 1 s rather than the tests' 100 ms) and without debug logs, whose
// writes would be part of what is measured.
var benchMasterArgs = []string{"--allocation-interval", "1s", "--log-level", "info"}

// BenchmarkLaunch100 posts an app of 100 instances of `sleep 3600` to a
// single agent and measures the time until the event stream has carried
// TASK_RUNNING for all 100 (ns/op). It also reports the time to the first
// TASK_RUNNING, the time until GET /v2/apps/{id} counts 100 running, and
// the p50/p99 of each task's stagedAt → startedAt, and where the time went
// step by step (see launchSteps). The app is deleted, outside the timer,
// before the next iteration.
func BenchmarkLaunch100(b *testing.B) {
	for _, iso := range []string{"linux", "posix"} {
		b.Run("isolation="+iso, func(b *testing.B) {
			if iso == "linux" && os.Geteuid() != 0 {
				b.Skip("linux isolation needs root")
			}
			benchLaunch(b, iso, 100)
		})
	}
}

func benchLaunch(b *testing.B, isolation string, n int) {
	c := marathontest.Start(b, marathontest.Options{
		Isolation:  isolation,
		Resources:  "cpus:8;mem:8192;disk:4000;ports:[31000-32000]",
		MasterArgs: benchMasterArgs,
		AgentArgs:  []string{"--log-level", "info"},
	})
	events := c.Events()
	var toStaged, toFirst, toAll, toAPI time.Duration
	var stagedToRunning, runningToEvent []time.Duration
	var steps launchSteps
	iter := 0
	for b.Loop() {
		iter++
		id := fmt.Sprintf("/launch-%d", iter)
		body := map[string]any{"id": id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 16,
			"instances": n, "taskKillGracePeriodSeconds": 1}
		seen := len(events())
		etcdBefore, cpuBefore := etcdRequests(b, c), cpuTime(b, c.MasterdPID())
		start := time.Now()
		if status, resp := call(b, c, http.MethodPost, "/v2/apps", body); status != http.StatusCreated {
			b.Fatalf("POST /v2/apps: %d %s", status, resp)
		}
		// TASK_RUNNING events by task, as they arrived; the timer stops at
		// the n-th. The app's tasksRunning is polled meanwhile, every 5 ms.
		runningAt := map[string]time.Time{}
		var first, all, api time.Time
		deadline := start.Add(5 * time.Minute)
		for all.IsZero() || api.IsZero() {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d tasks running after 5 minutes", len(runningAt), n)
			}
			evs := events()
			for _, e := range evs[seen:] {
				var u marathon.StatusUpdateEvent
				if e.Type != marathon.EventStatusUpdate || json.Unmarshal(e.Data, &u) != nil ||
					u.AppID != id || u.TaskStatus != "TASK_RUNNING" || !runningAt[u.TaskID].IsZero() {
					continue
				}
				runningAt[u.TaskID] = e.At
				if first.IsZero() {
					first = e.At
				}
				if len(runningAt) == n {
					all = e.At
					b.StopTimer()
				}
			}
			seen = len(evs)
			if api.IsZero() && runningCount(b, c, id) == n {
				api = time.Now()
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		steps.etcd += etcdRequests(b, c) - etcdBefore
		steps.cpu += cpuTime(b, c.MasterdPID()) - cpuBefore
		steps.launched += n
		steps.iterations++
		toFirst += first.Sub(start)
		toAll += all.Sub(start)
		toAPI += api.Sub(start)

		a, ok := c.App(id)
		if !ok || len(a.Tasks) != n {
			b.Fatalf("GET /v2/apps%s: %d tasks, want %d", id, len(a.Tasks), n)
		}
		var firstStaged time.Time
		for _, t := range a.Tasks {
			staged, err1 := marathon.ParseTimestamp(t.StagedAt)
			started, err2 := marathon.ParseTimestamp(t.StartedAt)
			if err1 != nil || err2 != nil || runningAt[t.ID].IsZero() {
				b.Fatalf("task %s: stagedAt %q, startedAt %q, no TASK_RUNNING event", t.ID, t.StagedAt, t.StartedAt)
			}
			if firstStaged.IsZero() || staged.Before(firstStaged) {
				firstStaged = staged
			}
			stagedToRunning = append(stagedToRunning, started.Sub(staged))
			runningToEvent = append(runningToEvent, runningAt[t.ID].Sub(started))
		}
		toStaged += firstStaged.Sub(start)
		steps.add(b, c, a.Tasks, runningAt)

		// Every task ends before the next POST.
		if status, resp := call(b, c, http.MethodDelete, "/v2/apps"+id, nil); status != http.StatusOK {
			b.Fatalf("DELETE /v2/apps%s: %d %s", id, status, resp)
		}
		c.WaitFor(5*time.Minute, "app_terminated_event of "+id, func() bool {
			for _, e := range events()[seen:] {
				var t marathon.AppTerminatedEvent
				if e.Type == marathon.EventAppTerminated && json.Unmarshal(e.Data, &t) == nil && t.AppID == id {
					return true
				}
			}
			return false
		})
		b.StartTimer()
	}
	k := float64(iter)
	b.ReportMetric(toStaged.Seconds()/k*1e3, "ms-first-staged")
	b.ReportMetric(toFirst.Seconds()/k*1e3, "ms-first-running")
	b.ReportMetric(toAll.Seconds()/k*1e3, "ms-all-running")
	b.ReportMetric(toAPI.Seconds()/k*1e3, "ms-api-all-running")
	b.ReportMetric(ms(percentile(stagedToRunning, 0.50)), "ms-staged-running-p50")
	b.ReportMetric(ms(percentile(stagedToRunning, 0.99)), "ms-staged-running-p99")
	b.ReportMetric(ms(percentile(runningToEvent, 0.50)), "ms-running-event-p50")
	b.ReportMetric(ms(percentile(runningToEvent, 0.99)), "ms-running-event-p99")
	steps.report(b)
}

// runningCount returns the tasksRunning of app id from GET /v2/apps
// filtered to it: GET /v2/apps/{id} would render and decode every task,
// which every 5 ms is a load of its own on 2 cores.
func runningCount(b *testing.B, c *marathontest.Cluster, id string) int {
	status, resp := call(b, c, http.MethodGet, "/v2/apps?embed=apps.counts&id="+url.QueryEscape(id), nil)
	var l marathon.AppList
	if status != http.StatusOK || json.Unmarshal(resp, &l) != nil {
		return -1
	}
	for _, a := range l.Apps {
		if a.ID == id && a.Counts != nil {
			return a.Counts.Running
		}
	}
	return -1
}

// appsURL is the request BenchmarkAppsEmbedTasks1000 measures.
const appsURL = "/v2/apps?embed=apps.tasks"

// BenchmarkAppsEmbedTasks1000 measures GET /v2/apps?embed=apps.tasks with
// 1,000 apps of one running task each (plain processes: 1,000 containers
// would not fit the 2-core machine the figures come from): latency p50/p99
// from one client, the same for requests the API's response cache cannot
// answer, then throughput (ns/op = wall time per request) and latency with
// 16 clients over keep-alive, then the same with wrk when it is installed,
// all against the same cluster.
func BenchmarkAppsEmbedTasks1000(b *testing.B) {
	const apps = 1000
	c := marathontest.Start(b, marathontest.Options{
		Isolation:  "posix",
		Resources:  "cpus:64;mem:65536;disk:4000;ports:[31000-35000]",
		MasterArgs: benchMasterArgs,
		AgentArgs:  []string{"--log-level", "info"},
	})
	// Delete the apps before the cluster stops: marathontest kills the
	// tasks the agent leaves behind one at a time. Not waited on through
	// /v2/events: 1,000 apps' events overflow a subscriber's buffer.
	b.Cleanup(func() {
		if status, resp := call(b, c, http.MethodDelete, "/v2/groups/bench?force=true", nil); status != http.StatusOK {
			b.Errorf("DELETE /v2/groups/bench: %d %s", status, resp)
			return
		}
		waitEvery(b, 10*time.Minute, time.Second, "no active task in /master/state", func() bool {
			var st mesos.MasterState
			resp, err := http.Get(c.Mesos + "/master/state")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			if json.NewDecoder(resp.Body).Decode(&st) != nil {
				return false
			}
			for _, f := range st.Frameworks {
				if len(f.Tasks) > 0 {
					return false
				}
			}
			return true
		})
	})
	defs := make([]map[string]any, apps)
	for i := range defs {
		defs[i] = map[string]any{"id": fmt.Sprintf("/bench/app-%04d", i), "cmd": "sleep 3600",
			"cpus": 0.01, "mem": 16, "instances": 1, "labels": map[string]string{"bench": "apps"}}
	}
	start := time.Now()
	if status, resp := call(b, c, http.MethodPut, "/v2/apps", defs); status != http.StatusOK {
		b.Fatalf("PUT /v2/apps with %d apps: %d %s", apps, status, resp)
	}
	// Polled once a second: rendering 1,000 apps is a load of its own.
	waitEvery(b, 10*time.Minute, time.Second, fmt.Sprintf("%d apps with a running task", apps), func() bool {
		status, resp := call(b, c, http.MethodGet, "/v2/apps?embed=apps.counts", nil)
		var l marathon.AppList
		if status != http.StatusOK || json.Unmarshal(resp, &l) != nil || len(l.Apps) != apps {
			return false
		}
		for _, a := range l.Apps {
			if a.Counts == nil || a.Counts.Running != 1 {
				return false
			}
		}
		return true
	})
	b.Logf("%d apps, one task each: all running %.1fs after the bulk PUT", apps, time.Since(start).Seconds())
	status, resp := call(b, c, http.MethodGet, appsURL, nil)
	var l marathon.AppList
	if status != http.StatusOK || json.Unmarshal(resp, &l) != nil || len(l.Apps) != apps {
		b.Fatalf("GET %s: %d, %d bytes", appsURL, status, len(resp))
	}
	for _, a := range l.Apps {
		if len(a.Tasks) != 1 || a.Tasks[0].State != "TASK_RUNNING" {
			b.Fatalf("GET %s: app %s has tasks %+v, want one running", appsURL, a.ID, a.Tasks)
		}
	}
	size := int64(len(resp))
	b.Logf("GET %s: %d bytes", appsURL, size)

	b.Run("clients=1", func(b *testing.B) {
		client := keepAliveClient(1)
		b.SetBytes(size)
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			fetch(b, client, c.Marathon+appsURL)
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})

	// The API keeps the responses of the current view, so clients=1 above
	// measures answers from that cache, all but the first on each view (a
	// view lasts until the next status update). Here each request asks for
	// the same apps with a label selector of its own, which the cache cannot
	// answer: the cost of the first request after a change, but for
	// rebuilding the view.
	misses := 0
	b.Run("clients=1,uncached", func(b *testing.B) {
		client := keepAliveClient(1)
		b.SetBytes(size)
		var lat []time.Duration
		for b.Loop() {
			misses++
			t0 := time.Now()
			fetch(b, client, fmt.Sprintf("%s%s&label=bench!=miss-%d", c.Marathon, appsURL, misses))
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})

	b.Run("clients=16", func(b *testing.B) {
		const clients = 16
		client := keepAliveClient(clients)
		b.SetBytes(size)
		b.SetParallelism((clients + runtimeProcs() - 1) / runtimeProcs())
		var mu sync.Mutex
		var lat []time.Duration
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				t0 := time.Now()
				fetch(b, client, c.Marathon+appsURL)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "req/s")
		reportLatency(b, lat)
	})

	b.Run("wrk", func(b *testing.B) {
		wrk, err := exec.LookPath("wrk")
		if err != nil {
			b.Skip("wrk is not installed (Debian package wrk)")
		}
		var r wrkResult
		for b.Loop() {
			r = runWrk(b, wrk, c.Marathon+appsURL, 16, 10*time.Second)
		}
		b.ReportMetric(1e9/r.rps, "ns/op") // as RunParallel's: wall time per request
		b.ReportMetric(r.rps, "req/s")
		b.ReportMetric(ms(r.p50), "ms-p50")
		b.ReportMetric(ms(r.p99), "ms-p99")
		b.ReportMetric(float64(r.errors), "errors")
	})
}

// waitEvery polls cond every interval until it holds or fails b.
func waitEvery(b testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// keepAliveClient keeps a connection per client open between requests
// (http.DefaultTransport keeps only 2 per host).
func keepAliveClient(clients int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	tr.DisableCompression = true // as wrk, which asks for no gzip either
	return &http.Client{Transport: tr}
}

// fetch GETs url and reads the body without decoding it, as a client
// measuring the server should.
func fetch(b *testing.B, client *http.Client, target string) {
	resp, err := client.Get(target)
	if err != nil {
		b.Fatalf("GET %s: %v", target, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s, %v", target, resp.Status, err)
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(ms(percentile(lat, 0.50)), "ms-p50")
	b.ReportMetric(ms(percentile(lat, 0.99)), "ms-p99")
}

// percentile returns the q-quantile of ds (nearest rank); ds is sorted.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// wrkResult is what runWrk reads from wrk's --latency report.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// runWrk runs wrk with one thread per core and conns connections for d.
func runWrk(b *testing.B, wrk, target string, conns int, d time.Duration) wrkResult {
	out, err := exec.Command(wrk, "-t", strconv.Itoa(min(runtimeProcs(), conns)), "-c", strconv.Itoa(conns),
		"-d", d.String(), "--timeout", "10s", "--latency", target).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	b.Logf("wrk:\n%s", out)
	return parseWrk(b, string(out))
}

var (
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkErrors  = regexp.MustCompile(`(?m)Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)|Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(b *testing.B, out string) wrkResult {
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no Requests/sec in wrk's output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range wrkPercent.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	for _, m := range wrkErrors.FindAllStringSubmatch(out, -1) {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(strings.TrimSpace(s))
			r.errors += n
		}
	}
	return r
}
