package etcdipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"
)

// Defaults of the ipam section.
const (
	DefaultBlockSize4 = 26 // 64 addresses per IPv4 block
	DefaultBlockSize6 = 122
	DefaultDataPrefix = "/corral/ipam/"
	DefaultDataDir    = "/var/lib/cni/corral-ipam"
	DefaultTimeout    = 10 * time.Second
)

// RangeConfig is one range as the netconf writes it, in host-local's terms.
// Subnet is required; the rest default to the subnet's first and last
// addresses (IPv4 broadcast excluded), its first address as gateway, and the
// Config's BlockSize.
type RangeConfig struct {
	Subnet     string `json:"subnet,omitempty"`
	RangeStart string `json:"rangeStart,omitempty"`
	RangeEnd   string `json:"rangeEnd,omitempty"`
	Gateway    string `json:"gateway,omitempty"`
	BlockSize  int    `json:"blockSize,omitempty"`
}

// Config is the "ipam" section of a network configuration. A single range
// is written inline (subnet, rangeStart, rangeEnd, gateway); several, or one
// address per family, as host-local's "ranges": a list of range sets, each
// giving the attachment one address from the first of its ranges with room.
// An inline or top-level blockSize is the default for every range; 0 picks
// DefaultBlockSize4 or DefaultBlockSize6 by family.
type Config struct {
	Type          string   `json:"type,omitempty"`
	EtcdEndpoints []string `json:"etcdEndpoints"`
	EtcdCAFile    string   `json:"etcdCAFile,omitempty"`
	EtcdCertFile  string   `json:"etcdCertFile,omitempty"`
	EtcdKeyFile   string   `json:"etcdKeyFile,omitempty"`
	RangeConfig
	Ranges [][]RangeConfig `json:"ranges,omitempty"`
	Routes []*types.Route  `json:"routes,omitempty"`
	// Host names this machine's claims and attachments; default os.Hostname.
	// Every host of a network needs its own.
	Host string `json:"host,omitempty"`
	// DataPrefix is the etcd key prefix under which each network has its
	// keys (<DataPrefix><network name>/...).
	DataPrefix string `json:"dataPrefix,omitempty"`
	// Timeout bounds one command, a Go duration ("10s").
	Timeout string `json:"timeout,omitempty"`
	// DataDir is where this machine keeps the allocations of its blocks
	// (<DataDir>/<network name>/<Host>/), an absolute path.
	DataDir string `json:"dataDir,omitempty"`
}

// Validate checks the configuration without touching the network or the
// disk. Host, DataPrefix, Timeout and DataDir must have been defaulted.
func (c *Config) Validate() error {
	if len(c.EtcdEndpoints) == 0 {
		return errors.New("ipam.etcdEndpoints is empty, must list at least one etcd client URL")
	}
	for i, ep := range c.EtcdEndpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid ipam.etcdEndpoints[%d] %q, must be an http:// or https:// URL", i, ep)
		}
	}
	if (c.EtcdCertFile == "") != (c.EtcdKeyFile == "") {
		return fmt.Errorf("ipam.etcdCertFile %q and ipam.etcdKeyFile %q must be set together", c.EtcdCertFile, c.EtcdKeyFile)
	}
	if _, err := c.RangeSets(); err != nil {
		return err
	}
	if c.Host == "" || c.Host == "." || c.Host == ".." || strings.ContainsAny(c.Host, "/ \t\n") {
		return fmt.Errorf("invalid ipam.host %q, must be a non-empty name without slashes or spaces", c.Host)
	}
	if c.DataPrefix == "" {
		return errors.New("ipam.dataPrefix is empty, must be an etcd key prefix such as " + DefaultDataPrefix)
	}
	if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
		return fmt.Errorf("invalid ipam.timeout %q, must be a positive Go duration such as 10s", c.Timeout)
	}
	if !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("invalid ipam.dataDir %q, must be an absolute path such as %s", c.DataDir, DefaultDataDir)
	}
	return nil
}

// RangeSets resolves the inline range or "ranges" into validated range sets.
func (c *Config) RangeSets() ([][]Range, error) {
	raw, inline := c.Ranges, false
	switch {
	case c.Subnet != "" && len(c.Ranges) > 0:
		return nil, fmt.Errorf("ipam.subnet %q and ipam.ranges are both set, must set one", c.Subnet)
	case c.Subnet != "":
		raw, inline = [][]RangeConfig{{c.RangeConfig}}, true
	case c.RangeStart != "" || c.RangeEnd != "" || c.Gateway != "":
		return nil, errors.New("ipam.rangeStart, ipam.rangeEnd and ipam.gateway need ipam.subnet")
	case len(c.Ranges) == 0:
		return nil, errors.New("ipam.subnet and ipam.ranges are both empty, must set one")
	}
	field := func(i, j int) string {
		if inline {
			return "ipam."
		}
		return fmt.Sprintf("ipam.ranges[%d][%d].", i, j)
	}
	type setRange struct {
		Range
		set int
	}
	var sets [][]Range
	var all []setRange
	for i, rs := range raw {
		if len(rs) == 0 {
			return nil, fmt.Errorf("ipam.ranges[%d] is empty, must hold at least one range", i)
		}
		var set []Range
		for j, rc := range rs {
			r, err := parseRange(rc, field(i, j), c.BlockSize)
			if err != nil {
				return nil, err
			}
			if len(set) > 0 && r.Start.BitLen() != set[0].Start.BitLen() {
				return nil, fmt.Errorf("ipam.ranges[%d] mixes IPv4 and IPv6 ranges, must hold one family", i)
			}
			for _, o := range all {
				if r.Overlaps(o.Range) {
					return nil, fmt.Errorf("invalid %s range %s, overlaps range %s of set %d, ranges must not overlap", strings.TrimSuffix(field(i, j), "."), r, o.Range, o.set)
				}
			}
			set = append(set, r)
			all = append(all, setRange{r, i})
		}
		sets = append(sets, set)
	}
	return sets, nil
}

func parseRange(rc RangeConfig, field string, blockSize int) (Range, error) {
	var r Range
	p, err := netip.ParsePrefix(rc.Subnet)
	if err != nil || p.Addr().Zone() != "" {
		return r, fmt.Errorf("invalid %ssubnet %q, must be a CIDR such as 10.20.0.0/16", field, rc.Subnet)
	}
	if p.Addr().Is4In6() {
		return r, fmt.Errorf("invalid %ssubnet %q, must be IPv4 or IPv6, not IPv4-mapped IPv6", field, rc.Subnet)
	}
	if p != p.Masked() {
		return r, fmt.Errorf("invalid %ssubnet %q, host bits are set, must be the network address %s", field, rc.Subnet, p.Masked())
	}
	bits := p.Addr().BitLen()
	if p.Bits() > bits-2 {
		return r, fmt.Errorf("invalid %ssubnet %q, must leave at least 2 host bits to allocate from", field, rc.Subnet)
	}
	r.Subnet = p
	r.Start, r.End = p.Addr().Next(), lastAddr(p)
	if p.Addr().Is4() {
		r.End = r.End.Prev()
	}
	r.Gateway = p.Addr().Next()
	for _, a := range []struct {
		name string
		in   string
		out  *netip.Addr
	}{{"rangeStart", rc.RangeStart, &r.Start}, {"rangeEnd", rc.RangeEnd, &r.End}, {"gateway", rc.Gateway, &r.Gateway}} {
		if a.in == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.in)
		if err != nil || ip.Zone() != "" {
			return r, fmt.Errorf("invalid %s%s %q, must be an IP address", field, a.name, a.in)
		}
		ip = ip.Unmap()
		if !p.Contains(ip) {
			return r, fmt.Errorf("invalid %s%s %q, must be inside subnet %s", field, a.name, a.in, p)
		}
		*a.out = ip
	}
	if r.Start.Compare(r.End) > 0 {
		return r, fmt.Errorf("invalid %srangeEnd %s, must not be before rangeStart %s", field, r.End, r.Start)
	}
	bs, bsField := rc.BlockSize, field+"blockSize"
	if bs == 0 {
		bs, bsField = blockSize, "ipam.blockSize"
	}
	if bs == 0 {
		bs = DefaultBlockSize4
		if bits == 128 {
			bs = DefaultBlockSize6
		}
	}
	if bs < p.Bits() || bs > bits-2 {
		return r, fmt.Errorf("invalid %s %d, must be in [%d, %d] for subnet %s", bsField, bs, p.Bits(), bits-2, p)
	}
	r.BlockSize = bs
	return r, nil
}

// netConf is the network configuration a command receives on stdin.
type netConf struct {
	types.PluginConf
	IPAM *Config `json:"ipam"`
}

// network is a loaded, defaulted and validated netConf.
type network struct {
	netConf
	sets    [][]Range
	timeout time.Duration
	prefix  string // <dataPrefix><name>/
	dir     string // <dataDir>/<name>/<host>
}

// loadNetwork parses and validates a netconf. Its errors are CNI errors:
// ErrDecodingFailure for malformed JSON, ErrInvalidNetworkConfig otherwise.
func loadNetwork(data []byte) (*network, error) {
	var n network
	if err := json.Unmarshal(data, &n.netConf); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, types.NewError(types.ErrDecodingFailure, "cannot decode network config", err.Error())
		}
		return nil, invalidConfig(err)
	}
	if n.Name == "" {
		return nil, invalidConfig(errors.New("name is empty, must name the network"))
	}
	if err := utils.ValidateNetworkName(n.Name); err != nil {
		return nil, err
	}
	if n.IPAM == nil {
		return nil, invalidConfig(errors.New("ipam section is missing"))
	}
	c := n.IPAM
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, invalidConfig(fmt.Errorf("ipam.host is empty and the hostname is unknown: %w", err))
		}
		c.Host = h
	}
	if c.DataPrefix == "" {
		c.DataPrefix = DefaultDataPrefix
	}
	if c.Timeout == "" {
		c.Timeout = DefaultTimeout.String()
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if err := c.Validate(); err != nil {
		return nil, invalidConfig(err)
	}
	n.sets, _ = c.RangeSets()
	n.timeout, _ = time.ParseDuration(c.Timeout)
	n.prefix = strings.TrimSuffix(c.DataPrefix, "/") + "/" + n.Name + "/"
	n.dir = filepath.Join(c.DataDir, n.Name, c.Host)
	if old, _ := version.GreaterThanOrEqualTo(n.version(), "0.3.0"); !old {
		fams := map[int]int{}
		for _, set := range n.sets {
			if fams[set[0].Start.BitLen()]++; fams[set[0].Start.BitLen()] > 1 {
				return nil, invalidConfig(fmt.Errorf("cniVersion %q allows one address per family, ipam asks for more", n.CNIVersion))
			}
		}
	}
	return &n, nil
}

// version is the netconf's cniVersion, "0.1.0" when missing, as skel reads it.
func (n *network) version() string {
	if n.CNIVersion == "" {
		return "0.1.0"
	}
	return n.CNIVersion
}

func invalidConfig(err error) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, "invalid network config", err.Error())
}
