package plan

import (
	"slices"
	"strings"
	"time"

	"corral/marathon"
)

// Candidate is an instance a scale-down may kill.
type Candidate struct {
	ID          string
	StagedAt    time.Time
	Started     bool  // TASK_RUNNING; false while staging or starting
	Healthy     *bool // nil when the app has no health checks
	Unreachable bool
}

// PickVictims returns the IDs of the n candidates to kill first, in the
// order to kill them, as Marathon's ScalingProposition orders them:
// unreachable instances, then those not started yet, then started ones
// that fail their health checks, then the rest. Within each class
// killSelection decides: YOUNGEST_FIRST (the default, also for an unknown
// value) kills the latest StagedAt first, OLDEST_FIRST the earliest. Equal
// times fall back to the ID, so the choice is deterministic. n is clamped
// to [0, len(cands)]; cands is not modified.
func PickVictims(cands []Candidate, n int, killSelection string) []string {
	n = min(max(n, 0), len(cands))
	if n == 0 {
		return nil
	}
	sorted := slices.Clone(cands)
	oldestFirst := killSelection == marathon.KillOldestFirst
	slices.SortFunc(sorted, func(a, b Candidate) int {
		if c := victimClass(a) - victimClass(b); c != 0 {
			return c
		}
		if c := a.StagedAt.Compare(b.StagedAt); c != 0 {
			if oldestFirst {
				return c
			}
			return -c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]string, n)
	for i := range out {
		out[i] = sorted[i].ID
	}
	return out
}

// victimClass ranks a candidate: lower is killed first.
func victimClass(c Candidate) int {
	switch {
	case c.Unreachable:
		return 0
	case !c.Started:
		return 1
	case c.Healthy != nil && !*c.Healthy:
		return 2
	}
	return 3
}
