package main

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/vishvananda/netlink"
)

func TestParseConf(t *testing.T) {
	const base = `"cniVersion":"1.1.0","name":"net1","type":"corral-macvlan","master":"eth0"`
	cases := []struct {
		name     string
		stdin    string
		args     string // CNI_ARGS
		wantMode netlink.MacvlanMode
		wantMAC  string
		wantCode uint // 0: valid
		wantMsg  string
	}{
		{name: "minimal", stdin: `{` + base + `}`, wantMode: netlink.MACVLAN_MODE_BRIDGE},
		{name: "bridge", stdin: `{` + base + `,"mode":"bridge"}`, wantMode: netlink.MACVLAN_MODE_BRIDGE},
		{name: "private", stdin: `{` + base + `,"mode":"private"}`, wantMode: netlink.MACVLAN_MODE_PRIVATE},
		{name: "vepa", stdin: `{` + base + `,"mode":"vepa"}`, wantMode: netlink.MACVLAN_MODE_VEPA},
		{name: "passthru", stdin: `{` + base + `,"mode":"passthru"}`, wantMode: netlink.MACVLAN_MODE_PASSTHRU},
		{name: "mac", stdin: `{` + base + `,"mac":"02:00:00:00:00:01"}`, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMAC: "02:00:00:00:00:01"},
		{name: "CNI_ARGS MAC overrides mac", stdin: `{` + base + `,"mac":"02:00:00:00:00:01"}`,
			args: "IgnoreUnknown=1;K8S_POD_NAME=web;MAC=02:00:00:00:00:02", wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMAC: "02:00:00:00:00:02"},
		{name: "runtimeConfig.mac overrides CNI_ARGS", stdin: `{` + base + `,"runtimeConfig":{"mac":"02:00:00:00:00:03"}}`,
			args: "MAC=02:00:00:00:00:02", wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMAC: "02:00:00:00:00:03"},

		{name: "not JSON", stdin: `{` + base, wantCode: 6},
		{name: "master missing", stdin: `{"cniVersion":"1.1.0","name":"net1"}`, wantCode: 7,
			wantMsg: `invalid master "", must be the name of the parent link (required)`},
		{name: "master too long", stdin: `{` + base + `,"master":"averyveryverylongname"}`, wantCode: 7,
			wantMsg: `invalid master "averyveryverylongname", must be the name of the parent link (at most 15 bytes)`},
		{name: "master with a space", stdin: `{` + base + `,"master":"eth 0"}`, wantCode: 7,
			wantMsg: `invalid master "eth 0", must be the name of the parent link (no '/', ':' or white space)`},
		{name: "unknown mode", stdin: `{` + base + `,"mode":"source"}`, wantCode: 7,
			wantMsg: `invalid mode "source", must be one of "bridge", "private", "vepa", "passthru"`},
		{name: "negative mtu", stdin: `{` + base + `,"mtu":-5}`, wantCode: 7,
			wantMsg: `invalid mtu -5, must be in [0, the parent's MTU]`},
		{name: "mtu a string", stdin: `{` + base + `,"mtu":"1500"}`, wantCode: 7,
			wantMsg: `invalid mtu (a JSON string), must be an integer`},
		{name: "linkInContainer a string", stdin: `{` + base + `,"linkInContainer":"yes"}`, wantCode: 7,
			wantMsg: `invalid linkInContainer (a JSON string), must be a boolean`},
		{name: "multicast mac", stdin: `{` + base + `,"mac":"01:00:00:00:00:01"}`, wantCode: 7,
			wantMsg: `invalid mac "01:00:00:00:00:01", must be a unicast 48-bit Ethernet address such as 02:00:00:00:00:01`},
		{name: "zero mac", stdin: `{` + base + `,"mac":"00:00:00:00:00:00"}`, wantCode: 7,
			wantMsg: `invalid mac "00:00:00:00:00:00", must be a unicast 48-bit Ethernet address such as 02:00:00:00:00:01`},
		{name: "InfiniBand mac", stdin: `{` + base + `,"mac":"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"}`, wantCode: 7},
		{name: "runtimeConfig.mac invalid", stdin: `{` + base + `,"runtimeConfig":{"mac":"x"}}`, wantCode: 7,
			wantMsg: `invalid runtimeConfig.mac "x", must be a unicast 48-bit Ethernet address such as 02:00:00:00:00:01`},
		{name: "ipam.type a path", stdin: `{` + base + `,"ipam":{"type":"/usr/lib/cni/host-local"}}`, wantCode: 7,
			wantMsg: `invalid ipam.type "/usr/lib/cni/host-local", must be the file name of an IPAM plugin in CNI_PATH`},
		{name: "CNI_ARGS with an unknown key", stdin: `{` + base + `}`, args: "K8S_POD_NAME=web", wantCode: 4},
		{name: "CNI_ARGS MAC invalid", stdin: `{` + base + `}`, args: "MAC=02:00", wantCode: 4,
			wantMsg: `invalid CNI_ARGS MAC "02:00", must be a unicast 48-bit Ethernet address such as 02:00:00:00:00:01`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConf([]byte(tc.stdin), tc.args)
			if tc.wantCode != 0 {
				var e *types.Error
				if !errors.As(err, &e) {
					t.Fatalf("parseConf(%s, %q) = %v, want a CNI error with code %d", tc.stdin, tc.args, err, tc.wantCode)
				}
				if e.Code != tc.wantCode || (tc.wantMsg != "" && e.Msg != tc.wantMsg) {
					t.Errorf("parseConf(%s, %q) = %d %q, want %d %q", tc.stdin, tc.args, e.Code, e.Msg, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConf(%s, %q) = %v", tc.stdin, tc.args, err)
			}
			if c.mode != tc.wantMode {
				t.Errorf("parseConf(%s).mode = %s, want %s", tc.stdin, modeName(c.mode), modeName(tc.wantMode))
			}
			if got := c.mac.String(); got != tc.wantMAC {
				t.Errorf("parseConf(%s, %q).mac = %q, want %q", tc.stdin, tc.args, got, tc.wantMAC)
			}
		})
	}
}

func TestCheckMTU(t *testing.T) {
	parent := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "eth0", MTU: 1500}}
	cases := []struct {
		mtu     int
		wantErr string
	}{
		{0, ""},
		{1400, ""},
		{1500, ""},
		{1501, `invalid mtu 1501, must be in [0, 1500], the MTU of master "eth0"`},
		{9001, `invalid mtu 9001, must be in [0, 1500], the MTU of master "eth0"`},
	}
	for _, tc := range cases {
		c := &conf{NetConf: NetConf{Master: "eth0", MTU: tc.mtu}}
		err := c.checkMTU(parent)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("checkMTU(%d) with parent MTU 1500 = %q, want %q", tc.mtu, got, tc.wantErr)
		}
	}
}
