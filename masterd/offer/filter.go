package offer

import (
	"math"
	"time"

	"corral/mesos"
)

// filter is a framework's refusal of some of an agent's resources, until
// a time. Like Mesos's refused-offer filter, it hides the agent from the
// framework only while the agent's available resources are a subset of
// the refused ones: resources freed since (a task ended) break through.
//
// Filters live on the agent they name, so that a cycle reads one agent's
// filters in one pass instead of looking each framework up in a map; the
// framework keeps a count per agent for Revive and for removal.
type filter struct {
	fw      *framework
	refused mesos.Resources
	until   int64  // Unix nanoseconds: a word, not a time.Time, to keep filters small
	gen     uint64 // the agent's gen when covers was computed
	covers  bool   // refused contains the agent's available resources
}

// idleMemo records that a cycle found no framework for an agent, so that
// later cycles skip the agent at no cost while nothing changed: not its
// available resources (gen), not the set of frameworks that might want it
// (clients), and no filter that hid it has expired.
type idleMemo struct {
	gen, clients uint64
	until        int64 // earliest expiry of the agent's filters, or MaxInt64
}

// idle reports whether ag is known to be wanted by no framework at now,
// in Unix nanoseconds.
func (a *Allocator) idle(ag *agent, now int64) bool {
	m := &ag.idle
	return m.gen == ag.gen && m.clients == a.clients && now < m.until
}

// expiry returns now + d in Unix nanoseconds, saturating far in the future.
func expiry(now time.Time, d time.Duration) int64 {
	n := now.UnixNano()
	if int64(d) > math.MaxInt64-n {
		return math.MaxInt64
	}
	return n + int64(d)
}

// refuse installs a filter of r on ag for d from now; d <= 0 or nothing
// refused installs none. Filters of f on ag that the new one subsumes are
// dropped, so a framework that keeps declining an agent whose resources
// keep growing does not pile filters up.
func (a *Allocator) refuse(f *framework, ag *agent, r mesos.Resources, d time.Duration, now time.Time) {
	if d <= 0 || r.IsEmpty() {
		return
	}
	until := expiry(now, d)
	if f.filtering[ag] > 0 {
		keep := ag.filters[:0]
		for _, flt := range ag.filters {
			if flt.fw == f && flt.until <= until && r.Contains(flt.refused) {
				f.filtering[ag]--
				continue
			}
			keep = append(keep, flt)
		}
		clear(ag.filters[len(keep):])
		ag.filters = keep
	}
	ag.filters = append(ag.filters, filter{fw: f, refused: r, until: until})
	f.filtering[ag]++
}

// screen marks with a.stamp every framework that a filter on ag hides ag
// from at now (Unix nanoseconds), drops the filters that expired, and
// returns the earliest expiry of those left, or MaxInt64.
func (a *Allocator) screen(ag *agent, now int64) (until int64) {
	until = math.MaxInt64
	keep := ag.filters[:0]
	for _, flt := range ag.filters {
		if flt.until <= now {
			a.forget(flt.fw, ag)
			continue
		}
		if flt.gen != ag.gen {
			flt.gen = ag.gen
			flt.covers = flt.refused.Contains(ag.available)
		}
		if flt.covers {
			flt.fw.blocked = a.stamp
		}
		until = min(until, flt.until)
		keep = append(keep, flt)
	}
	clear(ag.filters[len(keep):])
	ag.filters = keep
	return until
}

// forget counts one filter of f on ag gone.
func (a *Allocator) forget(f *framework, ag *agent) {
	if f.filtering[ag]--; f.filtering[ag] <= 0 {
		delete(f.filtering, ag)
	}
}

// dropFilters removes every filter f has installed.
func (a *Allocator) dropFilters(f *framework) {
	for ag := range f.filtering {
		keep := ag.filters[:0]
		for _, flt := range ag.filters {
			if flt.fw != f {
				keep = append(keep, flt)
			}
		}
		clear(ag.filters[len(keep):])
		ag.filters = keep
	}
	clear(f.filtering)
}
