package resolver

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"corral/dns/records"
)

// Config configures a Resolver.
type Config struct {
	// Listen is the DNS address, served over UDP and TCP on the same port
	// (":53"); empty turns DNS off.
	Listen string
	// HTTPListen is the address of Mesos-DNS's HTTP API (":8123"); empty
	// turns it off.
	HTTPListen string
	// Records is the zone the resolver serves: Domain, TTL and SOA, and how
	// the record sets passed to Update were generated (shown by /v1/config).
	Records records.Config
	// Resolvers are upstream servers ("IP" or "IP:port") that names outside
	// the domain are forwarded to, in order. Without any the resolver answers
	// REFUSED for them: it is never an open resolver by default.
	Resolvers []string
	// ForwardTimeout bounds one exchange with an upstream server.
	ForwardTimeout time.Duration
	// MaxForwards bounds the forwarded UDP queries in flight; more are
	// dropped, as an overloaded server would.
	MaxForwards int
	// UDPSockets is the number of UDP sockets bound to the port with
	// SO_REUSEPORT, each with its own reader; 0 means one per CPU.
	UDPSockets int
	// MaxTCPConns bounds open TCP connections; TCPIdleTimeout closes idle
	// ones.
	MaxTCPConns    int
	TCPIdleTimeout time.Duration
	// EDNSSize is the UDP payload size the resolver advertises in EDNS0
	// answers.
	EDNSSize uint16
	// Enumerate serves /v1/enumerate (Mesos-DNS's EnumerationOn).
	Enumerate bool
	// Version is what /v1/version reports.
	Version string
	// RefreshSeconds is how often the record source refreshes, shown by
	// /v1/config.
	RefreshSeconds int
}

// DefaultConfig returns the defaults: Mesos-DNS's ports and zone, no
// forwarding.
func DefaultConfig() Config {
	return Config{
		Listen:         ":53",
		HTTPListen:     ":8123",
		Records:        records.DefaultConfig(),
		ForwardTimeout: 5 * time.Second,
		MaxForwards:    1024,
		MaxTCPConns:    1024,
		TCPIdleTimeout: 10 * time.Second,
		EDNSSize:       1232,
		Enumerate:      true,
		Version:        "corral",
		RefreshSeconds: 60,
	}
}

// Validate checks c without changing it.
func (c Config) Validate() error {
	if c.Listen == "" && c.HTTPListen == "" {
		return fmt.Errorf("invalid listen and HTTP listen addresses, both empty, at least one must be set")
	}
	if err := checkAddr(c.Listen); err != nil {
		return fmt.Errorf("invalid listen address %q, %w", c.Listen, err)
	}
	if err := checkAddr(c.HTTPListen); err != nil {
		return fmt.Errorf("invalid HTTP listen address %q, %w", c.HTTPListen, err)
	}
	if err := c.Records.Validate(); err != nil {
		return err
	}
	for _, r := range c.Resolvers {
		if _, err := upstream(r); err != nil {
			return fmt.Errorf("invalid resolver %q, must be IP or IP:port", r)
		}
	}
	if c.ForwardTimeout <= 0 {
		return fmt.Errorf("invalid forward timeout %v, must be positive", c.ForwardTimeout)
	}
	if c.MaxForwards < 1 {
		return fmt.Errorf("invalid max forwards %d, must be at least 1", c.MaxForwards)
	}
	if c.UDPSockets < 0 || c.UDPSockets > 1024 {
		return fmt.Errorf("invalid UDP sockets %d, must be in [0, 1024]", c.UDPSockets)
	}
	if c.MaxTCPConns < 1 {
		return fmt.Errorf("invalid max TCP connections %d, must be at least 1", c.MaxTCPConns)
	}
	if c.TCPIdleTimeout <= 0 {
		return fmt.Errorf("invalid TCP idle timeout %v, must be positive", c.TCPIdleTimeout)
	}
	if c.EDNSSize < 512 {
		return fmt.Errorf("invalid EDNS size %d, must be in [512, 65535]", c.EDNSSize)
	}
	return nil
}

// checkAddr accepts "" and host:port with a numeric port.
func checkAddr(a string) error {
	if a == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("must be host:port")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p > 65535 {
		return fmt.Errorf("port must be in [0, 65535]")
	}
	return nil
}

// upstream normalizes an upstream server to IP:port, port 53 by default.
func upstream(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", err
	}
	return ap.String(), nil
}
