package ui_test

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// traceFile, when set, makes the benchmarks that watch the page under load
// record a DevTools trace of it (open it in chrome://tracing or Perfetto)
// and log what the longest main-thread tasks spent their time on.
var traceFile = flag.String("ui.trace", "", "write a DevTools trace of BenchmarkAppsPageTasksChanging's restart to this file and log its longest tasks")

// traceCategories are those of the DevTools Performance panel: tasks,
// scripts, style, layout, paint, parsing, garbage collection and
// performance.measure.
var traceCategories = []string{"toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
	"v8.execute", "v8", "disabled-by-default-v8.gc", "blink.user_timing", "loading", "latencyInfo"}

// trace is a DevTools trace being recorded.
type trace struct {
	br     *browser
	cancel context.CancelFunc // ends the listener
	mu     sync.Mutex         // guards evs
	evs    []json.RawMessage
	done   chan struct{}
}

// startTrace records a trace of the browser's page until stop.
func startTrace(br *browser) *trace {
	br.t.Helper()
	ctx, cancel := context.WithCancel(br.ctx)
	br.t.Cleanup(cancel)
	tr := &trace{br: br, cancel: cancel, done: make(chan struct{})}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			tr.mu.Lock()
			for _, v := range ev.Value {
				tr.evs = append(tr.evs, json.RawMessage(slices.Clone(v)))
			}
			tr.mu.Unlock()
		case *tracing.EventTracingComplete:
			close(tr.done)
		}
	})
	if err != nil {
		br.t.Fatalf("listening for trace events: %v", err)
	}
	if _, err := chromedp.Call(br.ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig:  &tracing.TraceConfig{RecordMode: tracing.TraceConfigRecordModeRecordAsMuchAsPossible, IncludedCategories: traceCategories},
	}); err != nil {
		br.t.Fatalf("starting a trace: %v", err)
	}
	for _, err := range []error{
		call(br.ctx, profiler.Enable, cdp.Empty{}),
		call(br.ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 250}),
		call(br.ctx, profiler.Start, cdp.Empty{}),
	} {
		if err != nil {
			br.t.Fatalf("starting the JavaScript profiler: %v", err)
		}
	}
	return tr
}

// taskTimes are the longest main-thread task of a trace by wall time and
// the thread (CPU) time it had, and the most thread time any task had, in
// ms: a long task of little thread time waited for a core.
type taskTimes struct{ wall, thread, maxThread float64 }

// stop ends the trace, writes it to file as Chrome's JSON trace format and
// logs the longest tasks of the page's main thread.
func (tr *trace) stop(file string) taskTimes {
	t := tr.br.t
	t.Helper()
	prof, err := chromedp.Call(tr.br.ctx, profiler.Stop, cdp.Empty{})
	if err != nil {
		t.Fatalf("stopping the JavaScript profiler: %v", err)
	}
	if out, err := json.Marshal(prof.Profile); err == nil {
		os.WriteFile(strings.TrimSuffix(file, ".json")+".cpuprofile", out, 0o644)
	}
	t.Logf("JavaScript profile of the page:\n%s", profileSummary(prof.Profile, 20))
	if _, err := chromedp.Call(tr.br.ctx, tracing.End, cdp.Empty{}); err != nil {
		t.Fatalf("ending the trace: %v", err)
	}
	<-tr.done
	tr.cancel()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out, err := json.Marshal(map[string]any{"traceEvents": tr.evs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	var evs []traceEvent
	for _, raw := range tr.evs {
		var e traceEvent
		if json.Unmarshal(raw, &e) == nil {
			evs = append(evs, e)
		}
	}
	summary, times := longTasks(evs, 8)
	t.Logf("trace of %d events in %s\n%s", len(evs), file, summary)
	return times
}

// traceEvent is one event of Chrome's trace format; times are in µs, tdur
// is thread (CPU) time where wall time is dur.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	TDur float64        `json:"tdur"`
	Args map[string]any `json:"args"`
}

// label names an event with what it ran: the function and script for a
// call, the measure's name for performance.measure.
func (e traceEvent) label() string {
	d, _ := e.Args["data"].(map[string]any)
	switch {
	case d != nil && d["functionName"] != nil:
		url, _ := d["url"].(string)
		return fmt.Sprintf("%s %v (%s:%v)", e.Name, d["functionName"], url[strings.LastIndex(url, "/")+1:], d["lineNumber"])
	case d != nil && d["url"] != nil:
		url, _ := d["url"].(string)
		return fmt.Sprintf("%s %s", e.Name, url[strings.LastIndex(url, "/")+1:])
	}
	return e.Name
}

// longTasks describes the n longest tasks of the renderers' main threads:
// wall and thread time (a task whose thread time is far below its wall
// time waited for a core), and the self time of what ran inside it by kind.
func longTasks(evs []traceEvent, n int) (string, taskTimes) {
	main := map[[2]int]bool{}
	for _, e := range evs {
		if e.Ph == "M" && e.Name == "thread_name" && e.Args["name"] == "CrRendererMain" {
			main[[2]int{e.Pid, e.Tid}] = true
		}
	}
	byThread := map[[2]int][]traceEvent{}
	for _, e := range evs {
		if k := [2]int{e.Pid, e.Tid}; main[k] && e.Ph == "X" {
			byThread[k] = append(byThread[k], e)
		}
	}
	type task struct {
		ev   traceEvent
		self map[string]float64 // µs by label
	}
	var tasks []task
	for _, list := range byThread {
		slices.SortFunc(list, func(a, b traceEvent) int { return cmp.Or(cmp.Compare(a.Ts, b.Ts), cmp.Compare(b.Dur, a.Dur)) })
		for i := 0; i < len(list); i++ {
			top := list[i]
			if top.Name != "RunTask" && top.Name != "ThreadControllerImpl::RunTask" {
				continue
			}
			end := top.Ts + top.Dur
			j := i + 1
			for j < len(list) && list[j].Ts < end {
				j++
			}
			tasks = append(tasks, task{ev: top, self: selfTimes(list[i:j])})
			i = j - 1
		}
	}
	slices.SortFunc(tasks, func(a, b task) int { return cmp.Compare(b.ev.Dur, a.ev.Dur) })
	var sb strings.Builder
	var busy, wall float64
	var times taskTimes
	for _, tk := range tasks {
		wall += tk.ev.Dur
		busy += tk.ev.TDur
		times.maxThread = max(times.maxThread, tk.ev.TDur/1000)
	}
	if len(tasks) > 0 {
		times.wall, times.thread = tasks[0].ev.Dur/1000, tasks[0].ev.TDur/1000
	}
	fmt.Fprintf(&sb, "%d main-thread tasks, %.0f ms wall, %.0f ms thread time\n", len(tasks), wall/1000, busy/1000)
	for _, tk := range tasks[:min(n, len(tasks))] {
		fmt.Fprintf(&sb, "task %.1f ms wall, %.1f ms thread:", tk.ev.Dur/1000, tk.ev.TDur/1000)
		type kv struct {
			k string
			v float64
		}
		var parts []kv
		for k, v := range tk.self {
			parts = append(parts, kv{k, v})
		}
		slices.SortFunc(parts, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
		for _, p := range parts[:min(6, len(parts))] {
			fmt.Fprintf(&sb, " %s %.1f;", p.k, p.v/1000)
		}
		sb.WriteString("\n")
	}
	return sb.String(), times
}

// selfTimes sums, by label, the time each event of a task (sorted by
// start, the task first) spent outside the events nested in it.
func selfTimes(list []traceEvent) map[string]float64 {
	self := map[string]float64{}
	var stack []traceEvent
	for _, e := range list {
		for len(stack) > 0 && e.Ts >= stack[len(stack)-1].Ts+stack[len(stack)-1].Dur {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			self[stack[len(stack)-1].label()] -= e.Dur
		}
		self[e.label()] += e.Dur
		stack = append(stack, e)
	}
	return self
}

// call runs a protocol command whose result is not needed.
func call[P, R any](ctx context.Context, cmd cdp.Command[P, R], params P) error {
	_, err := chromedp.Call(ctx, cmd, params)
	return err
}

// profileSummary lists the n functions of a JavaScript CPU profile with
// the most samples, with their self and total (self and callees) time.
func profileSummary(p *profiler.Profile, n int) string {
	if p == nil || len(p.Nodes) == 0 {
		return "(empty profile)"
	}
	byID := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, nd := range p.Nodes {
		byID[nd.ID] = nd
		for _, c := range nd.Children {
			parent[c] = nd.ID
		}
	}
	name := func(nd *profiler.ProfileNode) string {
		f := nd.CallFrame
		return fmt.Sprintf("%s %s:%d", cmp.Or(f.FunctionName, "(anonymous)"), f.URL[strings.LastIndex(f.URL, "/")+1:], f.LineNumber+1)
	}
	self, total := map[string]float64{}, map[string]float64{}
	for i, id := range p.Samples {
		dt := 0.0
		if i+1 < len(p.TimeDeltas) {
			dt = float64(p.TimeDeltas[i+1]) / 1000 // the time until the next sample, in ms
		}
		self[name(byID[id])] += dt
		seen := map[string]bool{}
		for cur, ok := id, true; ok; cur, ok = parent[cur] {
			if k := name(byID[cur]); !seen[k] {
				seen[k] = true
				total[k] += dt
			}
		}
	}
	keys := make([]string, 0, len(self))
	for k := range total {
		keys = append(keys, k)
	}
	var sb strings.Builder
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(self[b], self[a]) })
	sb.WriteString("self ms  total ms  function\n")
	for _, k := range keys[:min(n, len(keys))] {
		fmt.Fprintf(&sb, "%7.1f  %8.1f  %s\n", self[k], total[k], k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(total[b], total[a]) })
	sb.WriteString("by total:\n")
	for _, k := range keys[:min(n, len(keys))] {
		fmt.Fprintf(&sb, "%7.1f  %8.1f  %s\n", self[k], total[k], k)
	}
	return sb.String()
}
