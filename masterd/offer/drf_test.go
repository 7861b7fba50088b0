package offer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"corral/mesos"
)

func TestDRFOrder(t *testing.T) {
	type fw struct {
		id, role string
		used     string // resources its tasks hold on the "busy" agent
	}
	tests := []struct {
		name       string
		weights    map[string]float64
		frameworks []fw
		free       []string // totals of the agents to offer, in order
		want       []string
	}{{
		name:       "least allocated first",
		frameworks: []fw{{"a", "r", "cpus:4;mem:400"}, {"b", "r", "cpus:1;mem:100"}},
		free:       []string{"cpus:1;mem:100"},
		want:       []string{"b@agent-00"},
	}, {
		name:       "ties broken by framework ID",
		frameworks: []fw{{"b", "r", ""}, {"a", "r", ""}, {"c", "r", ""}},
		free:       []string{"cpus:1;mem:100"},
		want:       []string{"a@agent-00"},
	}, {
		name: "dominant resource decides",
		// a holds 2 of 12 cpus but 1000 of 1100 MB; b holds 5 of 12 cpus.
		frameworks: []fw{{"a", "r", "cpus:2;mem:1000"}, {"b", "r", "cpus:5;mem:0"}},
		free:       []string{"cpus:5;mem:100"},
		want:       []string{"b@agent-00"},
	}, {
		name:       "shares updated after every grant",
		frameworks: []fw{{"a", "r", ""}, {"b", "r", ""}, {"c", "r", ""}},
		free:       []string{"cpus:1;mem:100", "cpus:1;mem:100", "cpus:1;mem:100", "cpus:1;mem:100"},
		want:       []string{"a@agent-00", "b@agent-01", "c@agent-02", "a@agent-03"},
	}, {
		name:       "bigger grant pushes a framework further back",
		frameworks: []fw{{"a", "r", ""}, {"b", "r", ""}},
		free:       []string{"cpus:8;mem:800", "cpus:1;mem:100", "cpus:1;mem:100", "cpus:1;mem:100"},
		want:       []string{"a@agent-00", "b@agent-01", "b@agent-02", "b@agent-03"},
	}, {
		name: "roles are ordered before frameworks",
		// Role x holds 3 cpus in total, role y 2: y's framework goes first
		// although x's framework b holds nothing.
		frameworks: []fw{{"a", "x", "cpus:3;mem:100"}, {"b", "x", ""}, {"c", "y", "cpus:2;mem:100"}},
		free:       []string{"cpus:1;mem:1"},
		want:       []string{"c@agent-00"},
	}, {
		name:       "role ties broken by role name",
		frameworks: []fw{{"a", "zeta", ""}, {"b", "alpha", ""}},
		free:       []string{"cpus:1;mem:1"},
		want:       []string{"b@agent-00"},
	}, {
		name:       "weight divides the role share",
		weights:    map[string]float64{"x": 4},
		frameworks: []fw{{"a", "x", "cpus:3;mem:100"}, {"c", "y", "cpus:2;mem:100"}},
		free:       []string{"cpus:1;mem:1"},
		want:       []string{"a@agent-00"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, func(c *Config) { c.Weights = tt.weights })
			busy := mesos.Resources{}
			for _, f := range tt.frameworks {
				busy = busy.Add(res(f.used))
			}
			if !busy.IsEmpty() {
				a.AddAgent("busy", busy)
				for _, f := range tt.frameworks {
					a.Allocated(f.id, "busy", res(f.used))
				}
			}
			for _, f := range tt.frameworks {
				a.AddFramework(f.id, f.role)
			}
			for i, total := range tt.free {
				a.AddAgent(agentName(i), res(total))
			}
			check(t, a)
			if got := grants(allocate(t, a, t0)); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoleWeights(t *testing.T) {
	tests := []struct {
		name                string
		heavy               float64
		perCycle, cycles    int
		wantHeavy, wantLite int
	}{
		{name: "equal weights", heavy: 1, perCycle: 8, cycles: 3, wantHeavy: 12, wantLite: 12},
		{name: "weight 2", heavy: 2, perCycle: 8, cycles: 3, wantHeavy: 16, wantLite: 8},
		{name: "weight 3", heavy: 3, perCycle: 16, cycles: 2, wantHeavy: 24, wantLite: 8},
		{name: "weight 0.5", heavy: 0.5, perCycle: 6, cycles: 4, wantHeavy: 8, wantLite: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, func(c *Config) { c.Weights = map[string]float64{"heavy": tt.heavy} })
			a.AddFramework("h", "heavy")
			a.AddFramework("l", "light")
			a.AddFramework("l2", "light") // a role's frameworks share its weight
			count := map[string]int{}
			for c := range tt.cycles {
				for i := range tt.perCycle {
					a.AddAgent(agentName(c*tt.perCycle+i), res("cpus:4;mem:1024"))
				}
				for _, o := range allocate(t, a, t0.Add(time.Duration(c)*time.Second)) {
					count[a.frameworks[o.FrameworkID].role.name]++
				}
			}
			if count["heavy"] != tt.wantHeavy || count["light"] != tt.wantLite {
				t.Errorf("agents offered per role = %v, want heavy %d, light %d", count, tt.wantHeavy, tt.wantLite)
			}
			st := a.Stats()
			if h, l := st.Roles["heavy"].Share, st.Roles["light"].Share; h-l > 1.0/24 || l-h > 1.0/24 {
				t.Errorf("weighted shares heavy %v, light %v, want about equal", h, l)
			}
		})
	}
}

// TestRandomOperations drives the allocator through a random sequence of
// calls and checks its bookkeeping after each, so that the incremental
// DRF order and per-agent accounting cannot drift from a recomputation.
func TestRandomOperations(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { randomWalk(t, rand.New(rand.NewPCG(seed, 2))) })
	}
}

func randomWalk(t *testing.T, rng *rand.Rand) {
	a := newTest(t, func(c *Config) {
		c.Weights = map[string]float64{"r1": 2, "r2": 0.5}
		c.OfferTimeout = 30 * time.Second
	})
	totals := []string{"cpus:4;mem:1024;ports:[31000-31009]", "cpus:8;mem:512;disk:100", "cpus:1;mem:64;gpus:1"}
	roles := []string{"r0", "r1", "r2"}
	now := t0
	for step := range 3000 {
		now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
		agentID := agentName(rng.IntN(12))
		fid := fmt.Sprintf("fw-%d", rng.IntN(8))
		switch op := rng.IntN(15); op {
		case 0:
			a.AddAgent(agentID, res(totals[rng.IntN(len(totals))]))
		case 1:
			a.RemoveAgent(agentID)
		case 2:
			a.DeactivateAgent(agentID)
		case 3:
			a.ActivateAgent(agentID)
		case 4:
			a.AddFramework(fid, roles[rng.IntN(len(roles))])
		case 5:
			if rng.IntN(3) == 0 {
				a.RemoveFramework(fid)
			}
		case 6:
			a.Suppress(fid)
		case 7:
			a.Revive(fid)
		case 8, 9:
			allocate(t, a, now)
		case 10:
			if offers := a.Offers(fid); len(offers) > 0 {
				o := offers[rng.IntN(len(offers))]
				use := mesos.Resources{Scalars: map[string]float64{mesos.CPUs: o.Resources.Scalar(mesos.CPUs) / 2}}
				if ports := o.Resources.PortRanges(); len(ports) > 0 {
					use.Ranges = map[string]mesos.Ranges{mesos.Ports: mesos.RangesOf(ports.Values(2)...)}
				}
				if _, err := a.Accept(fid, o.ID, use, time.Duration(rng.IntN(4)-1)*time.Second, now); err != nil {
					t.Fatalf("step %d: Accept() = %v", step, err)
				}
			}
		case 11:
			var ids []string
			for _, o := range a.Offers(fid) {
				ids = append(ids, o.ID)
			}
			if err := a.Decline(fid, ids, time.Duration(rng.IntN(10))*time.Second, now); err != nil {
				t.Fatalf("step %d: Decline() = %v", step, err)
			}
		case 12:
			if ag := a.agentBy[agentID]; ag != nil {
				for id, used := range ag.used {
					if rng.IntN(2) == 0 {
						used = mesos.Resources{Scalars: map[string]float64{mesos.CPUs: 0.5}}
					}
					a.Release(id, agentID, used)
					break
				}
			}
		case 13:
			a.Expire(now)
		case 14:
			if st, ok := a.Agent(agentID); ok {
				a.Allocated(fid, agentID, mesos.Resources{Scalars: map[string]float64{mesos.CPUs: st.Available.Scalar(mesos.CPUs) / 2, mesos.Mem: 8}})
			}
		}
		check(t, a)
	}
	if len(a.offers) == 0 && len(a.agents) == 0 {
		t.Fatalf("random walk did nothing")
	}
}
