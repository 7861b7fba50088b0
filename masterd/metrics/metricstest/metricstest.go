// Package metricstest reads metrics as their users do, for tests: the
// Prometheus text of /metrics parsed with expfmt, Mesos's
// /metrics/snapshot decoded as JSON, and the figures a /master/state
// document implies, which both must show.
package metricstest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"corral/mesos"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are parsed Prometheus metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads Prometheus's text format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// Get fetches and parses url (a /metrics).
func Get(t testing.TB, url string) Families {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	fams, err := Parse(resp.Body)
	if err != nil {
		t.Fatalf("parsing GET %s: %v", url, err)
	}
	return fams
}

// Value returns the value of the gauge or counter name with the given
// label pairs ("state", "running"); ok is false when there is no such
// series.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Count returns the sample count of the histogram name summed over its
// series with the given label pairs.
func (f Families) Count(name string, labels ...string) uint64 {
	var n uint64
	for _, m := range f[name].GetMetric() {
		if m.Histogram != nil && hasLabels(m, labels) {
			n += m.Histogram.GetSampleCount()
		}
	}
	return n
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Snapshot fetches and decodes url (a /metrics/snapshot): a JSON object of
// numbers, as Mesos serves it.
func Snapshot(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json", url, ct)
	}
	var out map[string]float64
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: not a JSON object of numbers: %v", url, err)
	}
	return out
}

// FromState returns the /metrics/snapshot figures a /master/state
// document implies: agents by state, frameworks, tasks by state (live
// tasks, and completed ones for the terminal states), resources total,
// used and offered by the listed agents, outstanding offers.
func FromState(st mesos.MasterState) map[string]float64 {
	out := map[string]float64{
		"master/slaves_active":       float64(st.ActivatedSlaves),
		"master/slaves_inactive":     float64(st.DeactivatedSlaves),
		"master/slaves_unreachable":  float64(st.UnreachableSlaves),
		"master/frameworks_active":   0,
		"master/frameworks_inactive": 0,
		"master/outstanding_offers":  0,
	}
	for _, s := range append(mesos.MetricLiveStates, mesos.MetricEndStates...) {
		out["master/tasks_"+s.MetricName()] = 0
	}
	offered := map[string]float64{}
	for _, f := range st.Frameworks {
		if f.Active {
			out["master/frameworks_active"]++
		} else {
			out["master/frameworks_inactive"]++
		}
		for _, t := range f.Tasks {
			out["master/tasks_"+t.State.MetricName()]++
		}
		for _, t := range f.CompletedTasks {
			out["master/tasks_"+t.State.MetricName()]++
		}
		out["master/outstanding_offers"] += float64(len(f.Offers))
		for _, o := range f.Offers {
			for r, v := range o.Resources {
				if x, ok := v.(float64); ok {
					offered[r] += x
				}
			}
		}
	}
	for _, a := range st.Slaves {
		for _, r := range []string{mesos.CPUs, mesos.Mem, mesos.Disk, mesos.GPUs} {
			out["master/"+r+"_total"] += number(a.Resources[r])
			out["master/"+r+"_used"] += number(a.UsedResources[r])
		}
	}
	for _, r := range []string{mesos.CPUs, mesos.Mem, mesos.Disk, mesos.GPUs} {
		out["allocator/mesos/resources/"+r+"/offered_or_allocated"] = out["master/"+r+"_used"] + offered[r]
	}
	return out
}

func number(v any) float64 {
	x, _ := v.(float64)
	return x
}

// Diff lists the keys of want whose value got lacks or differs from
// (beyond rounding), sorted; empty when got shows all of want.
func Diff(got, want map[string]float64) []string {
	var out []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s missing, want %v", k, w))
		case math.Abs(g-w) > 1e-6:
			out = append(out, fmt.Sprintf("%s = %v, want %v", k, g, w))
		}
	}
	sort.Strings(out)
	return out
}

// MasterFigures renders masterd's Prometheus families under the snapshot
// keys they correspond to, for comparison with FromState.
func (f Families) MasterFigures() map[string]float64 {
	out := map[string]float64{}
	for _, s := range []string{"active", "inactive", "unreachable"} {
		if v, ok := f.Value("mesos_master_slaves", "state", s); ok {
			out["master/slaves_"+s] = v
		}
	}
	for _, s := range []string{"active", "inactive"} {
		if v, ok := f.Value("mesos_master_frameworks", "state", s); ok {
			out["master/frameworks_"+s] = v
		}
	}
	for _, s := range mesos.MetricLiveStates {
		if v, ok := f.Value("mesos_master_tasks", "state", s.MetricName()); ok {
			out["master/tasks_"+s.MetricName()] = v
		}
	}
	for _, s := range mesos.MetricEndStates {
		if v, ok := f.Value("mesos_master_tasks_terminal_total", "state", s.MetricName()); ok {
			out["master/tasks_"+s.MetricName()] = v
		}
	}
	if v, ok := f.Value("mesos_master_outstanding_offers"); ok {
		out["master/outstanding_offers"] = v
	}
	for _, r := range []string{mesos.CPUs, mesos.Mem, mesos.Disk, mesos.GPUs} {
		total, ok1 := f.Value("mesos_master_resources", "resource", r, "type", "total")
		used, ok2 := f.Value("mesos_master_resources", "resource", r, "type", "used")
		offered, ok3 := f.Value("mesos_master_resources", "resource", r, "type", "offered")
		if ok1 && ok2 && ok3 {
			out["master/"+r+"_total"] = total
			out["master/"+r+"_used"] = used
			out["allocator/mesos/resources/"+r+"/offered_or_allocated"] = used + offered
		}
	}
	return out
}
