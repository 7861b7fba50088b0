package records

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Config says how Generate names and addresses records. Its defaults are
// Mesos-DNS's.
type Config struct {
	// Domain is the zone records live in ("mesos").
	Domain string
	// TTL is the time to live of every record, in seconds.
	TTL uint32
	// IPSources lists where a task's address comes from, first match first:
	// "netinfo" (the network infos of its latest TASK_RUNNING status),
	// "mesos" and "docker" (the task labels
	// MesosContainerizer.NetworkSettings.IPAddress and
	// Docker.NetworkSettings.IPAddress) and "host" (its agent's address).
	IPSources []string
	// HealthyOnly leaves out tasks whose latest status says healthy: false.
	// Tasks without health checks always get records.
	HealthyOnly bool
	// EnforceRFC952 mangles task and framework names by RFC 952 (24
	// characters, no leading digit) rather than RFC 1123.
	EnforceRFC952 bool
	// SRVWeight is the weight of every SRV record (Mesos-DNS's
	// srvRecordDefaultWeight); their priority is 0.
	SRVWeight uint16
	// SOAMname is the primary name server of the zone; NSAddrs are its
	// addresses, served as its A and AAAA records (Mesos-DNS's listener).
	SOAMname string
	NSAddrs  []netip.Addr
	// SOARname is the zone's mailbox, '@' written as '.'.
	SOARname string
	// SOARefresh, SOARetry, SOAExpire and SOAMinttl are the SOA timers.
	SOARefresh, SOARetry, SOAExpire, SOAMinttl uint32
	// Masters are the known masters as "IP:port" (or "host:port", resolved
	// with LookupHost), in the order that numbers master0, master1, … ; the
	// leader comes from the state.
	Masters []string
	// LookupHost, if set, resolves agent, framework and master host names
	// that are not IP literals; without it such hosts get no address.
	LookupHost func(host string) []netip.Addr `json:"-"`
}

// DefaultConfig returns Mesos-DNS's defaults.
func DefaultConfig() Config {
	return Config{
		Domain:      "mesos",
		TTL:         60,
		IPSources:   []string{"netinfo", "mesos", "host"},
		HealthyOnly: true,
		SRVWeight:   1,
		SOAMname:    "ns1.mesos",
		SOARname:    "root.ns1.mesos",
		SOARefresh:  60,
		SOARetry:    600,
		SOAExpire:   86400,
		SOAMinttl:   60,
	}
}

// Validate checks c without changing it.
func (c Config) Validate() error {
	if err := checkDomain(c.Domain); err != nil {
		return fmt.Errorf("invalid domain %q, %w", c.Domain, err)
	}
	if c.TTL > 1<<31-1 {
		return fmt.Errorf("invalid TTL %d, must be in [0, %d]", c.TTL, 1<<31-1)
	}
	if len(c.IPSources) == 0 {
		return fmt.Errorf("invalid IP sources [], must list at least one of netinfo, mesos, docker, host")
	}
	for _, s := range c.IPSources {
		switch s {
		case "netinfo", "mesos", "docker", "host":
		default:
			return fmt.Errorf("invalid IP source %q, must be one of netinfo, mesos, docker, host", s)
		}
	}
	if err := checkDomain(c.SOAMname); err != nil {
		return fmt.Errorf("invalid SOA mname %q, %w", c.SOAMname, err)
	}
	if err := checkDomain(strings.ReplaceAll(c.SOARname, "@", ".")); err != nil {
		return fmt.Errorf("invalid SOA rname %q, %w", c.SOARname, err)
	}
	for _, a := range c.NSAddrs {
		if !a.IsValid() {
			return fmt.Errorf("invalid name server address %v, must be an IP address", a)
		}
	}
	for _, m := range c.Masters {
		if host, _, err := net.SplitHostPort(m); err != nil || host == "" {
			return fmt.Errorf("invalid master %q, must be IP:port or host:port", m)
		}
	}
	return nil
}

// checkDomain accepts names of letters, digits and inner dashes, with or
// without the trailing dot.
func checkDomain(d string) error {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(d) > 253 {
		return fmt.Errorf("must be at most 253 characters")
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("labels must have 1 to 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("labels must not start or end with '-'")
		}
		for i := 0; i < len(l); i++ {
			c := l[i] | 0x20
			if (c < 'a' || c > 'z') && (l[i] < '0' || l[i] > '9') && l[i] != '-' {
				return fmt.Errorf("labels must hold only letters, digits and '-'")
			}
		}
	}
	return nil
}

// splitIPPort splits "IP:port" or "[IPv6]:port".
func splitIPPort(s string) (netip.Addr, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, "", err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, "", err
	}
	return a.Unmap(), port, nil
}

// fqdn lowers name and gives it one trailing dot.
func fqdn(name string) string {
	return strings.ToLower(strings.TrimRight(name, ".")) + "."
}
