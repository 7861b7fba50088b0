package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
)

// runningTracker follows the event stream and remembers when each app's
// task was reported TASK_RUNNING, and on which host port.
type runningTracker struct {
	mu   sync.Mutex // guards seen
	seen map[string]runningAt
}

type runningAt struct {
	at   time.Time
	port int
}

func trackRunning(ctx context.Context, events func() []marathontest.Event) *runningTracker {
	r := &runningTracker{seen: map[string]runningAt{}}
	go func() {
		next := 0
		for ctx.Err() == nil {
			evs := events()
			for _, ev := range evs[next:] {
				var u marathon.StatusUpdateEvent
				if ev.Type != marathon.EventStatusUpdate || json.Unmarshal(ev.Data, &u) != nil || u.TaskStatus != "TASK_RUNNING" || len(u.Ports) == 0 {
					continue
				}
				r.mu.Lock()
				if _, ok := r.seen[u.AppID]; !ok {
					r.seen[u.AppID] = runningAt{ev.At, u.Ports[0]}
				}
				r.mu.Unlock()
			}
			next = len(evs)
			time.Sleep(200 * time.Microsecond)
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

// BenchmarkRoutePropagation launches b.N one-task apps (ten at a time)
// and measures, per task, from its TASK_RUNNING at masterd (the event's
// arrival on /v2/events) to the first request answered through routerd on
// its service port; and, for comparison, to the first answer on the task's
// own port (the app's start-up, which no router can beat). Goal: routed
// p99 < 100 ms.
//
//	go test -run '^$' -bench RoutePropagation -benchtime 100x ./routerd/
func BenchmarkRoutePropagation(b *testing.B) {
	c := marathontest.Start(b, marathontest.Options{Isolation: "posix", Resources: "cpus:64;mem:65536;disk:4000;ports:[31000-32000]"})
	e := startRouterOn(b, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tracker := trackRunning(ctx, c.Events())
	var mu sync.Mutex
	var routed, direct []time.Duration
	launch := func(i int) {
		id := fmt.Sprintf("/prop/a%04d", i)
		code, body := e.call(http.MethodPost, "/v2/apps", echoApp(b, id, 1, ""))
		if code != http.StatusCreated {
			b.Errorf("POST %s: %d %s", id, code, body)
			return
		}
		var app marathon.App
		json.Unmarshal(body, &app)
		url := "http://127.0.0.1:" + strconv.Itoa(app.ServicePorts()[0]) + "/"
		var firstRouted, firstDirect time.Time
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && (firstRouted.IsZero() || firstDirect.IsZero()); time.Sleep(time.Millisecond) {
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
		r, ok := tracker.get(id)
		if !ok || firstRouted.IsZero() || firstDirect.IsZero() {
			b.Errorf("%s: TASK_RUNNING seen %v, routed %v, direct %v", id, ok, firstRouted, firstDirect)
			return
		}
		mu.Lock()
		routed = append(routed, firstRouted.Sub(r.at))
		direct = append(direct, firstDirect.Sub(r.at))
		mu.Unlock()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += 10 {
		var wg sync.WaitGroup
		for j := i; j < min(i+10, b.N); j++ {
			wg.Add(1)
			go func() { defer wg.Done(); launch(j) }()
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
	b.ReportMetric(pct(routed, 0.5), "routed-p50-ms")
	b.ReportMetric(pct(routed, 0.99), "routed-p99-ms")
	b.ReportMetric(pct(direct, 0.5), "direct-p50-ms")
	b.ReportMetric(pct(direct, 0.99), "direct-p99-ms")
	b.ReportMetric(0, "ns/op")
}
