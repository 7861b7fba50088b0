package match

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"corral/mesos"
)

func TestMatchOffer(t *testing.T) {
	tests := []struct {
		name      string
		req       Request
		offered   string
		want      string // the match's resources in agent syntax
		wantPorts []uint64
	}{
		{"scalars", Request{CPUs: 0.5, Mem: 128, Disk: 10}, "cpus:1;mem:256;disk:100;ports:[31000-32000]", "cpus:0.5;disk:10;mem:128", nil},
		{"exactly what is offered", Request{CPUs: 0.3, Mem: 256, GPUs: 1}, "cpus:0.3;mem:256;gpus:1", "cpus:0.3;gpus:1;mem:256", nil},
		{"nothing", Request{}, "", "", nil},
		{"dynamic ports lowest first", Request{CPUs: 0.1, HostPorts: []uint32{0, 0, 0}}, "cpus:1;ports:[31000-32000]", "cpus:0.1;ports:[31000-31002]", []uint64{31000, 31001, 31002}},
		{"dynamic ports across ranges", Request{HostPorts: []uint32{0, 0, 0}}, "ports:[31000-31001, 31005-31010]", "ports:[31000-31001, 31005-31005]", []uint64{31000, 31001, 31005}},
		{"fixed ports in definition order", Request{HostPorts: []uint32{31005, 31001}, RequirePorts: true}, "ports:[31000-32000]", "ports:[31001-31001, 31005-31005]", []uint64{31005, 31001}},
		{"fixed and dynamic, dynamic skip the fixed", Request{HostPorts: []uint32{0, 31000, 0}}, "ports:[31000-31003]", "ports:[31000-31002]", []uint64{31001, 31000, 31002}},
		{"fixed port outside the dynamic range", Request{HostPorts: []uint32{80, 0}}, "ports:[80-80, 31000-32000]", "ports:[80-80, 31000-31000]", []uint64{80, 31000}},
		{"roles default", Request{CPUs: 1, AcceptedRoles: nil}, "cpus:1", "cpus:1", nil},
		{"roles include *", Request{CPUs: 1, AcceptedRoles: []string{"slave_public", "*"}}, "cpus:1", "cpus:1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok, reason := MatchOffer(tt.req, mesos.MustParseResources(tt.offered))
			if !ok {
				t.Fatalf("MatchOffer(%+v, %q) = no match (%s), want a match", tt.req, tt.offered, reason)
			}
			if reason != "" {
				t.Errorf("MatchOffer(%+v) matched with reason %q, want none", tt.req, reason)
			}
			if got := m.Resources.String(); got != tt.want {
				t.Errorf("MatchOffer(%+v, %q).Resources = %q, want %q", tt.req, tt.offered, got, tt.want)
			}
			if !slices.Equal(m.Ports, tt.wantPorts) {
				t.Errorf("MatchOffer(%+v, %q).Ports = %v, want %v", tt.req, tt.offered, m.Ports, tt.wantPorts)
			}
		})
	}
}

func TestMatchOfferShort(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		offered string
		reasons []string // substrings of the reason
	}{
		{"cpus", Request{CPUs: 2, Mem: 64}, "cpus:1;mem:128", []string{"insufficient cpus: 2 requested, 1 offered"}},
		{"mem", Request{CPUs: 1, Mem: 256}, "cpus:1;mem:128", []string{"insufficient mem: 256 requested, 128 offered"}},
		{"disk", Request{Disk: 1}, "cpus:1", []string{"insufficient disk: 1 requested, 0 offered"}},
		{"gpus", Request{GPUs: 1}, "cpus:1", []string{"insufficient gpus"}},
		{"cpus and mem together", Request{CPUs: 2, Mem: 256}, "cpus:1;mem:128", []string{"insufficient cpus", "insufficient mem"}},
		{"fractional cpus", Request{CPUs: 0.35}, "cpus:0.3", []string{"insufficient cpus: 0.35 requested, 0.3 offered"}},
		{"fixed port not offered", Request{HostPorts: []uint32{8080, 0}}, "ports:[31000-32000]", []string{"insufficient ports: host ports 8080 not offered in [31000-32000]"}},
		{"required port not offered", Request{HostPorts: []uint32{8080, 8081}, RequirePorts: true}, "ports:[8081-8081]", []string{"ports required by requirePorts 8080 not offered"}},
		{"no ports offered", Request{HostPorts: []uint32{0}}, "cpus:1", []string{"insufficient ports: 1 dynamic host ports requested, 0 free in []"}},
		{"too few dynamic ports", Request{HostPorts: []uint32{0, 0}}, "ports:[31000-31000]", []string{"2 dynamic host ports requested, 1 free"}},
		{"the fixed port takes the last free one", Request{HostPorts: []uint32{31000, 0}}, "ports:[31000-31000]", []string{"1 dynamic host ports requested, 0 free"}},
		{"same fixed port twice", Request{HostPorts: []uint32{31000, 31000}}, "ports:[31000-32000]", []string{"host port 31000 is requested twice"}},
		{"role", Request{CPUs: 1, AcceptedRoles: []string{"slave_public"}}, "cpus:1", []string{`acceptedResourceRoles ["slave_public"] exclude "*"`}},
		{"everything", Request{CPUs: 2, Mem: 2, HostPorts: []uint32{1}, AcceptedRoles: []string{"x"}}, "cpus:1;mem:1", []string{"acceptedResourceRoles", "cpus", "mem", "ports"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok, reason := MatchOffer(tt.req, mesos.MustParseResources(tt.offered))
			if ok {
				t.Fatalf("MatchOffer(%+v, %q) = %v, want no match", tt.req, tt.offered, m)
			}
			for _, want := range tt.reasons {
				if !strings.Contains(reason, want) {
					t.Errorf("MatchOffer(%+v, %q) reason = %q, want it to contain %q", tt.req, tt.offered, reason, want)
				}
			}
		})
	}
}

// Dynamic ports drawn at random are free, distinct, reproducible from the
// seed, consecutive where the ranges allow, and spread over the offer.
func TestMatchOfferRand(t *testing.T) {
	offered := mesos.MustParseResources("cpus:4;ports:[31000-31099, 31200-31299]")
	req := Request{CPUs: 0.1, HostPorts: []uint32{0, 31050, 0, 0}}
	draw := func(seed uint64, n int) [][]uint64 {
		rnd := rand.New(rand.NewPCG(seed, 0))
		var out [][]uint64
		for range n {
			m, ok, reason := MatchOfferRand(req, offered, rnd)
			if !ok {
				t.Fatalf("MatchOfferRand(%+v) = no match (%s)", req, reason)
			}
			out = append(out, m.Ports)
		}
		return out
	}
	a, b := draw(1, 200), draw(1, 200)
	starts := map[uint64]bool{}
	for i, ports := range a {
		if !slices.Equal(ports, b[i]) {
			t.Fatalf("draw %d: %v, then %v from the same seed", i, ports, b[i])
		}
		if ports[1] != 31050 {
			t.Errorf("draw %d: fixed port = %d, want 31050", i, ports[1])
		}
		seen := map[uint64]bool{}
		for _, p := range ports {
			if !offered.PortRanges().ContainsValue(p) {
				t.Errorf("draw %d: port %d is not offered", i, p)
			}
			if seen[p] {
				t.Errorf("draw %d: port %d chosen twice in %v", i, p, ports)
			}
			seen[p] = true
		}
		starts[ports[0]] = true
	}
	if len(starts) < 50 {
		t.Errorf("200 draws started at %d distinct ports, want them spread over the 199 free ones", len(starts))
	}
	if c := draw(2, 1)[0]; slices.Equal(c, a[0]) {
		t.Logf("seeds 1 and 2 drew the same ports %v", c) // possible, merely unlikely
	}
}

func TestTake(t *testing.T) {
	rs := mesos.Ranges{{Begin: 1, End: 3}, {Begin: 10, End: 12}}
	tests := []struct {
		start uint64
		n     int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{0, 6, []uint64{1, 2, 3, 10, 11, 12}},
		{2, 2, []uint64{3, 10}},
		{3, 2, []uint64{10, 11}},
		{4, 4, []uint64{11, 12, 1, 2}},
		{5, 6, []uint64{12, 1, 2, 3, 10, 11}},
		{1, 6, []uint64{2, 3, 10, 11, 12, 1}},
	}
	for _, tt := range tests {
		if got := take(rs, tt.start, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("take(%s, %d, %d) = %v, want %v", rs, tt.start, tt.n, got, tt.want)
		}
	}
	one := mesos.Ranges{{Begin: 5, End: 9}}
	if got, want := take(one, 3, 5), []uint64{8, 9, 5, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("take(%s, 3, 5) = %v, want %v", one, got, want)
	}
}
