package match

import (
	"math/rand/v2"
	"testing"

	"corral/mesos"
)

func TestFill(t *testing.T) {
	big := "cpus:8;mem:8192;disk:1000;ports:[31000-32000]"
	small := Request{CPUs: 1, Mem: 128, HostPorts: []uint32{0}}
	tests := []struct {
		name        string
		req         Request
		constraints [][]string
		offered     string
		placed      []string
		n           int
		want        int
	}{
		{"no constraints, n limits", small, nil, big, nil, 3, 3},
		{"no constraints, cpus limit", small, nil, "cpus:2.5;mem:8192;ports:[31000-32000]", nil, 5, 2},
		{"no constraints, mem limits", small, nil, "cpus:8;mem:300;ports:[31000-32000]", nil, 5, 2},
		{"ports limit", Request{CPUs: 0.1, HostPorts: []uint32{0, 0}}, nil, "cpus:8;ports:[31000-31004]", nil, 5, 2},
		{"fixed port fits once", Request{CPUs: 0.1, HostPorts: []uint32{31000}, RequirePorts: true}, nil, big, nil, 5, 1},
		{"unique hostname places one", small, [][]string{{"hostname", "UNIQUE"}}, big, nil, 5, 1},
		{"unique hostname, already here", small, [][]string{{"hostname", "UNIQUE"}}, big, []string{"a"}, 5, 0},
		{"unique hostname, elsewhere", small, [][]string{{"hostname", "UNIQUE"}}, big, []string{"b", "c"}, 5, 1},
		{"max_per 2 places two", small, [][]string{{"hostname", "MAX_PER", "2"}}, big, nil, 5, 2},
		{"max_per 2 with one here", small, [][]string{{"hostname", "MAX_PER", "2"}}, big, []string{"a", "b"}, 5, 1},
		{"max_per 3 on the rack", small, [][]string{{"rack", "MAX_PER", "3"}}, big, []string{"b|rack:r1"}, 5, 2},
		{"max_per and cpus", small, [][]string{{"hostname", "MAX_PER", "4"}}, "cpus:3;mem:8192;ports:[31000-32000]", nil, 5, 3},
		{"cluster elsewhere", small, [][]string{{"hostname", "CLUSTER"}}, big, []string{"b"}, 5, 0},
		{"cluster here", small, [][]string{{"hostname", "CLUSTER"}}, big, []string{"a"}, 3, 3},
		{"like miss", small, [][]string{{"rack", "LIKE", "r2"}}, big, nil, 3, 0},
		{"n zero", small, nil, big, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs []Constraint
			for _, c := range tt.constraints {
				cs = append(cs, mustParse(t, c...))
			}
			offer := offerOn(t, "a", "rack:r1")
			offer.Resources = mesos.MustParseResources(tt.offered)
			ms := Fill(tt.req, cs, offer, on(t, tt.placed...), tt.n, rand.New(rand.NewPCG(7, 7)))
			if len(ms) != tt.want {
				t.Fatalf("Fill(n=%d) placed %d, want %d", tt.n, len(ms), tt.want)
			}
			// Together the matches fit the offer and share no port.
			var total mesos.Resources
			seen := map[uint64]bool{}
			for i, m := range ms {
				total = total.Add(m.Resources)
				if len(m.Ports) != len(tt.req.HostPorts) {
					t.Errorf("match %d has ports %v, want %d", i, m.Ports, len(tt.req.HostPorts))
				}
				for _, p := range m.Ports {
					if seen[p] {
						t.Errorf("port %d given to two instances", p)
					}
					seen[p] = true
				}
			}
			if !offer.Resources.Contains(total) {
				t.Errorf("Fill took %s from an offer of %s", total, offer.Resources)
			}
		})
	}
}

// Fill appends to its own copy of placed, never into the caller's array.
func TestFillLeavesPlacedAlone(t *testing.T) {
	placed := make([]Placed, 1, 8)
	placed[0] = Placed{AgentID: "agent-b", Hostname: "b"}
	offer := offerOn(t, "a", "")
	offer.Resources = mesos.MustParseResources("cpus:4")
	if ms := Fill(Request{CPUs: 1}, nil, offer, placed, 3, nil); len(ms) != 3 {
		t.Fatalf("Fill placed %d, want 3", len(ms))
	}
	if spare := placed[1:2][0]; spare.AgentID != "" || spare.Hostname != "" || spare.Attributes != nil {
		t.Errorf("Fill wrote %+v past the caller's slice", spare)
	}
}

// GROUP_BY with a value spreads an app evenly over three racks even when one
// rack offers far more often, and waits for the third rack before piling on
// the first two, as constraints.md describes.
func TestFillGroupByBalancesRacks(t *testing.T) {
	req := Request{CPUs: 0.5, Mem: 64}
	cs := []Constraint{mustParse(t, "rack", "GROUP_BY", "3")}
	offers := map[string]mesos.Offer{}
	for _, h := range []string{"a1", "a2", "b1", "c1"} {
		rack := map[byte]string{'a': "r1", 'b': "r2", 'c': "r3"}[h[0]]
		o := offerOn(t, h, "rack:"+rack)
		o.Resources = mesos.MustParseResources("cpus:8;mem:4096")
		offers[h] = o
	}
	count := func(placed []Placed) map[string]int {
		out := map[string]int{}
		for _, p := range placed {
			v, _ := p.Attributes.Get("rack")
			out[v]++
		}
		return out
	}

	// Racks r1 and r2 offer first: one instance each, then nothing until r3.
	var placed []Placed
	for range 3 {
		for _, h := range []string{"a1", "a2", "b1"} {
			for range Fill(req, cs, offers[h], placed, 9-len(placed), nil) {
				placed = append(placed, Placed{AgentID: offers[h].AgentID, Hostname: h, Attributes: offers[h].Attributes})
			}
		}
	}
	if got := count(placed); len(placed) != 2 || got["r1"] != 1 || got["r2"] != 1 {
		t.Fatalf("before r3 offers: placed %v, want one on r1 and one on r2", got)
	}

	// Then r1 offers three times as often as the others.
	stream := []string{"a1", "a2", "a1", "c1", "a2", "a1", "b1", "a2", "a1", "c1", "a1", "a2", "b1", "a1", "c1", "a2"}
	for _, h := range stream {
		for range Fill(req, cs, offers[h], placed, 9-len(placed), nil) {
			placed = append(placed, Placed{AgentID: offers[h].AgentID, Hostname: h, Attributes: offers[h].Attributes})
		}
		got := count(placed)
		lo, hi := 9, 0
		for _, r := range []string{"r1", "r2", "r3"} {
			lo, hi = min(lo, got[r]), max(hi, got[r])
		}
		if hi-lo > 1 {
			t.Fatalf("after an offer from %s: %v, want the racks within one instance of each other", h, got)
		}
	}
	if got := count(placed); len(placed) != 9 || got["r1"] != 3 || got["r2"] != 3 || got["r3"] != 3 {
		t.Errorf("placed %v, want 3 on each rack", got)
	}
}

// GROUP_BY without a value balances over the values it has seen, so the
// order of offers decides the spread (constraints.md): one offer alone takes
// every instance, alternating offers split them, and a rack that shows up
// late catches up with the largest group.
func TestFillGroupByWithoutValue(t *testing.T) {
	req := Request{CPUs: 0.5}
	cs := []Constraint{mustParse(t, "rack", "GROUP_BY")}
	mk := func(h, rack string) mesos.Offer {
		o := offerOn(t, h, "rack:"+rack)
		o.Resources = mesos.MustParseResources("cpus:8")
		return o
	}
	r1, r2, r3 := mk("a", "r1"), mk("b", "r2"), mk("c", "r3")
	var placed []Placed
	add := func(o mesos.Offer, n int) int {
		ms := Fill(req, cs, o, placed, n, nil)
		for range ms {
			placed = append(placed, Placed{AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes})
		}
		return len(ms)
	}
	if got := add(r1, 3); got != 3 {
		t.Fatalf("only r1 known: placed %d of 3, want all", got)
	}
	placed = nil
	for len(placed) < 8 {
		if add(r1, 1)+add(r2, 1) != 2 {
			t.Fatalf("alternating offers: no progress at %d instances", len(placed))
		}
	}
	if got := add(r1, 1); got != 1 {
		t.Errorf("r1 with 4/4: placed %d, want 1 (groups equal)", got)
	}
	if got := add(r1, 1); got != 0 {
		t.Errorf("r1 with 5/4: placed %d, want 0", got)
	}
	if got := add(r3, 9); got != 5 {
		t.Errorf("new rack r3 with 5/4/0: placed %d, want 5 (until it is the largest group)", got)
	}
}
