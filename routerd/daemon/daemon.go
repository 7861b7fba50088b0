// Package daemon wires routerd's parts: the Marathon watcher feeds the
// router, whose table the TCP and HTTP proxies read; the shared HTTP edge,
// the admin endpoints and the resolver run beside them.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corral/marathon"
	"corral/routerd/admin"
	"corral/routerd/httpproxy"
	"corral/routerd/metrics"
	"corral/routerd/route"
	"corral/routerd/router"
	"corral/routerd/snapshot"
	"corral/routerd/tcpproxy"
	"corral/routerd/watch"
)

// Config is routerd's configuration.
type Config struct {
	Routing     bool // false: --marathon is empty, no routing at all
	Watch       watch.Config
	Route       route.Config
	TCP         tcpproxy.Config
	HTTP        httpproxy.Config
	HTTPListen  string // the shared HTTP edge; "" off
	HTTPSListen string // the edge over TLS, served when certificates exist; "" off
	AdminListen string // "" off
	DNS         DNSConfig
	// DrainTimeout is how long a stopping routerd lets open connections
	// finish.
	DrainTimeout time.Duration
	// StateDir keeps the last good apps and masters' state (package
	// snapshot), read at start when the masters do not answer; "" keeps
	// nothing.
	StateDir string
	// StateMaxAge is the age beyond which saved views are not used: the
	// cluster has likely moved on, and a host port may serve another app.
	StateMaxAge time.Duration
}

// DefaultConfig is routerd's flags' defaults.
func DefaultConfig() Config {
	return Config{Routing: true, Watch: watch.DefaultConfig(), Route: route.DefaultConfig(), TCP: tcpproxy.DefaultConfig(),
		HTTP: httpproxy.DefaultConfig(), HTTPListen: ":80", HTTPSListen: ":443", AdminListen: "127.0.0.1:9090",
		DNS: DefaultDNSConfig(), DrainTimeout: 10 * time.Second, StateMaxAge: 24 * time.Hour}
}

// Validate checks the config.
func (c Config) Validate() error {
	if err := c.DNS.Validate(); err != nil {
		return err
	}
	if c.Routing {
		if err := c.Watch.Validate(); err != nil {
			return err
		}
		if err := c.Route.Validate(); err != nil {
			return err
		}
		if err := c.TCP.Validate(); err != nil {
			return err
		}
		if err := c.HTTP.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Daemon is a running routerd.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	Metrics *metrics.Metrics
	Router  *router.Router // nil when routing is off
	watcher *watch.Watcher
	tcp     *tcpproxy.Proxy
	http    *httpproxy.Proxy
	dns     *dnsPart // nil when the resolver is off
	checks  []admin.Check
	apps    *snapshot.Saver[[]marathon.AppInfo] // nil without a StateDir
	// restored is when the apps routed since start were saved, zero when
	// they came from Marathon or nothing was restored.
	restored time.Time

	edge, edgeTLS, adminLn net.Listener
}

// New builds the parts; Listen binds them.
func New(cfg Config, log *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, Metrics: metrics.New()}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating --state-dir: %w", err)
		}
	}
	var err error
	if cfg.DNS.Enabled {
		if d.dns, err = newDNS(cfg.DNS, log); err != nil {
			return nil, err
		}
		d.checks = append(d.checks, d.dns.check())
	}
	if !cfg.Routing {
		return d, nil
	}
	if d.watcher, err = watch.New(cfg.Watch, log.With("component", "watch")); err != nil {
		return nil, err
	}
	d.watcher.OnSyncError = d.Metrics.SyncErrors.Inc
	d.watcher.OnSync = d.Metrics.Syncs.Inc
	var table func() *route.Table
	if d.tcp, err = tcpproxy.New(cfg.TCP, func() *route.Table { return table() }, d.Metrics, log.With("component", "tcp")); err != nil {
		return nil, err
	}
	if d.http, err = httpproxy.New(cfg.HTTP, func() *route.Table { return table() }, d.Metrics, log.With("component", "http")); err != nil {
		return nil, err
	}
	d.Router = router.New(cfg.Route, d.tcp, router.ServerFunc(d.http.ServeService), d.Metrics, log.With("component", "router"))
	table = d.Router.Table
	d.checks = append(d.checks, admin.Check{Name: "marathon", Status: d.marathonHealth})
	if cfg.StateDir != "" {
		d.apps = snapshot.NewSaver[[]marathon.AppInfo](filepath.Join(cfg.StateDir, appsFile), log.With("component", "snapshot"))
	}
	return d, nil
}

// appsFile holds the last good apps under Config.StateDir.
const appsFile = "marathon-apps.json"

// restoreApps routes the apps saved by an earlier run until Marathon
// answers.
func (d *Daemon) restoreApps() {
	apps, saved, err := snapshot.Load[[]marathon.AppInfo](filepath.Join(d.cfg.StateDir, appsFile))
	if err == nil && time.Since(saved) > d.cfg.StateMaxAge {
		err = fmt.Errorf("saved at %s, longer ago than --state-max-age (%v)", saved.Format(time.RFC3339), d.cfg.StateMaxAge)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("the saved apps are not usable; routing nothing until Marathon answers", "err", err)
		}
		return
	}
	d.Router.Update(apps)
	d.restored = saved
	d.log.Info("routing the apps saved before the restart until Marathon answers", "apps", len(apps), "saved", saved.Format(time.RFC3339))
}

func (d *Daemon) marathonHealth() (any, string) {
	st := d.watcher.Status()
	t := d.Router.Table()
	detail := map[string]any{"watch": st, "tableVersion": t.Version, "tableAgeSeconds": time.Since(t.Built).Seconds()}
	if st.Connected {
		return detail, ""
	}
	if st.LastSync.IsZero() {
		if !d.restored.IsZero() {
			detail["restoredFrom"] = d.restored
			return detail, fmt.Sprintf("marathon unreachable since the start (%s); routing the apps saved at %s", st.Error, d.restored.UTC().Format(time.RFC3339))
		}
		return detail, fmt.Sprintf("no route table yet: %s", st.Error)
	}
	return detail, fmt.Sprintf("marathon unreachable since %s (%s); serving the table of %s",
		st.Since.UTC().Format(time.RFC3339), st.Error, st.LastSync.UTC().Format(time.RFC3339))
}

// Listen binds the edge and admin listeners.
func (d *Daemon) Listen() error {
	var err error
	if d.cfg.Routing && d.cfg.HTTPListen != "" {
		if d.edge, err = net.Listen("tcp", d.cfg.HTTPListen); err != nil {
			return fmt.Errorf("listening on --http-listen: %w", err)
		}
	}
	if d.cfg.Routing && d.cfg.HTTPSListen != "" && d.http.HasCertificates() {
		if d.edgeTLS, err = net.Listen("tcp", d.cfg.HTTPSListen); err != nil {
			return fmt.Errorf("listening on --https-listen: %w", err)
		}
	}
	if d.dns != nil {
		if err := d.dns.resolver.Listen(); err != nil {
			return fmt.Errorf("listening for DNS: %w", err)
		}
	}
	if d.cfg.AdminListen != "" {
		if d.adminLn, err = net.Listen("tcp", d.cfg.AdminListen); err != nil {
			return fmt.Errorf("listening on --admin-listen: %w", err)
		}
	}
	return nil
}

// EdgeAddr is the edge's address, or "".
func (d *Daemon) EdgeAddr() string { return addrOf(d.edge) }

// DNSAddr is the resolver's DNS address, or nil.
func (d *Daemon) DNSAddr() net.Addr {
	if d.dns == nil {
		return nil
	}
	return d.dns.resolver.Addr()
}

// DNSHTTPAddr is the address of the resolver's HTTP API, or nil.
func (d *Daemon) DNSHTTPAddr() net.Addr {
	if d.dns == nil {
		return nil
	}
	return d.dns.resolver.HTTPAddr()
}

// AdminAddr is the admin endpoints' address, or "".
func (d *Daemon) AdminAddr() string { return addrOf(d.adminLn) }

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// saveEvery bounds how often the last good views are written.
const saveEvery = time.Second

// Run serves until ctx ends, then closes the listeners and lets open
// connections finish for up to DrainTimeout.
func (d *Daemon) Run(ctx context.Context) error {
	// What an earlier run saved is served until the masters answer; read
	// before anything that reports on it starts.
	if d.apps != nil {
		d.restoreApps()
	}
	if d.dns != nil && d.cfg.StateDir != "" {
		d.dns.restore(d.cfg.StateDir, d.cfg.StateMaxAge)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goServe := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	var tableFn func() *route.Table
	if d.Router != nil {
		tableFn = d.Router.Table
	} else {
		tableFn = func() *route.Table { return nil }
	}
	var adminSrv *http.Server
	if d.adminLn != nil {
		adminSrv = &http.Server{Handler: admin.New(tableFn, d.checks, d.Metrics.Registry), ReadHeaderTimeout: 10 * time.Second}
		goServe("admin", func() error { return adminSrv.Serve(d.adminLn) })
	}
	if d.edge != nil {
		goServe("http edge", func() error { return d.http.ServeEdge(d.edge) })
	}
	if d.edgeTLS != nil {
		goServe("https edge", func() error { return d.http.ServeEdgeTLS(d.edgeTLS) })
	}
	wctx, stopWatch := context.WithCancel(ctx)
	if d.watcher != nil {
		if d.apps != nil {
			goServe("snapshot", func() error { d.apps.Run(wctx, saveEvery); return nil })
		}
		goServe("watch", func() error {
			return d.watcher.Run(wctx, func(apps []marathon.AppInfo) {
				d.Router.Update(apps)
				if d.apps != nil {
					d.apps.Set(apps)
				}
			})
		})
	}
	if d.dns != nil {
		if d.dns.saver != nil {
			goServe("dns snapshot", func() error { d.dns.saver.Run(wctx, saveEvery); return nil })
		}
		goServe("dns source", func() error { return d.dns.run(wctx) })
		goServe("dns", func() error { return d.dns.resolver.Serve(wctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stopWatch()
	if d.Router != nil {
		d.Router.Close()
		for _, l := range []net.Listener{d.edge, d.edgeTLS} {
			if l != nil {
				l.Close()
			}
		}
		d.tcp.Drain(d.cfg.DrainTimeout)
		d.tcp.Close()
		d.http.Close()
	}
	if adminSrv != nil {
		adminSrv.Close()
	}
	wg.Wait()
	// The watcher and the DNS source have stopped: keep their last views.
	if d.apps != nil {
		d.apps.Flush()
	}
	if d.dns != nil && d.dns.saver != nil {
		d.dns.saver.Flush()
	}
	return err
}
