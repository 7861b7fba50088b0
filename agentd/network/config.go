package network

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the agent's network setup; agentd's --bridge-*, --network-*,
// --dns-resolver and --service-ports flags set it.
type Config struct {
	// Dir holds the network state that must outlive agentd: the tasks'
	// pinned namespaces, their records, the bridge's address allocations and
	// libcni's cache (<work dir>/network).
	Dir string
	// HostNetNS is the path of the network namespace that is the host side
	// of every task (bridge, veths, nftables, the macvlan shim, where CNI
	// plugins run). Empty: agentd's own, the normal case.
	HostNetNS string

	// BridgeNetwork is the network name that means container/bridge
	// (Marathon sends mesos-bridge); any other name is a CNI network.
	BridgeNetwork string
	BridgeName    string       // the per-agent Linux bridge
	BridgeSubnet  netip.Prefix // its subnet: the gateway on the bridge takes the first address

	CNIConfDir    string   // conflists, one per network, found by their "name"
	CNIPluginDirs []string // CNI_PATH

	// NodeIP is the agent's own address (--advertise-ip): where containers
	// on CNI networks reach the node's router and resolver.
	NodeIP netip.Addr
	// DNSResolver is the nameserver of containers with their own network
	// namespace; invalid (the zero Addr) means NodeIP.
	DNSResolver netip.Addr
	// ServicePorts is the range of service ports that localhost inside a
	// container forwards to the node's router.
	ServicePorts PortRange
	// TeardownTimeout bounds the release of one task's network: a CNI
	// plugin still running then is killed (with whatever it started) and
	// the teardown fails, to be retried by Collect, instead of hanging
	// the task for ever.
	TeardownTimeout time.Duration
}

// PortRange is an inclusive range of TCP ports.
type PortRange struct{ First, Last uint16 }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// ParsePortRange parses "10000-20000" (or a single port).
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	first, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	last, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || first == 0 || first > last {
		return PortRange{}, fmt.Errorf("invalid port range %q, must be FIRST-LAST with 1 <= FIRST <= LAST <= 65535", s)
	}
	return PortRange{uint16(first), uint16(last)}, nil
}

// Defaults.
const (
	DefaultBridgeNetwork = "mesos-bridge" // Marathon's name for container/bridge
	DefaultBridgeName    = "corral0"
	DefaultCNIConfDir    = "/etc/corral/cni/net.d"
)

// DefaultBridgeSubnet is DC/OS's mesos-bridge subnet: NATed, so every agent
// can use the same one.
var DefaultBridgeSubnet = netip.MustParsePrefix("172.31.254.0/24")

// DefaultCNIPluginDirs are where Corral's and Debian's plugins are installed,
// then the CNI project's customary directory.
var DefaultCNIPluginDirs = []string{"/usr/lib/corral/cni", "/usr/lib/cni", "/opt/cni/bin"}

// DefaultServicePorts is Marathon's default service port range.
var DefaultServicePorts = PortRange{10000, 20000}

// DefaultConfig returns the defaults for an agent working in workDir.
func DefaultConfig(workDir string) Config {
	return Config{
		Dir:           filepath.Join(workDir, "network"),
		BridgeNetwork: DefaultBridgeNetwork,
		BridgeName:    DefaultBridgeName,
		BridgeSubnet:  DefaultBridgeSubnet,
		CNIConfDir:    DefaultCNIConfDir,
		CNIPluginDirs: DefaultCNIPluginDirs,
		ServicePorts:  DefaultServicePorts,

		TeardownTimeout: DefaultTeardownTimeout,
	}
}

// DefaultTeardownTimeout is how long a task's network may take to release:
// plugins take milliseconds, a slow IPAM store seconds.
const DefaultTeardownTimeout = time.Minute

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Dir == "" || !filepath.IsAbs(c.Dir):
		return fmt.Errorf("invalid network state dir %q, must be an absolute path", c.Dir)
	case c.HostNetNS != "" && !filepath.IsAbs(c.HostNetNS):
		return fmt.Errorf("invalid host network namespace %q, must be an absolute path", c.HostNetNS)
	case c.BridgeNetwork == "":
		return errors.New("invalid --bridge-network-name \"\", must not be empty")
	case !validLinkName(c.BridgeName):
		return fmt.Errorf("invalid --bridge-name %q, must be a link name of 1-15 bytes without '/', ':' or white space", c.BridgeName)
	case !c.BridgeSubnet.IsValid() || !c.BridgeSubnet.Addr().Is4():
		return fmt.Errorf("invalid --bridge-subnet %v, must be an IPv4 prefix", c.BridgeSubnet)
	case c.BridgeSubnet.Masked() != c.BridgeSubnet:
		return fmt.Errorf("invalid --bridge-subnet %v, must have no host bits set (%v)", c.BridgeSubnet, c.BridgeSubnet.Masked())
	case c.BridgeSubnet.Bits() > 30 || c.BridgeSubnet.Bits() < 8:
		return fmt.Errorf("invalid --bridge-subnet %v, prefix length must be in [8, 30]", c.BridgeSubnet)
	case c.CNIConfDir == "":
		return errors.New("invalid --network-cni-config-dir \"\", must not be empty")
	case len(c.CNIPluginDirs) == 0:
		return errors.New("invalid --network-cni-plugins-dir \"\", must name at least one directory")
	case c.NodeIP.IsValid() && !c.NodeIP.Is4():
		return fmt.Errorf("invalid node IP %v, must be an IPv4 address", c.NodeIP)
	case c.ServicePorts.First == 0 || c.ServicePorts.First > c.ServicePorts.Last:
		return fmt.Errorf("invalid --service-ports %v, must be FIRST-LAST with 1 <= FIRST <= LAST", c.ServicePorts)
	case c.TeardownTimeout <= 0:
		return fmt.Errorf("invalid network teardown timeout %v, must be > 0", c.TeardownTimeout)
	}
	return nil
}

// resolver is the containers' nameserver.
func (c Config) resolver() netip.Addr {
	if c.DNSResolver.IsValid() {
		return c.DNSResolver
	}
	return c.NodeIP
}

// gateway is the bridge's own address, the first of its subnet.
func (c Config) gateway() netip.Addr { return c.BridgeSubnet.Addr().Next() }

// validLinkName is the kernel's dev_valid_name.
func validLinkName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\v\f")
}
