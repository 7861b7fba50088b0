package etcdipam

import (
	"net/netip"
	"slices"
	"testing"
)

func mustRange(t *testing.T, rc RangeConfig) Range {
	t.Helper()
	r, err := parseRange(rc, "ipam.", 0)
	if err != nil {
		t.Fatalf("parseRange(%+v): %v", rc, err)
	}
	return r
}

func TestLastAddr(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"10.20.0.0/16", "10.20.255.255"},
		{"10.20.0.64/26", "10.20.0.127"},
		{"10.20.0.5/24", "10.20.0.255"},
		{"0.0.0.0/0", "255.255.255.255"},
		{"fd00::/64", "fd00::ffff:ffff:ffff:ffff"},
		{"fd00::/122", "fd00::3f"},
	} {
		if got := lastAddr(netip.MustParsePrefix(tc.prefix)); got.String() != tc.want {
			t.Errorf("lastAddr(%s) = %s, want %s", tc.prefix, got, tc.want)
		}
	}
}

func TestRangeBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		rc   RangeConfig
		want []string
	}{
		{"whole /24 in /26 blocks", RangeConfig{Subnet: "10.20.0.0/24", BlockSize: 26},
			[]string{"10.20.0.0/26", "10.20.0.64/26", "10.20.0.128/26", "10.20.0.192/26"}},
		{"range cuts blocks", RangeConfig{Subnet: "10.20.0.0/16", RangeStart: "10.20.0.100", RangeEnd: "10.20.1.5", BlockSize: 24},
			[]string{"10.20.0.0/24", "10.20.1.0/24"}},
		{"one block is the subnet", RangeConfig{Subnet: "10.20.0.0/24", BlockSize: 24}, []string{"10.20.0.0/24"}},
		{"ipv6", RangeConfig{Subnet: "fd00::/120", BlockSize: 122}, []string{"fd00::/122", "fd00::40/122", "fd00::80/122", "fd00::c0/122"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for b := range mustRange(t, tc.rc).Blocks() {
				got = append(got, b.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Blocks() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRangeFree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rc    RangeConfig
		block string
		taken []string
		want  []string
	}{
		{"skips network and gateway", RangeConfig{Subnet: "10.20.0.0/29", BlockSize: 30}, "10.20.0.0/30", nil,
			[]string{"10.20.0.2", "10.20.0.3"}},
		{"skips broadcast", RangeConfig{Subnet: "10.20.0.0/29", BlockSize: 30}, "10.20.0.4/30", nil,
			[]string{"10.20.0.4", "10.20.0.5", "10.20.0.6"}},
		{"skips a gateway mid-block", RangeConfig{Subnet: "10.20.0.0/29", Gateway: "10.20.0.5", BlockSize: 30}, "10.20.0.4/30", nil,
			[]string{"10.20.0.4", "10.20.0.6"}},
		{"skips taken", RangeConfig{Subnet: "10.20.0.0/29", BlockSize: 29}, "10.20.0.0/29", []string{"10.20.0.3", "10.20.0.4"},
			[]string{"10.20.0.2", "10.20.0.5", "10.20.0.6"}},
		{"keeps to the range", RangeConfig{Subnet: "10.20.0.0/24", RangeStart: "10.20.0.10", RangeEnd: "10.20.0.12", BlockSize: 26}, "10.20.0.0/26", nil,
			[]string{"10.20.0.10", "10.20.0.11", "10.20.0.12"}},
		{"ipv6 keeps its last address", RangeConfig{Subnet: "fd00::/126", BlockSize: 126}, "fd00::/126", nil,
			[]string{"fd00::2", "fd00::3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRange(t, tc.rc)
			taken := map[netip.Addr]bool{}
			for _, a := range tc.taken {
				taken[netip.MustParseAddr(a)] = true
			}
			var got []string
			for a := range r.Free(netip.MustParsePrefix(tc.block), func(a netip.Addr) bool { return taken[a] }) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Free(%s) = %v, want %v", tc.block, got, tc.want)
			}
		})
	}
}

func TestRangeCapacity(t *testing.T) {
	for _, tc := range []struct {
		rc   RangeConfig
		want string
	}{
		{RangeConfig{Subnet: "10.20.0.0/24"}, "253"},              // .1 gateway, .2-.254
		{RangeConfig{Subnet: "10.20.0.0/29", BlockSize: 30}, "5"}, // .2-.6
		{RangeConfig{Subnet: "10.20.0.0/24", RangeStart: "10.20.0.10", RangeEnd: "10.20.0.19"}, "10"},
		{RangeConfig{Subnet: "10.20.0.0/24", RangeStart: "10.20.0.10", RangeEnd: "10.20.0.19", Gateway: "10.20.0.15"}, "9"},
		{RangeConfig{Subnet: "fd00::/120"}, "254"}, // ::2-::ff
		{RangeConfig{Subnet: "10.0.0.0/8", BlockSize: 24}, "16777213"},
	} {
		if got := mustRange(t, tc.rc).Capacity().String(); got != tc.want {
			t.Errorf("Capacity(%+v) = %s, want %s", tc.rc, got, tc.want)
		}
	}
}

func TestBlockName(t *testing.T) {
	for _, p := range []string{"10.20.0.64/26", "fd00::40/122", "0.0.0.0/0"} {
		b := netip.MustParsePrefix(p)
		got, err := parseBlockName(blockName(b))
		if err != nil || got != b {
			t.Errorf("parseBlockName(blockName(%s)) = %v, %v, want %s", p, got, err, p)
		}
	}
}

func TestSortableAddr(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"10.20.0.5", "010.020.000.005"},
		{"255.255.255.255", "255.255.255.255"},
		{"fd00::5", "fd00:0000:0000:0000:0000:0000:0000:0005"},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := sortableAddr(a); got != tc.want {
			t.Errorf("sortableAddr(%s) = %s, want %s", tc.addr, got, tc.want)
		}
		if back, err := parseSortableAddr(tc.want); err != nil || back != a {
			t.Errorf("parseSortableAddr(%s) = %v, %v, want %s", tc.want, back, err, a)
		}
	}
	// Keys sort as addresses do, so a block's reservations are a key range.
	addrs := []string{"10.20.0.9", "10.20.0.10", "10.20.0.100", "10.20.1.0", "9.255.255.255"}
	slices.SortFunc(addrs, func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) })
	keys := make([]string, len(addrs))
	for i, a := range addrs {
		keys[i] = sortableAddr(netip.MustParseAddr(a))
	}
	if !slices.IsSorted(keys) {
		t.Errorf("keys %v do not sort as addresses %v", keys, addrs)
	}
	for _, bad := range []string{"10.20.0", "10.20.0.256", "x.0.0.0"} {
		if _, err := parseSortableAddr(bad); err == nil {
			t.Errorf("parseSortableAddr(%q) succeeded", bad)
		}
	}
}
