package offer

import (
	"fmt"
	"math"
	"testing"
	"time"

	"corral/mesos"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func res(s string) mesos.Resources { return mesos.MustParseResources(s) }

// newTest returns an allocator with the default config and IDPrefix "m".
func newTest(t *testing.T, edit func(*Config)) *Allocator {
	t.Helper()
	cfg := DefaultConfig()
	cfg.IDPrefix = "m"
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	return New(cfg)
}

// grants renders offers as "framework@agent".
func grants(offers []Offer) []string {
	out := make([]string, len(offers))
	for i, o := range offers {
		out[i] = o.FrameworkID + "@" + o.AgentID
	}
	return out
}

// allocate runs a cycle, checks the allocator's invariants and returns
// the offers.
func allocate(t *testing.T, a *Allocator, now time.Time) []Offer {
	t.Helper()
	offers := a.Allocate(now)
	check(t, a)
	checkNoneLeft(t, a, now)
	return offers
}

// checkNoneLeft verifies, by brute force, that after a cycle at now every
// agent still offerable is hidden from every framework that could take it.
func checkNoneLeft(t *testing.T, a *Allocator, now time.Time) {
	t.Helper()
	for _, ag := range a.agents {
		if !ag.offerable {
			continue
		}
		for _, f := range a.frameworks {
			if f.suppressed {
				continue
			}
			hidden := false
			for _, flt := range ag.filters {
				if flt.fw == f && now.UnixNano() < flt.until && flt.refused.Contains(ag.available) {
					hidden = true
				}
			}
			if !hidden {
				t.Fatalf("agent %s with %v left unoffered although framework %s could take it", ag.id, ag.available, f.id)
			}
		}
	}
}

// check verifies the allocator's bookkeeping from scratch: every agent's
// resources add up, every framework's vectors match its offers and the
// resources its tasks use, and the DRF order matches recomputed shares.
func check(t *testing.T, a *Allocator) {
	t.Helper()
	var total quantities
	for i, ag := range a.agents {
		if ag.pos != i {
			t.Fatalf("agent %s at %d has pos %d", ag.id, i, ag.pos)
		}
		a.charge(&total, ag.total, 1)
		sum := ag.available
		for _, r := range ag.used {
			sum = sum.Add(r)
		}
		for j, o := range ag.offers {
			if o.agPos != j || a.offers[o.ID] != o {
				t.Fatalf("offer %s misfiled on agent %s", o.ID, ag.id)
			}
			sum = sum.Add(o.Resources)
		}
		if !sum.Equal(ag.total) {
			t.Fatalf("agent %s: available+used+offered = %v, want total %v", ag.id, sum, ag.total)
		}
		if want := ag.active && allocatable(ag.available, a.cfg.MinAllocatable); ag.offerable != want {
			t.Fatalf("agent %s: offerable = %v, want %v", ag.id, ag.offerable, want)
		}
		count := map[*framework]int{}
		for _, flt := range ag.filters {
			count[flt.fw]++
			if a.frameworks[flt.fw.id] != flt.fw {
				t.Fatalf("agent %s holds a filter of removed framework %s", ag.id, flt.fw.id)
			}
			if flt.gen == ag.gen && flt.covers != flt.refused.Contains(ag.available) {
				t.Fatalf("agent %s: filter of %s caches covers = %v at gen %d, wrong", ag.id, flt.fw.id, flt.covers, ag.gen)
			}
		}
		for _, f := range a.frameworks {
			if f.filtering[ag] != count[f] {
				t.Fatalf("framework %s counts %d filters on %s, want %d", f.id, f.filtering[ag], ag.id, count[f])
			}
		}
	}
	if !sameQuantities(total, a.total) {
		t.Fatalf("cluster total = %v, want %v", a.total, total)
	}
	roleAlloc := map[*role]quantities{}
	for id, f := range a.frameworks {
		var used, offered quantities
		for _, ag := range a.agents {
			a.charge(&used, ag.used[id], 1)
		}
		for j, o := range f.offers {
			if o.fwPos != j || o.fw != f {
				t.Fatalf("offer %s misfiled on framework %s", o.ID, id)
			}
			a.charge(&offered, o.Resources, 1)
		}
		if !sameQuantities(used, f.used) || !sameQuantities(offered, f.offered) {
			t.Fatalf("framework %s: used %v offered %v, want %v %v", id, f.used, f.offered, used, offered)
		}
		q := roleAlloc[f.role]
		q.addAll(used, 1)
		q.addAll(offered, 1)
		roleAlloc[f.role] = q
	}
	if a.stale {
		return // shares are recomputed before the next cycle
	}
	for i, r := range a.roles {
		if !sameQuantities(roleAlloc[r], r.alloc) {
			t.Fatalf("role %s alloc = %v, want %v", r.name, r.alloc, roleAlloc[r])
		}
		if want := a.dominant(r.alloc, nil) / r.weight; r.share != want {
			t.Fatalf("role %s share = %v, want %v", r.name, r.share, want)
		}
		if i > 0 && compareRank(a.roles[i-1].share, a.roles[i-1].name, r.share, r.name) >= 0 {
			t.Fatalf("roles out of order at %d: %s before %s", i, a.roles[i-1].name, r.name)
		}
		for j, f := range r.frameworks {
			if f.suppressed || f.role != r {
				t.Fatalf("framework %s misplaced in role %s", f.id, r.name)
			}
			if want := a.dominant(f.used, f.offered); f.share != want {
				t.Fatalf("framework %s share = %v, want %v", f.id, f.share, want)
			}
			if j > 0 && compareRank(r.frameworks[j-1].share, r.frameworks[j-1].id, f.share, f.id) >= 0 {
				t.Fatalf("frameworks of %s out of order at %d", r.name, j)
			}
		}
	}
}

func sameQuantities(x, y quantities) bool {
	for i := range max(len(x), len(y)) {
		if math.Abs(x.at(i)-y.at(i)) > 1e-9 {
			return false
		}
	}
	return true
}

// declineAllOf declines every outstanding offer of the frameworks.
func declineAllOf(t *testing.T, a *Allocator, refuse time.Duration, now time.Time, frameworkIDs ...string) {
	t.Helper()
	for _, fid := range frameworkIDs {
		var ids []string
		for _, o := range a.Offers(fid) {
			ids = append(ids, o.ID)
		}
		if err := a.Decline(fid, ids, refuse, now); err != nil {
			t.Fatalf("Decline(%s) = %v", fid, err)
		}
	}
	check(t, a)
}

func agentName(i int) string { return fmt.Sprintf("agent-%02d", i) }
