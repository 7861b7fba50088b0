package offer

import (
	"slices"
	"testing"
	"time"
)

func TestFilters(t *testing.T) {
	tests := []struct {
		name   string
		refuse time.Duration // passed to Decline; -1 means the default (5s)
		after  time.Duration // when the next cycle runs
		want   []string
	}{
		{name: "filtered within refuse time", refuse: 10 * time.Second, after: 5 * time.Second, want: []string{"b@agent-00"}},
		{name: "filtered until just before expiry", refuse: 10 * time.Second, after: 10*time.Second - time.Nanosecond, want: []string{"b@agent-00"}},
		{name: "offered again at expiry", refuse: 10 * time.Second, after: 10 * time.Second, want: []string{"a@agent-00"}},
		{name: "refuse 0 installs no filter", refuse: 0, after: 0, want: []string{"a@agent-00"}},
		{name: "negative refuse uses the default", refuse: -1, after: 4 * time.Second, want: []string{"b@agent-00"}},
		{name: "default expires", refuse: -1, after: 5 * time.Second, want: []string{"a@agent-00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			a.AddFramework("a", "r")
			// b holds resources elsewhere, so a comes first unless filtered.
			a.AddAgent("busy", res("cpus:1;mem:100"))
			a.Allocated("b", "busy", res("cpus:1;mem:100"))
			a.AddFramework("b", "r")
			if got, want := grants(allocate(t, a, t0)), []string{"a@agent-00"}; !slices.Equal(got, want) {
				t.Fatalf("Allocate() = %v, want %v", got, want)
			}
			declineAllOf(t, a, tt.refuse, t0, "a")
			if got := grants(allocate(t, a, t0.Add(tt.after))); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate() after %v = %v, want %v", tt.after, got, tt.want)
			}
		})
	}
}

func TestAcceptFiltersRemainder(t *testing.T) {
	tests := []struct {
		name   string
		refuse time.Duration
		want   []string
	}{
		{name: "remainder filtered", refuse: time.Minute, want: []string{}},
		{name: "no filter", refuse: 0, want: []string{"a@agent-00"}},
		{name: "default filter", refuse: -1, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			a.AddFramework("a", "r")
			o := allocate(t, a, t0)[0]
			if _, err := a.Accept("a", o.ID, res("cpus:1;mem:128"), tt.refuse, t0); err != nil {
				t.Fatalf("Accept() = %v", err)
			}
			check(t, a)
			if got := grants(allocate(t, a, t0.Add(time.Second))); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFilterBreakThrough checks that resources freed after a refusal make
// the agent's available resources larger than what was refused, so the
// framework sees the agent again before the filter expires.
func TestFilterBreakThrough(t *testing.T) {
	tests := []struct {
		name    string
		release string // resources of the task released after the refusal
		want    []string
	}{
		{name: "nothing released stays filtered", release: "", want: []string{}},
		{name: "released task breaks through", release: "cpus:2;mem:256", want: []string{"a@agent-00"}},
		{name: "part of a task breaks through", release: "cpus:0.5", want: []string{"a@agent-00"}},
		{name: "release of what was never used is ignored", release: "gpus:1", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddAgent("agent-00", res("cpus:8;mem:1024"))
			a.AddFramework("a", "r")
			o := allocate(t, a, t0)[0]
			if _, err := a.Accept("a", o.ID, res("cpus:2;mem:256"), time.Hour, t0); err != nil {
				t.Fatalf("Accept() = %v", err)
			}
			if got := allocate(t, a, t0.Add(time.Second)); len(got) != 0 {
				t.Fatalf("Allocate() = %v, want no offers while filtered", grants(got))
			}
			a.Release("a", "agent-00", res(tt.release))
			check(t, a)
			offers := allocate(t, a, t0.Add(2*time.Second))
			if got := grants(offers); !slices.Equal(got, tt.want) {
				t.Fatalf("Allocate() after Release(%q) = %v, want %v", tt.release, got, tt.want)
			}
			if len(offers) > 0 {
				want := res("cpus:6;mem:768").Add(res(tt.release))
				if !offers[0].Resources.Equal(want) {
					t.Errorf("offered %v, want %v", offers[0].Resources, want)
				}
			}
		})
	}
}

func TestSuppressRevive(t *testing.T) {
	tests := []struct {
		name string
		ops  func(t *testing.T, a *Allocator)
		want []string
	}{
		{name: "suppressed framework gets nothing", ops: func(t *testing.T, a *Allocator) {
			a.Suppress("a")
		}, want: []string{"b@agent-00", "b@agent-01"}},
		{name: "revive after suppress", ops: func(t *testing.T, a *Allocator) {
			a.Suppress("a")
			a.Revive("a")
		}, want: []string{"a@agent-00", "b@agent-01"}},
		{name: "all suppressed", ops: func(t *testing.T, a *Allocator) {
			a.Suppress("a")
			a.Suppress("b")
		}, want: []string{}},
		{name: "revive clears filters", ops: func(t *testing.T, a *Allocator) {
			a.Allocate(t0)
			declineAllOf(t, a, time.Hour, t0, "a", "b")
			a.Revive("a")
		}, want: []string{"a@agent-00", "a@agent-01"}},
		{name: "filters are per agent, each declined its own", ops: func(t *testing.T, a *Allocator) {
			a.Allocate(t0)
			declineAllOf(t, a, time.Hour, t0, "a", "b")
		}, want: []string{"b@agent-00", "a@agent-01"}},
		{name: "revive of another keeps filters", ops: func(t *testing.T, a *Allocator) {
			a.Allocate(t0)
			declineAllOf(t, a, time.Hour, t0, "a", "b")
			a.Revive("b")
			a.Suppress("b")
		}, want: []string{"a@agent-01"}},
		{name: "suppress does not clear filters", ops: func(t *testing.T, a *Allocator) {
			a.Allocate(t0)
			declineAllOf(t, a, time.Hour, t0, "a", "b")
			a.Suppress("a")
		}, want: []string{"b@agent-00"}},
		{name: "unknown frameworks ignored", ops: func(t *testing.T, a *Allocator) {
			a.Suppress("nope")
			a.Revive("nope")
		}, want: []string{"a@agent-00", "b@agent-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			a.AddAgent("agent-01", res("cpus:4;mem:1024"))
			a.AddFramework("a", "r")
			a.AddFramework("b", "r")
			tt.ops(t, a)
			check(t, a)
			if got := grants(allocate(t, a, t0.Add(time.Second))); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIdleAgentWakesUp checks that an agent every framework filters, which
// cycles skip without looking at its filters, is offered again as soon as
// something that could change the answer happens.
func TestIdleAgentWakesUp(t *testing.T) {
	tests := []struct {
		name  string
		event func(a *Allocator)
		after time.Duration
		want  []string
	}{
		{name: "nothing happens", event: func(*Allocator) {}, after: 2 * time.Second, want: []string{}},
		{name: "filter expires", event: func(*Allocator) {}, after: time.Minute, want: []string{"a@agent-00"}},
		{name: "framework added", event: func(a *Allocator) { a.AddFramework("b", "r") }, after: 2 * time.Second, want: []string{"b@agent-00"}},
		{name: "framework revived", event: func(a *Allocator) { a.Revive("a") }, after: 2 * time.Second, want: []string{"a@agent-00"}},
		{name: "task ends", event: func(a *Allocator) { a.Release("a", "agent-00", res("cpus:1")) }, after: 2 * time.Second, want: []string{"a@agent-00"}},
		{name: "framework suppressed", event: func(a *Allocator) { a.Suppress("a") }, after: time.Minute, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			a.AddFramework("a", "r")
			o := allocate(t, a, t0)[0]
			if _, err := a.Accept("a", o.ID, res("cpus:1"), time.Minute, t0); err != nil {
				t.Fatalf("Accept() = %v", err)
			}
			if got := allocate(t, a, t0.Add(time.Second)); len(got) != 0 {
				t.Fatalf("Allocate() = %v, want nothing while filtered", grants(got))
			}
			tt.event(a)
			if got := grants(allocate(t, a, t0.Add(tt.after))); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate() = %v, want %v", got, tt.want)
			}
		})
	}
}
