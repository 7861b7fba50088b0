// Package route builds routerd's route table from Marathon's apps and
// tasks, by marathon-lb's rules: which task backs which service port, on
// which address each port listens, in which mode, and which HTTP requests
// of the shared edge reach it. It does no I/O: the watcher feeds it apps,
// the proxies read the table it returns, and every table is immutable, so
// a new one is swapped in while the old one keeps serving.
package route

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/marathon"
)

// Config is what a table is built for.
type Config struct {
	// ServiceBind is the address service ports listen on; empty: none
	// (only the shared HTTP edge routes).
	ServiceBind string
	// Groups are the marathon-lb groups to route; "*" routes every app,
	// with or without a group.
	Groups []string
}

// DefaultConfig routes every app on 0.0.0.0.
func DefaultConfig() Config { return Config{ServiceBind: "0.0.0.0", Groups: []string{"*"}} }

// Validate checks the config.
func (c Config) Validate() error {
	if c.ServiceBind != "" {
		if _, err := netip.ParseAddr(c.ServiceBind); err != nil {
			return fmt.Errorf("invalid service bind address %q, must be an IP address", c.ServiceBind)
		}
	}
	if len(c.Groups) == 0 {
		return fmt.Errorf("no group to route, use * for all")
	}
	return nil
}

// Table is one immutable version of the routes.
type Table struct {
	Version  uint64     `json:"version"`
	Built    time.Time  `json:"built"`
	Services []*Service `json:"services"` // sorted by app ID and port index
	Skipped  []Skip     `json:"skipped"`  // ports not routed, and why

	listeners map[string]*Service // by Listen
	edge      edgeIndex
}

// Service is one routed port of an app.
type Service struct {
	AppID       string   `json:"appId"`
	PortIndex   int      `json:"portIndex"`
	ServicePort int      `json:"servicePort"`
	Listen      string   `json:"listen,omitempty"` // host:port of the service port; "" when not bound
	ListenError string   `json:"listenError,omitempty"`
	Mode        Mode     `json:"mode"`
	Balance     Balance  `json:"balance"`
	VHosts      []string `json:"vhosts,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	// EdgeConflict says why the shared edge does not route the service's
	// vhosts and paths (another service claimed them first).
	EdgeConflict  string          `json:"edgeConflict,omitempty"`
	RedirectHTTPS bool            `json:"redirectToHttps,omitempty"`
	Sticky        bool            `json:"sticky,omitempty"`
	Auth          *BasicAuth      `json:"auth,omitempty"`
	SSLCert       string          `json:"sslCert,omitempty"`
	Groups        []string        `json:"groups,omitempty"`
	Backends      []Backend       `json:"backends"`
	NotRouted     []TaskNotRouted `json:"notRouted,omitempty"` // the app's tasks that get no traffic
	IgnoredLabels []string        `json:"ignoredLabels,omitempty"`
	weight        int
}

// Key names the service: app ID and port index.
func (s *Service) Key() string { return s.AppID + ":" + strconv.Itoa(s.PortIndex) }

// Backend is a task that receives the service's traffic.
type Backend struct {
	TaskID string `json:"taskId"`
	Addr   string `json:"addr"` // host:port to dial
}

// TaskNotRouted is a task of the app that gets no traffic, and why.
type TaskNotRouted struct {
	TaskID string `json:"taskId"`
	Reason string `json:"reason"`
}

// Skip is an app port that is not routed, and why.
type Skip struct {
	AppID       string `json:"appId"`
	PortIndex   int    `json:"portIndex"`
	ServicePort int    `json:"servicePort,omitempty"`
	Reason      string `json:"reason"`
}

// Listener returns the service listening on addr.
func (t *Table) Listener(addr string) *Service { return t.listeners[addr] }

// Build makes the table of version for apps (with their tasks embedded).
// prev, when not nil, is the table it replaces: a service that held a
// listen address or an edge route keeps it against a newcomer, so routes
// never flap between two apps that claim the same port.
func Build(cfg Config, apps []marathon.AppInfo, prev *Table, version uint64, now time.Time) *Table {
	t := &Table{Version: version, Built: now, Services: []*Service{}, Skipped: []Skip{}, listeners: map[string]*Service{}}
	var cands []*Service
	for i := range apps {
		cands = append(cands, t.appServices(cfg, &apps[i])...)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].AppID != cands[j].AppID {
			return cands[i].AppID < cands[j].AppID
		}
		return cands[i].PortIndex < cands[j].PortIndex
	})
	// Listen addresses are claimed by the service that held them in the
	// last table, then by the service whose own service port it is (Marathon
	// keeps those unique), then by HAPROXY_{n}_PORT overrides.
	rank := func(s *Service) int {
		if prev != nil && s.Listen != "" {
			if o := prev.listeners[s.Listen]; o != nil && o.AppID == s.AppID && o.PortIndex == s.PortIndex {
				return 0
			}
		}
		if s.Listen != "" && strings.HasSuffix(s.Listen, ":"+strconv.Itoa(s.ServicePort)) {
			return 1
		}
		return 2
	}
	sort.SliceStable(cands, func(i, j int) bool { return rank(cands[i]) < rank(cands[j]) })
	for _, s := range cands {
		if s.Listen != "" {
			if o := t.listeners[s.Listen]; o != nil {
				t.Skipped = append(t.Skipped, Skip{s.AppID, s.PortIndex, s.ServicePort,
					fmt.Sprintf("listen address %s is taken by %s port index %d", s.Listen, o.AppID, o.PortIndex)})
				continue
			}
			t.listeners[s.Listen] = s
		}
		t.Services = append(t.Services, s)
	}
	sort.Slice(t.Services, func(i, j int) bool {
		a, b := t.Services[i], t.Services[j]
		if a.AppID != b.AppID {
			return a.AppID < b.AppID
		}
		return a.PortIndex < b.PortIndex
	})
	sort.Slice(t.Skipped, func(i, j int) bool {
		a, b := t.Skipped[i], t.Skipped[j]
		if a.AppID != b.AppID {
			return a.AppID < b.AppID
		}
		return a.PortIndex < b.PortIndex
	})
	t.edge = buildEdge(t.Services, prev)
	return t
}

// appServices returns the routable ports of one app; the others go to
// t.Skipped.
func (t *Table) appServices(cfg Config, a *marathon.AppInfo) []*Service {
	app := a.App
	app.ApplyDefaults() // Marathon 1.4 still writes the deprecated fields
	servicePorts := app.ServicePorts()
	labels := ParseLabels(app.Labels, len(servicePorts))
	container := onContainerNetwork(&app)
	var out []*Service
	for n, sp := range servicePorts {
		pl := labels.Ports[n]
		skip := func(reason string) { t.Skipped = append(t.Skipped, Skip{app.ID, n, sp, reason}) }
		if !inGroups(pl.Groups, cfg.Groups) {
			continue // another router's business: not listed, as marathon-lb does
		}
		if msg, bad := labels.Errors[n]; bad {
			skip(msg)
			continue
		}
		if !pl.Enabled {
			skip(fmt.Sprintf("disabled by HAPROXY_%d_ENABLED", n))
			continue
		}
		s := &Service{
			AppID: app.ID, PortIndex: n, ServicePort: sp, Mode: ModeTCP, Balance: pl.Balance,
			VHosts: pl.VHosts, Paths: pl.Paths, RedirectHTTPS: pl.RedirectHTTPS, Sticky: pl.Sticky,
			Auth: pl.Auth, SSLCert: pl.SSLCert, Groups: pl.Groups, IgnoredLabels: labels.Ignored,
			Backends: []Backend{}, weight: pl.Weight,
		}
		if pl.Mode == ModeHTTP || (pl.Mode == "" && len(pl.VHosts) > 0) || httpChecked(&app, n) {
			s.Mode = ModeHTTP
		}
		if s.Mode == ModeTCP && (len(pl.Paths) > 0 || pl.Sticky || pl.Auth != nil || pl.RedirectHTTPS) {
			skip(fmt.Sprintf("HAPROXY_%d_PATH, _STICKY, _AUTH and _REDIRECT_TO_HTTPS need HAPROXY_%d_MODE=http", n, n))
			continue
		}
		port := sp
		if pl.Port != 0 {
			port = pl.Port
		}
		bind := cfg.ServiceBind
		if pl.BindAddr != "" {
			bind = pl.BindAddr
		}
		edgeOnly := s.Mode == ModeHTTP && len(s.VHosts)+len(s.Paths) > 0
		switch {
		case port == 0 && !edgeOnly:
			skip("no service port")
			continue
		case port != 0 && bind != "":
			s.Listen = net.JoinHostPort(bind, strconv.Itoa(port))
		case !edgeOnly:
			continue // service ports are off on this router: nothing to serve
		}
		s.Backends, s.NotRouted = backends(&app, a.Tasks, n, container)
		out = append(out, s)
	}
	return out
}

// inGroups applies marathon-lb's --group: "*" takes every app, other names
// take the ports whose group (HAPROXY_{n}_GROUP, else HAPROXY_GROUP) lists
// one of them.
func inGroups(portGroups, routerGroups []string) bool {
	for _, g := range routerGroups {
		if g == "*" {
			return true
		}
		for _, pg := range portGroups {
			if pg == g {
				return true
			}
		}
	}
	return false
}

// httpChecked reports whether port n has an HTTP-like health check, which
// makes marathon-lb serve it in HTTP mode whatever its labels say.
func httpChecked(app *marathon.App, n int) bool {
	for _, hc := range app.HealthChecks {
		switch hc.Protocol {
		case "HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS":
			if hc.PortIndex != nil && *hc.PortIndex == n {
				return true
			}
		}
	}
	return false
}

// onContainerNetwork reports whether the app's tasks are reached at their
// own IP address (a named container network), not at the agent's.
func onContainerNetwork(app *marathon.App) bool {
	for _, nw := range app.Networks {
		if nw.Mode == marathon.NetworkContainer {
			return true
		}
	}
	return false
}

// backends splits the app's tasks into those that back port n and those
// that do not, by marathon-lb's rules: running (not killing) and, if the
// app has health checks, all of the task's results alive (none yet: not
// ready).
func backends(app *marathon.App, tasks []marathon.Task, n int, container bool) ([]Backend, []TaskNotRouted) {
	out := []Backend{}
	var not []TaskNotRouted
	for _, task := range tasks {
		why := ""
		switch {
		case task.State != "" && task.State != "TASK_RUNNING":
			why = strings.ToLower(strings.TrimPrefix(task.State, "TASK_"))
		case task.State == "" && task.StartedAt == "":
			why = "not started"
		case len(app.HealthChecks) > 0 && len(task.HealthCheckResults) == 0:
			why = "no health check result yet"
		case len(app.HealthChecks) > 0 && !allAlive(task.HealthCheckResults):
			why = "unhealthy"
		}
		addr := ""
		if why == "" {
			addr, why = backendAddr(app, &task, n, container)
		}
		if why != "" {
			not = append(not, TaskNotRouted{task.ID, why})
			continue
		}
		out = append(out, Backend{TaskID: task.ID, Addr: addr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	sort.Slice(not, func(i, j int) bool { return not[i].TaskID < not[j].TaskID })
	return out, not
}

func allAlive(rs []marathon.HealthCheckResult) bool {
	for _, r := range rs {
		if !r.Alive {
			return false
		}
	}
	return true
}

// backendAddr is the address that reaches port n of a task: the agent's
// host and the task's host port, or on a container network the task's IP
// and the container port.
func backendAddr(app *marathon.App, task *marathon.Task, n int, container bool) (string, string) {
	if container {
		ip := ""
		for _, a := range task.IPAddresses {
			if ip == "" || a.Protocol != "IPv6" && strings.Contains(ip, ":") {
				ip = a.IPAddress // the first IPv4 address, else the first one
			}
		}
		if ip == "" {
			return "", "no container IP address yet"
		}
		port := 0
		if app.Container != nil && n < len(app.Container.PortMappings) {
			port = app.Container.PortMappings[n].ContainerPort
		}
		if port == 0 && n < len(task.Ports) {
			port = task.Ports[n]
		}
		if port == 0 {
			return "", fmt.Sprintf("no container port for port index %d", n)
		}
		return net.JoinHostPort(ip, strconv.Itoa(port)), ""
	}
	if task.Host == "" {
		return "", "no host"
	}
	if n >= len(task.Ports) || task.Ports[n] == 0 {
		return "", fmt.Sprintf("no host port for port index %d", n)
	}
	return net.JoinHostPort(task.Host, strconv.Itoa(task.Ports[n])), ""
}

// WithListenErrors returns a copy of t in which the services whose listen
// address could not be bound (errs: address → error) no longer claim it:
// a TCP service is skipped with the error as its reason, an HTTP service
// keeps its edge routes and shows the error.
func (t *Table) WithListenErrors(errs map[string]string) *Table {
	if len(errs) == 0 {
		return t
	}
	c := *t
	c.Services = make([]*Service, 0, len(t.Services))
	c.Skipped = append([]Skip(nil), t.Skipped...)
	c.listeners = make(map[string]*Service, len(t.listeners))
	for _, s := range t.Services {
		msg, bad := errs[s.Listen]
		if s.Listen == "" || !bad {
			cp := *s // buildEdge below writes EdgeConflict: never into t's services
			c.Services = append(c.Services, &cp)
			if s.Listen != "" {
				c.listeners[s.Listen] = &cp
			}
			continue
		}
		reason := fmt.Sprintf("cannot listen on %s: %s", s.Listen, msg)
		if s.Mode == ModeHTTP && len(s.VHosts)+len(s.Paths) > 0 {
			cp := *s
			cp.Listen, cp.ListenError = "", reason
			c.Services = append(c.Services, &cp)
			continue
		}
		c.Skipped = append(c.Skipped, Skip{s.AppID, s.PortIndex, s.ServicePort, reason})
	}
	c.edge = buildEdge(c.Services, t)
	return &c
}
