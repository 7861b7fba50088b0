package ui_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"corral/masterd/marathon/marathontest"
)

// appsInGroups posts n apps of no instances in groups of 100
// (/bench/g0/app-000 …) and waits until the API lists them.
func appsInGroups(b *testing.B, c *marathontest.Cluster, n int) {
	b.Helper()
	for g := 0; g*100 < n; g++ {
		var apps []map[string]any
		for i := g * 100; i < min(n, (g+1)*100); i++ {
			apps = append(apps, map[string]any{"id": fmt.Sprintf("app-%03d", i), "cmd": "sleep 3600", "instances": 0,
				"cpus": 0.01, "mem": 8, "labels": map[string]string{"tier": []string{"web", "batch", "db"}[i%3]}})
		}
		if s := api(b, c, http.MethodPost, "/v2/groups", map[string]any{"id": fmt.Sprintf("/bench/g%d", g), "apps": apps}); s != http.StatusCreated {
			b.Fatalf("POST /v2/groups /bench/g%d = %d", g, s)
		}
	}
	c.WaitFor(60*time.Second, fmt.Sprintf("%d apps", n), func() bool {
		var v struct{ Apps []struct{} }
		return c.GetJSON(c.Marathon+"/v2/apps", &v) == nil && len(v.Apps) >= n
	})
}

// listed is a JavaScript expression that is true once the apps page lists
// match of total apps and shows the first of them: the list draws only the
// rows in view, so counting rows in the page would not tell.
func listed(match, total int) string {
	return fmt.Sprintf(`document.querySelector('#app-count')?.textContent === '%d of %d apps' && !!document.querySelector('.row.app')`, match, total)
}

// measureLoad opens the apps page afresh and returns the time from the
// navigation until every row is shown and the search box has filtered
// them once (interactive), and the time of that filtering alone.
func measureLoad(b *testing.B, br *browser, url string, n int) (interactive, filter time.Duration) {
	b.Helper()
	br.do("blank page", chromedp.Navigate("about:blank"))
	start := time.Now()
	br.do("open the apps page", chromedp.Navigate(url))
	br.waitJS(30*time.Second, fmt.Sprintf("%d rows", n), listed(n, n))
	ms := eval[float64](br, fmt.Sprintf(`(async () => {
		const t0 = performance.now(), box = document.querySelector('#app-search');
		box.value = 'app-00'; box.dispatchEvent(new Event('input', {bubbles: true}));
		while (!(%s)) await new Promise(r => requestAnimationFrame(r));
		return performance.now() - t0; })()`, listed(10, n)))
	interactive = time.Since(start)
	return interactive, time.Duration(ms * float64(time.Millisecond))
}

// BenchmarkAppsPage1000 measures the apps page with 1,000 apps (in ten
// groups) in Chromium against a real masterd: from navigation until all
// rows are shown and a search has filtered them (ns/op, also
// interactive-ms), and the search alone (filter-ms).
func BenchmarkAppsPage1000(b *testing.B) {
	c := marathontest.Start(b, marathontest.Options{Isolation: "posix",
		MasterArgs: []string{"--log-level", "info"}, AgentArgs: []string{"--log-level", "info"}})
	appsInGroups(b, c, 1000)
	br := newBrowser(b, 1280, 900, b.TempDir())
	var total, filter time.Duration
	for b.Loop() {
		i, f := measureLoad(b, br, c.Marathon+"/", 1000)
		total += i
		filter += f
	}
	// The list draws only the rows in view, and scrolling brings the rest.
	br.do("open the apps page", chromedp.Navigate(c.Marathon+"/"))
	br.waitJS(30*time.Second, "1000 rows", listed(1000, 1000))
	if drawn := eval[float64](br, `document.querySelectorAll('.row.app').length`); drawn >= 1000 {
		b.Errorf("the apps page drew %v rows of 1000 apps, want only those in view", drawn)
	}
	eval[bool](br, `(scrollTo(0, document.documentElement.scrollHeight), true)`)
	br.waitJS(5*time.Second, "the last app after scrolling", `!!document.querySelector('.row.app[data-id="/bench/g9/app-999"]')`)
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "interactive-ms")
	b.ReportMetric(float64(filter.Microseconds())/1000/float64(b.N), "filter-ms")
	br.checkErrors()
}

// BenchmarkAppsPageTasksChanging keeps the apps page of 1,000 apps open
// while an app of 100 instances is restarted (every task is killed and
// replaced: hundreds of events), and measures how fast a search answers
// meanwhile (p50 and max of filter-ms) and the longest task that blocked
// the page's main thread (longtask-ms, wall time; 0 when none reached
// 50 ms). With -ui.before it measures the old page too, in turn
// (before-… metrics); with -ui.trace it records a DevTools trace of each
// restart and reports the thread (CPU) time of that longest task
// (longtask-thread-ms) and the most any task had (maxtask-thread-ms).
func BenchmarkAppsPageTasksChanging(b *testing.B) {
	c := marathontest.Start(b, marathontest.Options{Isolation: "posix", Resources: "cpus:16;mem:8192;disk:4000;ports:[31000-32000]",
		MasterArgs: []string{"--log-level", "info"}, AgentArgs: []string{"--log-level", "info"}})
	appsInGroups(b, c, 999)
	if s := api(b, c, http.MethodPost, "/v2/apps", map[string]any{"id": "/bench/busy", "cmd": "sleep 3600", "instances": 100,
		"cpus": 0.01, "mem": 8, "upgradeStrategy": map[string]any{"minimumHealthCapacity": 0, "maximumOverCapacity": 0}}); s != http.StatusCreated {
		b.Fatalf("POST /v2/apps /bench/busy = %d", s)
	}
	running := func() bool {
		var v struct{ App struct{ TasksRunning int } }
		return c.GetJSON(c.Marathon+"/v2/apps/bench/busy", &v) == nil && v.App.TasksRunning == 100
	}
	c.WaitFor(120*time.Second, "100 running tasks", running)
	br := newBrowser(b, 1280, 900, b.TempDir())
	versions := pageVersions(b, c.Marathon)
	type result struct {
		lat                                    []float64
		restarts                               int
		longest                                float64 // PerformanceObserver's longest task
		traceLongest, longestThread, maxThread float64 // from the traces
	}
	results := make([]result, len(versions))
	i := 0
	for b.Loop() {
		v, r := versions[i%len(versions)], &results[i%len(versions)]
		i++
		b.StopTimer()
		br.do("open the apps page", chromedp.Navigate("about:blank"), chromedp.Navigate(v.url))
		br.waitJS(30*time.Second, "1000 rows", listed(1000, 1000))
		eval[bool](br, `(() => { window.longest = 0; new PerformanceObserver((l) => { for (const e of l.getEntries()) longest = Math.max(longest, e.duration); })
			.observe({type: 'longtask'}); return true; })()`)
		var tr *trace
		if *traceFile != "" {
			tr = startTrace(br)
		}
		b.StartTimer()
		if s := api(b, c, http.MethodPost, "/v2/apps/bench/busy/restart", nil); s != http.StatusOK {
			b.Fatalf("restart = %d", s)
		}
		// Search, clear, search… until the restart is over.
		deadline := time.Now().Add(120 * time.Second)
		for j := 0; ; j++ {
			q := []string{"busy", "app-0", ""}[j%3]
			want := map[string]int{"busy": 1, "app-0": 100, "": 1000}[q]
			ms := eval[float64](br, fmt.Sprintf(`(async () => {
				const t0 = performance.now(), box = document.querySelector('#app-search');
				box.value = %q; box.dispatchEvent(new Event('input', {bubbles: true}));
				while (!(%s)) await new Promise(r => requestAnimationFrame(r));
				return performance.now() - t0; })()`, q, listed(want, 1000)))
			r.lat = append(r.lat, ms)
			if j%3 == 2 && running() && benchDeploymentsDone(c) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the restart did not finish in 120s")
			}
		}
		b.StopTimer()
		r.restarts++
		r.longest = max(r.longest, eval[float64](br, `longest`))
		if tr != nil {
			tt := tr.stop(fmt.Sprintf("%s-%s%d.json", strings.TrimSuffix(*traceFile, ".json"), v.name, r.restarts))
			if tt.wall > r.traceLongest {
				r.traceLongest, r.longestThread = tt.wall, tt.thread
			}
			r.maxThread = max(r.maxThread, tt.maxThread)
		}
		b.StartTimer()
	}
	for k, v := range versions {
		r := results[k]
		if r.restarts == 0 {
			continue
		}
		slices.Sort(r.lat)
		b.ReportMetric(r.lat[len(r.lat)/2], v.name+"filter-p50-ms")
		b.ReportMetric(r.lat[len(r.lat)-1], v.name+"filter-max-ms")
		b.ReportMetric(float64(len(r.lat))/float64(r.restarts), v.name+"searches/op")
		b.ReportMetric(r.longest, v.name+"longtask-ms")
		if *traceFile != "" {
			b.ReportMetric(r.longestThread, v.name+"longtask-thread-ms")
			b.ReportMetric(r.maxThread, v.name+"maxtask-thread-ms")
		}
	}
	br.checkErrors()
}

func benchDeploymentsDone(c *marathontest.Cluster) bool {
	var v []struct{}
	return c.GetJSON(c.Marathon+"/v2/deployments", &v) == nil && len(v) == 0
}
