package route

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Mode is how a service port is proxied.
type Mode string

// Modes of a service port (HAPROXY_{n}_MODE).
const (
	ModeTCP  Mode = "tcp"
	ModeHTTP Mode = "http"
)

// Balance is a backend selection algorithm (HAPROXY_{n}_BALANCE).
type Balance string

// Balance algorithms.
const (
	RoundRobin Balance = "roundrobin"
	LeastConn  Balance = "leastconn"
	Source     Balance = "source"
)

// BasicAuth is HAPROXY_{n}_AUTH: realm:user:crypted-password, as HAProxy's
// userlist takes it.
type BasicAuth struct {
	Realm string `json:"realm"`
	User  string `json:"user"`
	Hash  string `json:"-"` // never shown on /_router/routes
}

// PortLabels are the marathon-lb labels of one port index, parsed.
type PortLabels struct {
	Mode          Mode       // "" when not given
	Balance       Balance    // roundrobin when not given
	Port          int        // HAPROXY_{n}_PORT, 0 when not given
	BindAddr      string     // HAPROXY_{n}_BIND_ADDR
	VHosts        []string   // HAPROXY_{n}_VHOST, lower case
	Paths         []string   // HAPROXY_{n}_PATH
	RedirectHTTPS bool       // HAPROXY_{n}_REDIRECT_TO_HTTPS
	Sticky        bool       // HAPROXY_{n}_STICKY
	Auth          *BasicAuth // HAPROXY_{n}_AUTH
	Enabled       bool       // HAPROXY_{n}_ENABLED, true when not given
	Groups        []string   // HAPROXY_{n}_GROUP, else HAPROXY_GROUP
	SSLCert       string     // HAPROXY_{n}_SSL_CERT
	Weight        int        // HAPROXY_{n}_BACKEND_WEIGHT
}

// Labels are an app's marathon-lb labels, parsed.
type Labels struct {
	Ports []PortLabels
	// Errors holds, per port index, why that port's labels are invalid.
	Errors map[int]string
	// Ignored lists the HAPROXY_ labels routerd does not honour: HAProxy
	// templates and options that only make sense in a generated config.
	Ignored []string
}

// prefix of every label marathon-lb reads.
const labelPrefix = "HAPROXY_"

// ParseLabels reads the HAPROXY_ labels of an app with portCount ports.
// An invalid label makes only its own port invalid (Errors); labels that
// name no port of the app, HAProxy templates and unknown HAPROXY_ labels
// are listed in Ignored.
func ParseLabels(labels map[string]string, portCount int) Labels {
	out := Labels{Ports: make([]PortLabels, portCount), Errors: map[int]string{}}
	appGroups := splitList(labels["HAPROXY_GROUP"], ",")
	for i := range out.Ports {
		out.Ports[i] = PortLabels{Balance: RoundRobin, Enabled: true, Groups: appGroups}
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if strings.HasPrefix(k, labelPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest := k[len(labelPrefix):]
		idx, name, ok := splitPortLabel(rest)
		if !ok {
			switch rest {
			case "GROUP":
			case "DEPLOYMENT_GROUP", "DEPLOYMENT_COLOUR", "DEPLOYMENT_ALT_PORT",
				"DEPLOYMENT_STARTED_AT", "DEPLOYMENT_TARGET_INSTANCES":
				// Blue/green bookkeeping of marathon-lb's scripts: nothing to route.
			default:
				out.Ignored = append(out.Ignored, k)
			}
			continue
		}
		if idx >= portCount {
			out.Ignored = append(out.Ignored, k)
			continue
		}
		if _, bad := out.Errors[idx]; bad {
			continue
		}
		if err := setPortLabel(&out.Ports[idx], name, labels[k]); err != nil {
			if err == errIgnored {
				out.Ignored = append(out.Ignored, k)
				continue
			}
			out.Errors[idx] = fmt.Sprintf("label %s=%q: %v", k, labels[k], err)
		}
	}
	return out
}

// splitPortLabel splits "0_VHOST" into 0 and "VHOST".
func splitPortLabel(s string) (int, string, bool) {
	i := strings.IndexByte(s, '_')
	if i <= 0 || i > 5 {
		return 0, "", false
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n < 0 || s[0] == '+' {
		return 0, "", false
	}
	return n, s[i+1:], true
}

var errIgnored = fmt.Errorf("ignored")

func setPortLabel(p *PortLabels, name, v string) error {
	switch name {
	case "MODE":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "tcp":
			p.Mode = ModeTCP
		case "http":
			p.Mode = ModeHTTP
		default:
			return fmt.Errorf("mode must be tcp or http")
		}
	case "BALANCE":
		switch b := Balance(strings.ToLower(strings.TrimSpace(v))); b {
		case RoundRobin, LeastConn, Source:
			p.Balance = b
		default:
			return fmt.Errorf("balance must be roundrobin, leastconn or source")
		}
	case "PORT":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port must be a number in [1, 65535]")
		}
		p.Port = n
	case "BIND_ADDR":
		a := strings.TrimSpace(v)
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("bind address must be an IP address")
		}
		p.BindAddr = a
	case "VHOST":
		for _, h := range splitList(v, ",") {
			h = strings.ToLower(h)
			if !validHost(h) {
				return fmt.Errorf("%q is not a host name", h)
			}
			p.VHosts = append(p.VHosts, h)
		}
	case "PATH":
		for _, f := range strings.Fields(v) {
			if f == "-i" { // HAProxy's case-insensitive flag: paths are matched as given
				continue
			}
			if !strings.HasPrefix(f, "/") {
				return fmt.Errorf("path %q must start with /", f)
			}
			p.Paths = append(p.Paths, f)
		}
	case "REDIRECT_TO_HTTPS":
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		p.RedirectHTTPS = b
	case "STICKY":
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		p.Sticky = b
	case "ENABLED":
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		p.Enabled = b
	case "GROUP":
		p.Groups = splitList(v, ",")
	case "SSL_CERT":
		p.SSLCert = strings.TrimSpace(v)
	case "AUTH":
		parts := strings.SplitN(strings.TrimSpace(v), ":", 3)
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("auth must be realm:user:crypted-password")
		}
		p.Auth = &BasicAuth{Realm: parts[0], User: parts[1], Hash: parts[2]}
	case "BACKEND_WEIGHT":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("weight must be an integer")
		}
		p.Weight = n
	default:
		// Templates (…_HEAD, …_ACL, …_OPTIONS), raw HAProxy settings and
		// unknown names: listed as ignored, never an error.
		return errIgnored
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false")
}

func splitList(v, sep string) []string {
	var out []string
	for _, f := range strings.Split(v, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// validHost accepts DNS names (a leading "*." wildcard too) and IP
// addresses, the forms a Host header carries.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimPrefix(h, "*.")
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
