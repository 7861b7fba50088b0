package etcdipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// netconf renders a network configuration whose ipam section is base with
// set applied; a nil value deletes a key.
func netconf(t testing.TB, endpoint string, set map[string]any) []byte {
	t.Helper()
	ipam := map[string]any{
		"type":          "corral-ipam",
		"etcdEndpoints": []string{endpoint},
		"subnet":        "10.20.0.0/16",
		"gateway":       "10.20.0.1",
		"routes":        []map[string]string{{"dst": "0.0.0.0/0"}},
		"blockSize":     26,
		"host":          "host-a",
		"timeout":       "10s",
	}
	conf := map[string]any{"cniVersion": "1.1.0", "name": "testnet", "type": "corral-macvlan", "ipam": ipam}
	for k, v := range set {
		m := ipam
		if top, ok := strings.CutPrefix(k, "."); ok { // ".name": a top-level key
			m, k = conf, top
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadNetwork(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string // the resolved range sets
	}{
		{"inline", nil, "[[10.20.0.1-10.20.255.254 gw 10.20.0.1 /26]]"},
		{"inline range", map[string]any{"rangeStart": "10.20.1.0", "rangeEnd": "10.20.1.255", "blockSize": 24},
			"[[10.20.1.0-10.20.1.255 gw 10.20.0.1 /24]]"},
		{"default gateway and block size", map[string]any{"gateway": nil, "blockSize": nil},
			"[[10.20.0.1-10.20.255.254 gw 10.20.0.1 /26]]"},
		{"host-local ranges, dual stack", map[string]any{"subnet": nil, "gateway": nil, "blockSize": nil, "ranges": [][]map[string]any{
			{{"subnet": "10.20.0.0/24", "gateway": "10.20.0.254"}, {"subnet": "10.21.0.0/24", "blockSize": 28}},
			{{"subnet": "fd00::/64"}},
		}}, "[[10.20.0.1-10.20.0.254 gw 10.20.0.254 /26 10.21.0.1-10.21.0.254 gw 10.21.0.1 /28] [fd00::1-fd00::ffff:ffff:ffff:ffff gw fd00::1 /122]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := loadNetwork(netconf(t, "http://127.0.0.1:2379", tc.set))
			if err != nil {
				t.Fatalf("loadNetwork: %v", err)
			}
			if got := describeSets(n.sets); got != tc.want {
				t.Errorf("range sets = %s, want %s", got, tc.want)
			}
			if n.prefix != "/corral/ipam/testnet/" {
				t.Errorf("prefix = %q, want /corral/ipam/testnet/", n.prefix)
			}
		})
	}
}

func describeSets(sets [][]Range) string {
	var out []string
	for _, set := range sets {
		var rs []string
		for _, r := range set {
			rs = append(rs, fmt.Sprintf("%s gw %s /%d", r, r.Gateway, r.BlockSize))
		}
		out = append(out, "["+strings.Join(rs, " ")+"]")
	}
	return "[" + strings.Join(out, " ") + "]"
}

// invalidConfigs are netconfs that every command must refuse with code,
// naming the problem in the error's details.
var invalidConfigs = []struct {
	name string
	set  map[string]any
	raw  string // stdin instead of set
	code uint
	want string
}{
	{name: "bad subnet", set: map[string]any{"subnet": "10.20.0.0/33"}, code: 7, want: `invalid ipam.subnet "10.20.0.0/33", must be a CIDR`},
	{name: "subnet with host bits", set: map[string]any{"subnet": "10.20.0.5/16"}, code: 7, want: "must be the network address 10.20.0.0/16"},
	{name: "subnet too small", set: map[string]any{"subnet": "10.20.0.0/31", "gateway": nil}, code: 7, want: "must leave at least 2 host bits"},
	{name: "gateway outside subnet", set: map[string]any{"gateway": "10.21.0.1"}, code: 7, want: `invalid ipam.gateway "10.21.0.1", must be inside subnet 10.20.0.0/16`},
	{name: "range end before start", set: map[string]any{"rangeStart": "10.20.0.9", "rangeEnd": "10.20.0.8"}, code: 7, want: "must not be before rangeStart"},
	{name: "blockSize too large", set: map[string]any{"blockSize": 31}, code: 7, want: "invalid ipam.blockSize 31, must be in [16, 30] for subnet 10.20.0.0/16"},
	{name: "blockSize wider than subnet", set: map[string]any{"blockSize": 8}, code: 7, want: "invalid ipam.blockSize 8, must be in [16, 30]"},
	{name: "missing etcdEndpoints", set: map[string]any{"etcdEndpoints": nil}, code: 7, want: "ipam.etcdEndpoints is empty"},
	{name: "endpoint not a URL", set: map[string]any{"etcdEndpoints": []string{"127.0.0.1:2379"}}, code: 7, want: `invalid ipam.etcdEndpoints[0] "127.0.0.1:2379"`},
	{name: "no subnet", set: map[string]any{"subnet": nil, "gateway": nil}, code: 7, want: "ipam.subnet and ipam.ranges are both empty"},
	{name: "subnet and ranges", set: map[string]any{"ranges": [][]map[string]any{{{"subnet": "10.30.0.0/24"}}}}, code: 7, want: "both set"},
	{name: "overlapping ranges", set: map[string]any{"subnet": nil, "gateway": nil, "ranges": [][]map[string]any{
		{{"subnet": "10.30.0.0/24"}}, {{"subnet": "10.30.0.0/16", "rangeStart": "10.30.0.200"}}}}, code: 7, want: "invalid ipam.ranges[1][0] range 10.30.0.200-10.30.255.254, overlaps range 10.30.0.1-10.30.0.254 of set 0"},
	{name: "mixed families in a set", set: map[string]any{"subnet": nil, "gateway": nil, "blockSize": nil, "ranges": [][]map[string]any{
		{{"subnet": "10.30.0.0/24"}, {"subnet": "fd00::/64"}}}}, code: 7, want: "ipam.ranges[0] mixes IPv4 and IPv6"},
	{name: "ipv6 with the ipv4 block size", set: map[string]any{"subnet": nil, "gateway": nil, "ranges": [][]map[string]any{{{"subnet": "fd00::/64"}}}}, code: 7,
		want: "invalid ipam.blockSize 26, must be in [64, 126] for subnet fd00::/64"},
	{name: "wrong type", set: map[string]any{"blockSize": "26"}, code: 7, want: "cannot unmarshal string"},
	{name: "bad route", set: map[string]any{"routes": []map[string]string{{"dst": "nowhere"}}}, code: 7, want: "invalid CIDR address: nowhere"},
	{name: "bad timeout", set: map[string]any{"timeout": "soon"}, code: 7, want: `invalid ipam.timeout "soon"`},
	{name: "host with slash", set: map[string]any{"host": "a/b"}, code: 7, want: `invalid ipam.host "a/b"`},
	{name: "host dot-dot", set: map[string]any{"host": ".."}, code: 7, want: `invalid ipam.host ".."`},
	{name: "relative dataDir", set: map[string]any{"dataDir": "var/lib/ipam"}, code: 7, want: `invalid ipam.dataDir "var/lib/ipam", must be an absolute path`},
	{name: "cert without key", set: map[string]any{"etcdCertFile": "/etc/cert.pem"}, code: 7, want: "must be set together"},
	{name: "two ipv4 addresses for cniVersion 0.2.0", set: map[string]any{".cniVersion": "0.2.0", "subnet": nil, "gateway": nil, "ranges": [][]map[string]any{
		{{"subnet": "10.30.0.0/24"}}, {{"subnet": "10.31.0.0/24"}}}}, code: 7, want: `cniVersion "0.2.0" allows one address per family`},
	{name: "no ipam section", set: map[string]any{".ipam": nil}, code: 7, want: "ipam section is missing"},
	{name: "bad network name", set: map[string]any{".name": "a/b"}, code: 7, want: "a/b"},
	{name: "bad JSON", raw: `{"cniVersion":"1.1.0","name":"testnet","ipam":{`, code: 6, want: "unexpected end of JSON input"},
}

func TestLoadNetworkInvalid(t *testing.T) {
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.raw == "" {
				data = netconf(t, "http://127.0.0.1:2379", tc.set)
			}
			_, err := loadNetwork(data)
			var te *types.Error
			if !errors.As(err, &te) || te.Code != tc.code || !strings.Contains(te.Error(), tc.want) {
				t.Fatalf("loadNetwork = %v, want code %d with %q", err, tc.code, tc.want)
			}
		})
	}
}
