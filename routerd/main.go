// Command routerd is Corral's node router: every app's service ports on
// localhost (TCP, or HTTP by marathon-lb's labels), a shared HTTP edge
// routing by host name and path, and admin endpoints, all following
// Marathon without reloads.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"corral/routerd/daemon"
	"corral/routerd/watch"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "routerd:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := daemon.DefaultConfig()
	var (
		marathonURLs = flag.String("marathon", strings.Join(cfg.Watch.URLs, ","), "comma-separated Marathon URLs, tried in turn; empty turns routing off")
		credentials  = flag.String("marathon-credentials", "", "user:password for Marathon's HTTP basic auth")
		serviceBind  = flag.String("service-bind", cfg.Route.ServiceBind, "address the service-port listeners bind; empty: no service ports")
		group        = flag.String("group", "*", "marathon-lb groups to route (comma-separated); * routes every app")
		logLevel     = flag.String("log-level", "info", "debug, info, warn or error")
	)
	flag.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of the shared HTTP edge; empty turns it off")
	flag.StringVar(&cfg.HTTPSListen, "https-listen", cfg.HTTPSListen, "address of the HTTPS edge, served when certificates exist; empty turns it off")
	flag.StringVar(&cfg.HTTP.TLSCertDir, "tls-cert-dir", cfg.HTTP.TLSCertDir, "directory of PEM certificate+key files for the HTTPS edge, picked by SNI")
	flag.StringVar(&cfg.AdminListen, "admin-listen", cfg.AdminListen, "address of /_router/health, /_router/routes and /metrics; empty turns it off")
	flag.DurationVar(&cfg.Watch.Resync, "marathon-resync", cfg.Watch.Resync, "full read of Marathon's apps this often, besides the event stream")
	flag.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on stop, how long open connections may finish")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("invalid --log-level %q, must be debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg.Watch.URLs = watch.ParseURLs(*marathonURLs)
	cfg.Routing = len(cfg.Watch.URLs) > 0
	cfg.Watch.Credentials = *credentials
	cfg.Route.ServiceBind = *serviceBind
	cfg.Route.Groups = nil
	for _, g := range strings.Split(*group, ",") {
		if g = strings.TrimSpace(g); g != "" {
			cfg.Route.Groups = append(cfg.Route.Groups, g)
		}
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	if err := d.Listen(); err != nil {
		return err
	}
	log.Info("routerd started", "marathon", cfg.Watch.URLs, "http", d.EdgeAddr(), "admin", d.AdminAddr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return d.Run(ctx)
}
