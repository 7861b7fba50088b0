package network

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"corral/mesos"
)

func taskInfo(ports string, nets ...mesos.NetworkInfo) mesos.TaskInfo {
	info := mesos.TaskInfo{TaskID: "t", Resources: mesos.MustParseResources("cpus:1;ports:" + ports)}
	if nets != nil {
		info.Container = &mesos.ContainerInfo{Type: "MESOS", NetworkInfos: nets}
	}
	return info
}

func describe(p plan) string {
	var parts []string
	if p.bridge != nil {
		parts = append(parts, fmt.Sprintf("bridge%v", p.bridge.ports))
	}
	for _, c := range p.cni {
		parts = append(parts, fmt.Sprintf("cni %s %s%v", c.network, c.ifName, c.ports))
	}
	if len(parts) == 0 {
		return "host"
	}
	return strings.Join(parts, "; ")
}

func TestMakePlan(t *testing.T) {
	pm := func(h, c uint32, proto string) mesos.PortMapping {
		return mesos.PortMapping{HostPort: h, ContainerPort: c, Protocol: proto}
	}
	cases := []struct {
		name    string
		info    mesos.TaskInfo
		want    string
		wantErr string
	}{
		{"no container", taskInfo("[31000-31001]"), "host", ""},
		{"no networks", taskInfo("[31000-31001]", []mesos.NetworkInfo{}...), "host", ""},
		{"unnamed network", taskInfo("[31000-31001]", mesos.NetworkInfo{}), "host", ""},
		{"bridge", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(31000, 80, ""), pm(31001, 53, "udp,tcp")}}),
			"bridge[{31000 80 tcp} {31001 53 udp} {31001 53 tcp}]", ""},
		{"bridge without ports", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge"}), "bridge[]", ""},
		{"cni networks", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "net1"}, mesos.NetworkInfo{Name: "net2", PortMappings: []mesos.PortMapping{pm(31001, 8080, "TCP")}}),
			"cni net1 eth0[]; cni net2 eth1[{31001 8080 tcp}]", ""},
		{"bridge and cni", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge"}, mesos.NetworkInfo{Name: "net1"}),
			"", "cannot be combined"},
		{"twice", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "net1"}, mesos.NetworkInfo{Name: "net1"}), "", "joined twice"},
		{"unnamed among named", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "net1"}, mesos.NetworkInfo{}), "", "network_infos[1] has no name"},
		{"ports on the host network", taskInfo("[31000-31001]", mesos.NetworkInfo{PortMappings: []mesos.PortMapping{pm(31000, 80, "")}}), "", "no name"},
		{"host port not owned", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(22, 80, "")}}),
			"", "host_port 22 is not among the task's port resources [31000-31001]"},
		{"port zero", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(31000, 0, "")}}), "", "must be in [1, 65535]"},
		{"bad protocol", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(31000, 80, "sctp")}}), "", `invalid protocol "sctp"`},
		{"host port twice", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(31000, 80, ""), pm(31000, 81, "tcp")}}),
			"", "mapped twice"},
		{"same port, two protocols", taskInfo("[31000-31001]", mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{pm(31000, 80, "tcp"), pm(31000, 80, "udp")}}),
			"bridge[{31000 80 tcp} {31000 80 udp}]", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := makePlan(DefaultBridgeNetwork, tc.info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("makePlan = %s, %v; want an ErrInvalid containing %q", describe(p), err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("makePlan: %v", err)
			}
			if got := describe(p); got != tc.want {
				t.Errorf("makePlan = %s, want %s", got, tc.want)
			}
			if got := Wants(tc.info); got != (tc.want != "host") {
				t.Errorf("Wants = %v, want %v", got, tc.want != "host")
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	cases := []struct {
		in   string
		want PortRange
		ok   bool
	}{
		{"10000-20000", PortRange{10000, 20000}, true},
		{"8080", PortRange{8080, 8080}, true},
		{"20000-10000", PortRange{}, false},
		{"0-10", PortRange{}, false},
		{"1-70000", PortRange{}, false},
		{"a-b", PortRange{}, false},
	}
	for _, tc := range cases {
		got, err := ParsePortRange(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig("/var/lib/corral/agent")
	if err := ok.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	cases := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"relative dir", func(c *Config) { c.Dir = "network" }, `invalid network state dir "network"`},
		{"long bridge name", func(c *Config) { c.BridgeName = "a-very-long-bridge" }, `invalid --bridge-name "a-very-long-bridge"`},
		{"host bits", func(c *Config) { c.BridgeSubnet = netip.MustParsePrefix("10.0.0.1/24") }, "must have no host bits set (10.0.0.0/24)"},
		{"tiny subnet", func(c *Config) { c.BridgeSubnet = netip.MustParsePrefix("10.0.0.0/31") }, "prefix length must be in [8, 30]"},
		{"IPv6 subnet", func(c *Config) { c.BridgeSubnet = netip.MustParsePrefix("fd00::/64") }, "must be an IPv4 prefix"},
		{"empty bridge network", func(c *Config) { c.BridgeNetwork = "" }, "--bridge-network-name"},
		{"no plugin dirs", func(c *Config) { c.CNIPluginDirs = nil }, "--network-cni-plugins-dir"},
		{"service ports", func(c *Config) { c.ServicePorts = PortRange{2, 1} }, "invalid --service-ports 2-1"},
	}
	for _, tc := range cases {
		c := DefaultConfig(filepath.Join("/", "w"))
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
}
