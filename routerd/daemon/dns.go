package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"corral/dns/records"
	"corral/dns/resolver"
	"corral/dns/source"
	"corral/mesos"
	"corral/routerd/admin"
	"corral/routerd/snapshot"
)

// DNSConfig is the resolver's part of routerd: where the Mesos state comes
// from and how names are served.
type DNSConfig struct {
	Enabled  bool // false when both --dns-listen and --dns-http-listen are empty
	Source   source.Config
	Resolver resolver.Config
}

// DefaultDNSConfig is the resolver flags' defaults.
func DefaultDNSConfig() DNSConfig {
	return DNSConfig{Enabled: true, Source: source.DefaultConfig(), Resolver: resolver.DefaultConfig()}
}

// Validate checks the config.
func (c DNSConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	if err := c.Source.Validate(); err != nil {
		return err
	}
	return c.Resolver.Validate()
}

// dnsPart follows the masters and serves their tasks' names.
type dnsPart struct {
	cfg      DNSConfig
	log      *slog.Logger
	source   *source.Source
	resolver *resolver.Resolver
	saver    *snapshot.Saver[mesos.MasterState] // set by restore
	rc       records.Config
}

func newDNS(cfg DNSConfig, log *slog.Logger) (*dnsPart, error) {
	src, err := source.New(cfg.Source, log)
	if err != nil {
		return nil, err
	}
	cfg.Resolver.RefreshSeconds = int(cfg.Source.Refresh / time.Second)
	res, err := resolver.New(cfg.Resolver, log.With("component", "dns"))
	if err != nil {
		return nil, err
	}
	rc := cfg.Resolver.Records
	rc.LookupHost = lookupHost
	if len(rc.NSAddrs) == 0 {
		rc.NSAddrs = localAddrs() // ns1.<domain> is this node, as in Mesos-DNS
	}
	return &dnsPart{cfg: cfg, log: log.With("component", "dns"), source: src, resolver: res, rc: rc}, nil
}

// stateFile holds the masters' last good state under Config.StateDir.
const stateFile = "master-state.json"

// restore serves the records of the masters' state saved in dir by an
// earlier run, unless older than maxAge, until the masters answer, and has
// the state saved there from now on.
func (p *dnsPart) restore(dir string, maxAge time.Duration) {
	path := filepath.Join(dir, stateFile)
	p.saver = snapshot.NewSaver[mesos.MasterState](path, p.log)
	st, saved, err := snapshot.Load[mesos.MasterState](path)
	if err == nil && time.Since(saved) > maxAge {
		err = fmt.Errorf("saved at %s, longer ago than --state-max-age (%v)", saved.Format(time.RFC3339), maxAge)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.log.Warn("the saved masters' state is not usable; no names until the masters answer", "err", err)
		}
		return
	}
	if p.apply(st, saved) {
		p.log.Info("serving the names of the state saved before the restart until the masters answer", "saved", saved.Format(time.RFC3339))
	}
}

// run applies each snapshot of the cluster to the resolver until ctx ends.
func (p *dnsPart) run(ctx context.Context) error {
	return p.source.Run(ctx, func(st mesos.MasterState) {
		if p.apply(st, time.Now()) && p.saver != nil {
			p.saver.Set(st)
		}
	})
}

// apply serves the records of st, as of at.
func (p *dnsPart) apply(st mesos.MasterState, at time.Time) bool {
	rc := p.rc
	rc.Masters = p.source.Masters()
	rs, err := records.Generate(st, rc)
	if err != nil {
		p.log.Warn("records not generated, serving the previous ones", "err", err)
		return false
	}
	p.resolver.Update(rs, at)
	return true
}

// lookupHost resolves a host name of the cluster state (agents and masters
// named by host name), with a short deadline: it runs while records are
// generated.
func lookupHost(host string) []netip.Addr {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs
}

func (p *dnsPart) check() admin.Check {
	return admin.Check{Name: "dns", Status: func() (any, string) {
		st := p.source.Status()
		detail := map[string]any{"connected": st.Connected, "streaming": st.Streaming, "leader": st.Leader,
			"lastSync": st.LastSync, "recordsAgeSeconds": p.resolver.Age().Seconds()}
		if st.Err != nil {
			detail["error"] = st.Err.Error()
		}
		if st.Connected {
			return detail, ""
		}
		if p.resolver.Updated().IsZero() {
			return detail, fmt.Sprintf("no records yet: %v", st.Err)
		}
		return detail, fmt.Sprintf("masters unreachable (%v); serving records %.0f s old", st.Err, p.resolver.Age().Seconds())
	}}
}

// localAddrs lists the node's addresses, link-local ones left out.
func localAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && !ip.Unmap().IsLinkLocalUnicast() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}
