package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
)

// runningTracker follows the event stream and remembers when masterd
// reported each app's task TASK_RUNNING, and on which host port.
type runningTracker struct {
	mu   sync.Mutex // guards seen
	seen map[string]runningAt
}

type runningAt struct {
	at   time.Time // the event's timestamp: when masterd applied the update
	port int
}

// trackRunning follows /v2/events (status updates only) and records each
// TASK_RUNNING as it arrives.
func trackRunning(ctx context.Context, tb testing.TB, marathonURL string) *runningTracker {
	r := &runningTracker{seen: map[string]runningAt{}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, marathonURL+"/v2/events?event_type=status_update_event", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	tb.Cleanup(func() { resp.Body.Close(); <-done })
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data:")) {
				continue
			}
			var u marathon.StatusUpdateEvent
			if json.Unmarshal(line[5:], &u) != nil || u.TaskStatus != "TASK_RUNNING" || len(u.Ports) == 0 {
				continue
			}
			at, err := marathon.ParseTimestamp(u.Timestamp)
			if err != nil {
				tb.Errorf("status update of %s: timestamp %q: %v", u.AppID, u.Timestamp, err)
				continue
			}
			r.mu.Lock()
			if _, ok := r.seen[u.AppID]; !ok {
				r.seen[u.AppID] = runningAt{at, u.Ports[0]}
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *runningTracker) get(app string) (runningAt, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.seen[app]
	return v, ok
}

// BenchmarkRoutePropagation launches b.N one-task apps and measures, per
// task, from its TASK_RUNNING at masterd (the status_update_event's
// timestamp, taken when masterd applied the agent's update) to
//   - table: routerd's table routing to it (/_router/routes?app=);
//   - routed: the first request answered through routerd on its service
//     port;
//   - direct: the first answer on the task's own port (the app's start-up,
//     which no router can beat; routed includes it).
//
// Each of these is probed every millisecond. "serial" launches one app
// at a time; "burst10" launches ten at once, so routerd follows a storm
// of events and full reads while its probes compete for the two cores.
//
// Goal: p99 < 100 ms.
//
//	go test -run '^$' -bench RoutePropagation -benchtime 100x ./routerd/
func BenchmarkRoutePropagation(b *testing.B) {
	c := marathontest.Start(b, marathontest.Options{Isolation: "posix", Resources: "cpus:64;mem:65536;disk:4000;ports:[31000-32000]"})
	e := startRouterOn(b, c)
	b.Cleanup(func() { os.Rename(filepath.Join(c.Dir, "routerd.log"), "/tmp/prop-routerd.log") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tracker := trackRunning(ctx, b, c.Marathon)
	var next atomic.Int64
	for _, burst := range []int{1, 10} {
		name := "serial"
		if burst > 1 {
			name = fmt.Sprintf("burst%d", burst)
		}
		b.Run(name, func(b *testing.B) {
			var mu sync.Mutex
			var routed, direct, table []time.Duration
			launch := func() {
				id := fmt.Sprintf("/prop/a%04d", next.Add(1))
				r, inTable, firstDirect, firstRouted, ok := propagate(b, e, tracker, id)
				if !ok {
					return
				}
				if testing.Verbose() {
					b.Logf("%s running %s table +%v direct +%v routed +%v", id, r.at.Format("15:04:05.000"),
						inTable.Sub(r.at), firstDirect.Sub(r.at), firstRouted.Sub(r.at))
				}
				mu.Lock()
				routed = append(routed, firstRouted.Sub(r.at))
				table = append(table, inTable.Sub(r.at))
				direct = append(direct, firstDirect.Sub(r.at))
				mu.Unlock()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += burst {
				var wg sync.WaitGroup
				for range min(burst, b.N-i) {
					wg.Go(launch)
				}
				wg.Wait()
			}
			b.StopTimer()
			if len(routed) == 0 {
				b.Fatal("nothing measured")
			}
			pct := func(d []time.Duration, p float64) float64 {
				slices.Sort(d)
				return float64(d[int(p*float64(len(d)-1)+0.5)]) / 1e6
			}
			b.ReportMetric(pct(table, 0.5), "table-p50-ms")
			b.ReportMetric(pct(table, 0.99), "table-p99-ms")
			b.ReportMetric(pct(routed, 0.5), "routed-p50-ms")
			b.ReportMetric(pct(routed, 0.99), "routed-p99-ms")
			b.ReportMetric(pct(direct, 0.5), "direct-p50-ms")
			b.ReportMetric(pct(direct, 0.99), "direct-p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// propagate creates app id with one task and probes every millisecond
// until routerd's table has its task, the task answers on its own port
// and through routerd.
func propagate(b *testing.B, e *env, tracker *runningTracker, id string) (r runningAt, inTable, firstDirect, firstRouted time.Time, ok bool) {
	// busybox httpd listens within a millisecond of its start, so the
	// app's own start-up weighs little in the figures.
	code, body := e.call(http.MethodPost, "/v2/apps", httpdApp(id, 1, nil))
	if code != http.StatusCreated {
		b.Errorf("POST %s: %d %s", id, code, body)
		return
	}
	var app marathon.App
	json.Unmarshal(body, &app)
	url := "http://127.0.0.1:" + strconv.Itoa(app.ServicePorts()[0]) + "/"
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && (firstRouted.IsZero() || firstDirect.IsZero() || inTable.IsZero()); time.Sleep(time.Millisecond) {
		if inTable.IsZero() && hasBackend(e.admin, id) {
			inTable = time.Now()
		}
		if r, ok := tracker.get(id); ok && firstDirect.IsZero() {
			if code, _, err := fetch("http://127.0.0.1:"+strconv.Itoa(r.port)+"/", ""); err == nil && code == http.StatusOK {
				firstDirect = time.Now()
			}
		}
		if firstRouted.IsZero() {
			if code, _, err := fetch(url, ""); err == nil && code == http.StatusOK {
				firstRouted = time.Now()
			}
		}
	}
	r, ok = tracker.get(id)
	if !ok || firstRouted.IsZero() || firstDirect.IsZero() || inTable.IsZero() {
		b.Errorf("%s: TASK_RUNNING seen %v, in table %v, routed %v, direct %v", id, ok, inTable, firstRouted, firstDirect)
		return r, inTable, firstDirect, firstRouted, false
	}
	return r, inTable, firstDirect, firstRouted, true
}

// hasBackend reports whether routerd's table routes app to a backend.
func hasBackend(admin, app string) bool {
	resp, err := http.Get(admin + "/_router/routes?app=" + app)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var doc struct {
		Services []struct {
			Backends []any `json:"backends"`
		} `json:"services"`
	}
	return json.NewDecoder(resp.Body).Decode(&doc) == nil && len(doc.Services) > 0 && len(doc.Services[0].Backends) > 0
}
