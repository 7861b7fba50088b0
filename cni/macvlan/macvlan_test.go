package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
)

// fixture is a host namespace with the macvlan parent p0, a container
// namespace, a host-local data directory and the plugin, built.
type fixture struct {
	t               *testing.T
	plugin, cniPath string
	host, cont      string // namespace names
	dataDir         string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bin, cniPath := plugin(t)
	return &fixture{t: t, plugin: bin, cniPath: cniPath, host: newHost(t), cont: newNetns(t), dataDir: t.TempDir()}
}

// run executes the plugin in the host for the container namespace cont
// (eth0, container ID "id-<cont>").
func (f *fixture) run(command, cont string, conf []byte, env ...string) ([]byte, error) {
	f.t.Helper()
	return cni(f.t, f.host, f.plugin, f.cniPath, call{command: command, containerID: "id-" + cont, netns: nsPath(cont), ifName: "eth0", env: env}, conf)
}

// add runs ADD, which must succeed, and returns the result.
func (f *fixture) add(cont string, conf []byte, env ...string) *current.Result {
	f.t.Helper()
	out, err := f.run("ADD", cont, conf, env...)
	if err != nil {
		f.t.Fatalf("ADD into %s: %v\n%s", cont, err, out)
	}
	return decodeResult(f.t, out)
}

// ipv4 returns the first IPv4 address of a result.
func ipv4(t testing.TB, r *current.Result) net.IP {
	t.Helper()
	for _, ipc := range r.IPs {
		if ip := ipc.Address.IP.To4(); ip != nil {
			return ip
		}
	}
	t.Fatalf("result has no IPv4 address: %v", r)
	return nil
}

func TestAdd(t *testing.T) {
	cases := []struct {
		name     string
		version  string
		ipamType string
		set      netConf // merged into the configuration; nil values delete
		dual     bool    // IPv4 and IPv6 ranges
		inCont   bool    // the parent is in the container (linkInContainer)
		wantMode netlink.MacvlanMode
		wantMTU  int
		wantMAC  string
	}{
		{name: "bridge", set: netConf{"mode": "bridge"}, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500},
		{name: "mode defaults to bridge", set: netConf{"mode": nil}, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500},
		{name: "private with MTU 1400", set: netConf{"mode": "private", "mtu": 1400}, wantMode: netlink.MACVLAN_MODE_PRIVATE, wantMTU: 1400},
		{name: "vepa with a fixed MAC", set: netConf{"mode": "vepa", "mac": "02:00:00:00:00:aa"}, wantMode: netlink.MACVLAN_MODE_VEPA, wantMTU: 1500, wantMAC: "02:00:00:00:00:aa"},
		{name: "passthru", set: netConf{"mode": "passthru"}, wantMode: netlink.MACVLAN_MODE_PASSTHRU, wantMTU: 1500},
		{name: "runtimeConfig MAC overrides mac", set: netConf{"mac": "02:00:00:00:00:aa", "runtimeConfig": map[string]any{"mac": "02:00:00:00:00:bb"}}, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500, wantMAC: "02:00:00:00:00:bb"},
		{name: "dual stack", dual: true, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500},
		{name: "parent in the container", inCont: true, set: netConf{"linkInContainer": true}, wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500},
		{name: "cniVersion 1.0.0 with Debian's host-local directly", version: "1.0.0", ipamType: "host-local", wantMode: netlink.MACVLAN_MODE_BRIDGE, wantMTU: 1500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.version == "" {
				tc.version, tc.ipamType = "1.1.0", adapterName
			}
			conf := newConf(tc.version, tc.ipamType, f.dataDir, 77)
			for k, v := range tc.set {
				if v == nil {
					delete(conf, k)
				} else {
					conf[k] = v
				}
			}
			if tc.dual {
				ipam := conf.ipam()
				delete(ipam, "subnet")
				delete(ipam, "gateway")
				ipam["ranges"] = [][]map[string]any{
					{{"subnet": "10.77.0.0/24", "gateway": "10.77.0.1"}},
					{{"subnet": "fd00:77::/64", "gateway": "fd00:77::1"}},
				}
				ipam["routes"] = []map[string]any{{"dst": "0.0.0.0/0"}, {"dst": "::/0"}}
			}

			wantLinks := []string{"lo"}
			if tc.inCont {
				ipCmd(t, "-n", f.cont, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
				ipCmd(t, "-n", f.cont, "link", "set", "p0", "up")
				ipCmd(t, "-n", f.cont, "link", "set", "p1", "up")
				wantLinks = []string{"lo", "p0", "p1"}
			}

			r := f.add(f.cont, conf.bytes(t))

			// The result, as the spec lays it out.
			if r.CNIVersion != tc.version {
				t.Errorf("result cniVersion = %q, want %q", r.CNIVersion, tc.version)
			}
			if len(r.Interfaces) != 1 {
				t.Fatalf("result interfaces = %v, want one", r.Interfaces)
			}
			intf := r.Interfaces[0]
			if intf.Name != "eth0" || intf.Sandbox != nsPath(f.cont) || intf.Mtu != tc.wantMTU {
				t.Errorf("result interface = %+v, want eth0 in sandbox %s with MTU %d", intf, nsPath(f.cont), tc.wantMTU)
			}
			wantIPs := 1
			if tc.dual {
				wantIPs = 2
			}
			if len(r.IPs) != wantIPs {
				t.Fatalf("result ips = %v, want %d", r.IPs, wantIPs)
			}
			for _, ipc := range r.IPs {
				if ipc.Interface == nil || *ipc.Interface != 0 {
					t.Errorf("ip %s has interface %v, want index 0", ipc.Address.String(), ipc.Interface)
				}
			}
			if gw := r.IPs[0].Gateway; !gw.Equal(net.ParseIP("10.77.0.1")) {
				t.Errorf("ip gateway = %v, want 10.77.0.1", gw)
			}
			if !slices.ContainsFunc(r.Routes, func(rt *types.Route) bool { return rt.Dst.String() == "0.0.0.0/0" }) {
				t.Errorf("result routes = %v, want 0.0.0.0/0", r.Routes)
			}

			// The kernel's view of the container.
			h := handle(t, f.cont)
			link, err := h.LinkByName("eth0")
			if err != nil {
				t.Fatalf("eth0 in the container: %v", err)
			}
			mv, ok := link.(*netlink.Macvlan)
			if !ok {
				t.Fatalf("eth0 is a %s link, want macvlan", link.Type())
			}
			if mv.Mode != tc.wantMode {
				t.Errorf("macvlan mode = %s, want %s", modeName(mv.Mode), modeName(tc.wantMode))
			}
			parentNS := f.host
			if tc.inCont {
				parentNS = f.cont
			}
			if p0, err := handle(t, parentNS).LinkByName("p0"); err != nil || mv.ParentIndex != p0.Attrs().Index {
				t.Errorf("macvlan parent index = %d, want p0 in %s (%v)", mv.ParentIndex, parentNS, err)
			}
			// A parent in another namespace shows as a link-netnsid.
			if inOther := mv.NetNsID >= 0; inOther == tc.inCont {
				t.Errorf("macvlan link-netnsid = %d, want the parent in %s", mv.NetNsID, parentNS)
			}
			if mv.MTU != tc.wantMTU {
				t.Errorf("macvlan MTU = %d, want %d", mv.MTU, tc.wantMTU)
			}
			if mac := mv.HardwareAddr.String(); mac != intf.Mac || (tc.wantMAC != "" && mac != tc.wantMAC) {
				t.Errorf("macvlan MAC = %s, result says %s, want %q", mac, intf.Mac, tc.wantMAC)
			}
			if mv.Flags&net.FlagUp == 0 {
				t.Error("macvlan is down")
			}
			addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
			if err != nil {
				t.Fatal(err)
			}
			for _, ipc := range r.IPs {
				if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IPNet.String() == ipc.Address.String() }) {
					t.Errorf("eth0 lacks %s; has %v", ipc.Address.String(), addrs)
				}
			}
			routes, err := h.RouteList(link, netlink.FAMILY_V4)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(routes, func(rt netlink.Route) bool {
				return (rt.Dst == nil || rt.Dst.String() == "0.0.0.0/0") && rt.Gw.Equal(net.ParseIP("10.77.0.1"))
			}) {
				t.Errorf("no default route via 10.77.0.1 in the container: %v", routes)
			}

			if out, err := f.run("DEL", f.cont, conf.bytes(t)); err != nil {
				t.Fatalf("DEL: %v\n%s", err, out)
			}
			if got := linkNames(t, f.cont); !slices.Equal(got, wantLinks) {
				t.Errorf("links after DEL = %v, want %v", got, wantLinks)
			}
			if got := reserved(t, f.dataDir); len(got) != 0 {
				t.Errorf("host-local still holds %v after DEL", got)
			}
		})
	}
}

// TestAddChainedWithoutIPAM runs the plugin second in a chain and without
// IPAM: the result keeps prevResult and appends the macvlan, which comes up
// with no address.
func TestAddChainedWithoutIPAM(t *testing.T) {
	f := newFixture(t)
	conf := newConf("1.1.0", "", f.dataDir, 77)
	delete(conf, "ipam")
	conf["prevResult"] = map[string]any{
		"cniVersion": "1.1.0",
		"interfaces": []map[string]any{{"name": "host-side", "mac": "02:00:00:00:00:10"}},
		"ips":        []map[string]any{{"address": "192.0.2.10/24", "interface": 0}},
		"dns":        map[string]any{"nameservers": []string{"192.0.2.53"}},
	}
	r := f.add(f.cont, conf.bytes(t))
	if len(r.Interfaces) != 2 || r.Interfaces[0].Name != "host-side" || r.Interfaces[1].Name != "eth0" || r.Interfaces[1].Sandbox != nsPath(f.cont) {
		t.Errorf("result interfaces = %v, want host-side then eth0 in %s", r.Interfaces, nsPath(f.cont))
	}
	if len(r.IPs) != 1 || r.IPs[0].Address.String() != "192.0.2.10/24" || *r.IPs[0].Interface != 0 {
		t.Errorf("result ips = %v, want prevResult's one", r.IPs)
	}
	if !slices.Equal(r.DNS.Nameservers, []string{"192.0.2.53"}) {
		t.Errorf("result dns = %+v, want prevResult's", r.DNS)
	}
	link, err := handle(t, f.cont).LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Error("eth0 is down")
	}
	if addrs, _ := handle(t, f.cont).AddrList(link, netlink.FAMILY_V4); len(addrs) != 0 {
		t.Errorf("eth0 has IPv4 addresses %v, want none", addrs)
	}
	if out, err := f.run("DEL", f.cont, conf.bytes(t)); err != nil {
		t.Fatalf("DEL: %v\n%s", err, out)
	}
	if got := linkNames(t, f.cont); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("links after DEL = %v, want [lo]", got)
	}
}

func TestContainersOnOneParent(t *testing.T) {
	cases := []struct {
		mode    string
		reach   bool
		timeout time.Duration
	}{
		{"bridge", true, 3 * time.Second},
		{"private", false, 500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			f := newFixture(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77)
			conf["mode"] = tc.mode
			c1, c2 := f.cont, newNetns(t)
			ip1 := ipv4(t, f.add(c1, conf.bytes(t)))
			ip2 := ipv4(t, f.add(c2, conf.bytes(t)))
			if ip1.Equal(ip2) {
				t.Fatalf("both containers got %v", ip1)
			}
			addr := serveTCP(t, c2, ip2.String())
			err := dialTCP(t, c1, addr, tc.timeout)
			if tc.reach && err != nil {
				t.Errorf("%s → %s in %s mode: %v, want a connection", ip1, addr, tc.mode, err)
			}
			if !tc.reach && err == nil {
				t.Errorf("%s → %s in %s mode connected, want no path", ip1, addr, tc.mode)
			}
		})
	}
}

func TestTwoHosts(t *testing.T) {
	bin, cniPath := plugin(t)
	hostA, hostB := newHostPair(t)
	contA, contB := newNetns(t), newNetns(t)
	// One subnet; host-local is per host, so each host allocates from its
	// own range of it (corral-ipam makes this cluster-wide).
	add := func(host, cont, start, end string) net.IP {
		conf := newConf("1.1.0", adapterName, t.TempDir(), 77)
		conf.ipam()["rangeStart"], conf.ipam()["rangeEnd"] = start, end
		out, err := cni(t, host, bin, cniPath, call{command: "ADD", containerID: "id-" + cont, netns: nsPath(cont), ifName: "eth0"}, conf.bytes(t))
		if err != nil {
			t.Fatalf("ADD on %s: %v\n%s", host, err, out)
		}
		return ipv4(t, decodeResult(t, out))
	}
	ipA := add(hostA, contA, "10.77.0.10", "10.77.0.19")
	ipB := add(hostB, contB, "10.77.0.20", "10.77.0.29")

	addrB := serveTCP(t, contB, ipB.String())
	if err := dialTCP(t, contA, addrB, 3*time.Second); err != nil {
		t.Errorf("container on host A (%s) → container on host B (%s): %v", ipA, addrB, err)
	}
	addrA := serveTCP(t, contA, ipA.String())
	if err := dialTCP(t, contB, addrA, 3*time.Second); err != nil {
		t.Errorf("container on host B (%s) → container on host A (%s): %v", ipB, addrA, err)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		change   func(t *testing.T, f *fixture, conf netConf)
		wantCode uint // 0: success
	}{
		{name: "right after ADD"},
		{name: "interface removed", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "-n", f.cont, "link", "del", "eth0")
		}, wantCode: codeCheckFailed},
		{name: "address removed", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "-n", f.cont, "addr", "flush", "dev", "eth0")
		}, wantCode: codeCheckFailed},
		{name: "default route removed", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "-n", f.cont, "route", "del", "default")
		}, wantCode: codeCheckFailed},
		{name: "interface down", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "-n", f.cont, "link", "set", "eth0", "down")
		}, wantCode: codeCheckFailed},
		{name: "mode differs", change: func(t *testing.T, f *fixture, conf netConf) {
			conf["mode"] = "private"
		}, wantCode: codeCheckFailed},
		{name: "parent removed", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "-n", f.host, "link", "del", "p0")
		}, wantCode: codeCheckFailed},
		{name: "namespace gone", change: func(t *testing.T, f *fixture, _ netConf) {
			ipCmd(t, "netns", "del", f.cont)
		}, wantCode: 3},
		{name: "no prevResult", change: func(t *testing.T, f *fixture, conf netConf) {
			delete(conf, "prevResult")
		}, wantCode: 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			read, logEnv := ipamLog(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77)
			out, err := f.run("ADD", f.cont, conf.bytes(t), logEnv)
			if err != nil {
				t.Fatalf("ADD: %v\n%s", err, out)
			}
			var prev map[string]any
			if err := json.Unmarshal(out, &prev); err != nil {
				t.Fatal(err)
			}
			conf["prevResult"] = prev
			if tc.change != nil {
				tc.change(t, f, conf)
			}

			out, err = f.run("CHECK", f.cont, conf.bytes(t), logEnv)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("CHECK: %v\n%s", err, out)
				}
				if len(out) != 0 {
					t.Errorf("CHECK printed %s, want nothing", out)
				}
				if got := read(); !slices.Contains(got, "CHECK id-"+f.cont) {
					t.Errorf("IPAM received %q, want a CHECK", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("CHECK succeeded, want code %d", tc.wantCode)
			}
			if e := decodeError(t, out); e.Code != tc.wantCode || e.CNIVersion != "1.1.0" {
				t.Errorf("CHECK error = %+v, want code %d and cniVersion 1.1.0", e, tc.wantCode)
			}
		})
	}
}

func TestDel(t *testing.T) {
	cases := []struct {
		name   string
		added  bool                                    // ADD first
		before func(t *testing.T, f *fixture, c *call) // prepares, may change the DEL call
		check  func(t *testing.T, f *fixture)          // the container afterwards; default: only lo
	}{
		{name: "twice", added: true},
		{name: "never added"},
		{name: "namespace gone", added: true, before: func(t *testing.T, f *fixture, c *call) {
			ipCmd(t, "netns", "del", f.cont)
		}, check: func(*testing.T, *fixture) {}},
		{name: "namespace path no longer a namespace", added: true, before: func(t *testing.T, f *fixture, c *call) {
			c.netns = filepath.Join(t.TempDir(), "netns")
			if err := os.WriteFile(c.netns, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, check: func(*testing.T, *fixture) {}},
		{name: "without CNI_NETNS", added: true, before: func(t *testing.T, f *fixture, c *call) {
			c.netns = ""
		}, check: func(*testing.T, *fixture) {
			// The macvlan goes when the runtime removes the namespace.
		}},
		{name: "leaves an interface that is not a macvlan", before: func(t *testing.T, f *fixture, c *call) {
			ipCmd(t, "-n", f.cont, "link", "add", "eth0", "type", "veth", "peer", "name", "v1")
		}, check: func(t *testing.T, f *fixture) {
			if got := linkNames(t, f.cont); !slices.Equal(got, []string{"eth0", "lo", "v1"}) {
				t.Errorf("links after DEL = %v, want the veth pair kept", got)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77).bytes(t)
			if tc.added {
				f.add(f.cont, conf)
				if got := reserved(t, f.dataDir); len(got) != 1 {
					t.Fatalf("host-local holds %v after ADD, want one address", got)
				}
			}
			c := call{command: "DEL", containerID: "id-" + f.cont, netns: nsPath(f.cont), ifName: "eth0"}
			if tc.before != nil {
				tc.before(t, f, &c)
			}
			for i := range 2 {
				if out, err := cni(t, f.host, f.plugin, f.cniPath, c, conf); err != nil {
					t.Fatalf("DEL #%d: %v\n%s", i+1, err, out)
				}
			}
			if got := reserved(t, f.dataDir); len(got) != 0 {
				t.Errorf("host-local still holds %v after DEL", got)
			}
			if tc.check != nil {
				tc.check(t, f)
			} else if got := linkNames(t, f.cont); !slices.Equal(got, []string{"lo"}) {
				t.Errorf("links after DEL = %v, want [lo]", got)
			}
		})
	}
}

// TestDelReleasesAfterLinkGone checks the order DEL keeps although it runs
// IPAM DEL while the kernel is still deleting the macvlan: when IPAM DEL
// starts, the interface is already gone from the container's namespace.
func TestDelReleasesAfterLinkGone(t *testing.T) {
	f := newFixture(t)
	read, logEnv := ipamLog(t)
	conf := newConf("1.1.0", adapterName, f.dataDir, 77).bytes(t)
	linksEnv := "CORRAL_TEST_IPAM_LINKS=" + nsPath(f.cont)
	for i := range 5 {
		f.add(f.cont, conf, logEnv, linksEnv)
		if out, err := f.run("DEL", f.cont, conf, logEnv, linksEnv); err != nil {
			t.Fatalf("DEL #%d: %v\n%s", i+1, err, out)
		}
		if got := reserved(t, f.dataDir); len(got) != 0 {
			t.Fatalf("host-local still holds %v after DEL #%d", got, i+1)
		}
	}
	want := strings.Repeat("ADD id-"+f.cont+" links=eth0,lo\nDEL id-"+f.cont+" links=lo\n", 5)
	if got := strings.Join(read(), "\n") + "\n"; got != want {
		t.Errorf("IPAM log (command, container, links in the container when IPAM ran):\n%s\nwant:\n%s", got, want)
	}
}

func TestAddRollback(t *testing.T) {
	cases := []struct {
		name string
		// prepare changes the configuration and the container before the
		// failing ADD into f.cont; it returns the addresses host-local
		// must hold afterwards.
		prepare   func(t *testing.T, f *fixture, conf netConf) []string
		wantCode  uint     // 0: any
		wantLinks []string // in the container after the failed ADD
		wantIPAM  []string // commands IPAM receives for the container
	}{
		{
			name: "address range exhausted",
			prepare: func(t *testing.T, f *fixture, conf netConf) []string {
				conf.ipam()["rangeStart"], conf.ipam()["rangeEnd"] = "10.77.0.10", "10.77.0.10"
				f.add(newNetns(t), conf.bytes(t))
				return []string{"10.77.0.10"}
			},
			wantLinks: []string{"lo"},
			wantIPAM:  []string{"ADD", "DEL"},
		},
		{
			name: "route fails after IPAM assigned the address",
			prepare: func(t *testing.T, f *fixture, conf netConf) []string {
				conf.ipam()["routes"] = []map[string]any{{"dst": "10.200.0.0/16", "gw": "192.0.2.1"}}
				return nil
			},
			wantLinks: []string{"lo"},
			wantIPAM:  []string{"ADD", "DEL"},
		},
		{
			name: "IPAM plugin not in CNI_PATH",
			prepare: func(t *testing.T, f *fixture, conf netConf) []string {
				conf.ipam()["type"] = "no-such-ipam"
				return nil
			},
			wantCode:  7,
			wantLinks: []string{"lo"},
		},
		{
			name: "interface name taken",
			prepare: func(t *testing.T, f *fixture, conf netConf) []string {
				ipCmd(t, "-n", f.cont, "link", "add", "eth0", "type", "veth", "peer", "name", "v1")
				return nil
			},
			wantLinks: []string{"eth0", "lo", "v1"},
		},
		{
			name: "passthru parent already taken",
			prepare: func(t *testing.T, f *fixture, conf netConf) []string {
				conf["mode"] = "passthru"
				r := f.add(newNetns(t), conf.bytes(t))
				return []string{ipv4(t, r).String()}
			},
			wantLinks: []string{"lo"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			read, logEnv := ipamLog(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77)
			wantHeld := tc.prepare(t, f, conf)

			out, err := f.run("ADD", f.cont, conf.bytes(t), logEnv)
			if err == nil {
				t.Fatalf("ADD succeeded, want an error:\n%s", out)
			}
			e := decodeError(t, out)
			t.Logf("ADD failed: %s", out)
			if tc.wantCode != 0 && e.Code != tc.wantCode {
				t.Errorf("error code = %d (%s), want %d", e.Code, e.Msg, tc.wantCode)
			}
			if got := linkNames(t, f.cont); !slices.Equal(got, tc.wantLinks) {
				t.Errorf("links in the container after the failed ADD = %v, want %v", got, tc.wantLinks)
			}
			if got := reserved(t, f.dataDir); !slices.Equal(got, wantHeld) {
				t.Errorf("host-local holds %v after the failed ADD, want %v", got, wantHeld)
			}
			var got []string
			for _, line := range read() {
				if cmd, id, _ := strings.Cut(line, " "); id == "id-"+f.cont {
					got = append(got, cmd)
				}
			}
			if !slices.Equal(got, tc.wantIPAM) {
				t.Errorf("IPAM received %v for the container, want %v", got, tc.wantIPAM)
			}
		})
	}
}

func TestMalformedNetconf(t *testing.T) {
	cases := []struct {
		name     string
		set      netConf // merged into a valid configuration; nil values delete
		raw      string  // replaces the configuration
		args     string  // CNI_ARGS
		wantCode uint
		wantMsg  string
	}{
		{name: "not JSON", raw: `{"cniVersion":"1.1.0","name":`, wantCode: 6, wantMsg: "unexpected end of JSON input"},
		{name: "no name", set: netConf{"name": nil}, wantCode: 7, wantMsg: "missing network name"},
		{name: "no master", set: netConf{"master": nil}, wantCode: 7, wantMsg: `invalid master "", must be the name of the parent link (required)`},
		{name: "master not a link name", set: netConf{"master": "a/b"}, wantCode: 7, wantMsg: `invalid master "a/b", must be the name of the parent link (no '/', ':' or white space)`},
		{name: "master not found", set: netConf{"master": "nope0"}, wantCode: 7, wantMsg: `invalid master "nope0", must be an existing link in the plugin's network namespace`},
		{name: "unknown mode", set: netConf{"mode": "bridged"}, wantCode: 7, wantMsg: `invalid mode "bridged", must be one of "bridge", "private", "vepa", "passthru"`},
		{name: "MTU above the parent's", set: netConf{"mtu": 9001}, wantCode: 7, wantMsg: `invalid mtu 9001, must be in [0, 1500], the MTU of master "p0"`},
		{name: "negative MTU", set: netConf{"mtu": -1}, wantCode: 7, wantMsg: `invalid mtu -1, must be in [0, the parent's MTU]`},
		{name: "MTU a string", set: netConf{"mtu": "1500"}, wantCode: 7, wantMsg: `invalid mtu (a JSON string), must be an integer`},
		{name: "MAC not a MAC", set: netConf{"mac": "zz"}, wantCode: 7, wantMsg: `invalid mac "zz", must be a unicast 48-bit Ethernet address`},
		{name: "multicast MAC", set: netConf{"mac": "01:00:5e:00:00:01"}, wantCode: 7, wantMsg: `invalid mac "01:00:5e:00:00:01"`},
		{name: "IPAM type a path", set: netConf{"ipam": map[string]any{"type": "../host-local"}}, wantCode: 7, wantMsg: `invalid ipam.type "../host-local", must be the file name of an IPAM plugin in CNI_PATH`},
		{name: "IPAM type not in CNI_PATH", set: netConf{"ipam": map[string]any{"type": "no-such-ipam"}}, wantCode: 7, wantMsg: `invalid ipam.type "no-such-ipam", must be a plugin in CNI_PATH`},
		{name: "MAC in CNI_ARGS invalid", args: "MAC=zz", wantCode: 4, wantMsg: `invalid CNI_ARGS MAC "zz"`},
		{name: "unsupported cniVersion", set: netConf{"cniVersion": "9.9.9"}, wantCode: 1, wantMsg: "incompatible CNI versions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			read, logEnv := ipamLog(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77)
			for k, v := range tc.set {
				if v == nil {
					delete(conf, k)
				} else {
					conf[k] = v
				}
			}
			stdin := conf.bytes(t)
			if tc.raw != "" {
				stdin = []byte(tc.raw)
			}
			out, err := cni(t, f.host, f.plugin, f.cniPath, call{command: "ADD", containerID: "id-" + f.cont, netns: nsPath(f.cont), ifName: "eth0", args: tc.args, env: []string{logEnv}}, stdin)
			if err == nil {
				t.Fatalf("ADD succeeded, want code %d:\n%s", tc.wantCode, out)
			}
			e := decodeError(t, out)
			if e.Code != tc.wantCode || !strings.Contains(e.Msg, tc.wantMsg) {
				t.Errorf("error = %d %q, want %d %q", e.Code, e.Msg, tc.wantCode, tc.wantMsg)
			}
			if v, _ := conf["cniVersion"].(string); tc.raw == "" && e.CNIVersion != v {
				t.Errorf("error cniVersion = %q, want %q", e.CNIVersion, v)
			}
			if got := linkNames(t, f.cont); !slices.Equal(got, []string{"lo"}) {
				t.Errorf("links in the container = %v, want [lo]", got)
			}
			if got := linkNames(t, f.host); !slices.Equal(got, []string{"lo", "p0", "p1"}) {
				t.Errorf("links in the host = %v, want [lo p0 p1]", got)
			}
			if got := read(); got != nil {
				t.Errorf("IPAM was called: %v", got)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	bin, _ := plugin(t)
	cases := []struct {
		stdin, want string
	}{
		{`{"cniVersion":"1.0.0"}`, "1.0.0"},
		{`{"cniVersion":"1.1.0"}`, "1.1.0"},
		{``, "1.1.0"},
	}
	for _, tc := range cases {
		cmd := exec.Command(bin)
		cmd.Env = []string{"CNI_COMMAND=VERSION"}
		cmd.Stdin = strings.NewReader(tc.stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("VERSION with %q: %v", tc.stdin, err)
		}
		var v struct {
			CNIVersion        string   `json:"cniVersion"`
			SupportedVersions []string `json:"supportedVersions"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("VERSION output %s: %v", out, err)
		}
		if v.CNIVersion != tc.want {
			t.Errorf("VERSION with %q: cniVersion = %q, want %q", tc.stdin, v.CNIVersion, tc.want)
		}
		for _, s := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
			if !slices.Contains(v.SupportedVersions, s) {
				t.Errorf("supportedVersions = %v, want %s among them", v.SupportedVersions, s)
			}
		}
	}
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name     string
		set      netConf
		wantCode uint // 0: success
	}{
		{name: "ready"},
		{name: "parent missing", set: netConf{"master": "nope0"}, wantCode: codeNotAvailable},
		{name: "IPAM plugin missing", set: netConf{"ipam": map[string]any{"type": "no-such-ipam"}}, wantCode: codeNotAvailable},
		{name: "MTU above the parent's", set: netConf{"mtu": 9001}, wantCode: 7},
		{name: "cniVersion 1.0.0 has no STATUS", set: netConf{"cniVersion": "1.0.0"}, wantCode: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			read, logEnv := ipamLog(t)
			conf := newConf("1.1.0", adapterName, f.dataDir, 77)
			for k, v := range tc.set {
				conf[k] = v
			}
			out, err := cni(t, f.host, f.plugin, f.cniPath, call{command: "STATUS", env: []string{logEnv}}, conf.bytes(t))
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("STATUS: %v\n%s", err, out)
				}
				if got := read(); !slices.Equal(got, []string{"STATUS"}) {
					t.Errorf("IPAM received %q, want STATUS", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("STATUS succeeded, want code %d", tc.wantCode)
			}
			if e := decodeError(t, out); e.Code != tc.wantCode {
				t.Errorf("STATUS error = %d %q, want code %d", e.Code, e.Msg, tc.wantCode)
			}
		})
	}
}

func TestGC(t *testing.T) {
	cases := []struct {
		name     string
		version  string
		wantCode uint
	}{
		{name: "forwarded to IPAM", version: "1.1.0"},
		{name: "cniVersion 1.0.0 has no GC", version: "1.0.0", wantCode: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			read, logEnv := ipamLog(t)
			conf := newConf(tc.version, adapterName, f.dataDir, 77)
			conf["cni.dev/valid-attachments"] = []map[string]string{{"containerID": "id-kept", "ifname": "eth0"}}
			out, err := cni(t, f.host, f.plugin, f.cniPath, call{command: "GC", env: []string{logEnv}}, conf.bytes(t))
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("GC: %v\n%s", err, out)
				}
				if got := read(); !slices.Equal(got, []string{"GC"}) {
					t.Errorf("IPAM received %q, want GC", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("GC succeeded, want code %d", tc.wantCode)
			}
			if e := decodeError(t, out); e.Code != tc.wantCode {
				t.Errorf("GC error = %d %q, want code %d", e.Code, e.Msg, tc.wantCode)
			}
		})
	}
}
