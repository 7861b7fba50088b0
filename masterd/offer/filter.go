package offer

import (
	"time"

	"corral/mesos"
)

// filter is a framework's refusal of some of an agent's resources, until
// a time. Like Mesos's refused-offer filter, it hides the agent from the
// framework only while the agent's available resources are a subset of
// the refused ones: resources freed since (a task ended) break through.
type filter struct {
	refused mesos.Resources
	until   time.Time
}

// refuse installs a filter of r on ag for d from now; d <= 0 or nothing
// refused installs none.
func (f *framework) refuse(ag *agent, r mesos.Resources, d time.Duration, now time.Time) {
	if d <= 0 || r.IsEmpty() {
		return
	}
	f.filters[ag] = append(f.filters[ag], filter{refused: r, until: now.Add(d)})
}

// filtered reports whether a filter of f hides ag's available resources.
func (f *framework) filtered(ag *agent, now time.Time) bool {
	if len(f.filters) == 0 {
		return false
	}
	for _, flt := range f.filters[ag] {
		if now.Before(flt.until) && flt.refused.Contains(ag.available) {
			return true
		}
	}
	return false
}

// dropExpiredFilters forgets filters that ended by now.
func (a *Allocator) dropExpiredFilters(now time.Time) {
	for _, f := range a.frameworks {
		for ag, list := range f.filters {
			keep := list[:0]
			for _, flt := range list {
				if now.Before(flt.until) {
					keep = append(keep, flt)
				}
			}
			clear(list[len(keep):])
			if len(keep) == 0 {
				delete(f.filters, ag)
			} else {
				f.filters[ag] = keep
			}
		}
	}
}
