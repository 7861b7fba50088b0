// Command routerd is Corral's node router: every app's service ports on
// localhost (TCP, or HTTP by marathon-lb's labels), a shared HTTP edge
// routing by host name and path, and admin endpoints, all following
// Marathon without reloads.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"corral/logflag"
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
		masters      = flag.String("masters", strings.Join(cfg.DNS.Source.Masters, ","), "comma-separated Mesos masters (host:port) the resolver follows")
		ipSources    = flag.String("dns-ip-sources", strings.Join(cfg.DNS.Resolver.Records.IPSources, ","), "where a task's address comes from, in order: netinfo, mesos, docker, host")
		resolvers    = flag.String("dns-resolvers", "", "comma-separated upstream DNS servers for names outside --dns-domain; empty: REFUSED")
		ttl          = flag.Uint("dns-ttl", uint(cfg.DNS.Resolver.Records.TTL), "TTL of the resolver's records, in seconds")
		mesosCA      = flag.String("mesos-tls-ca", "", "PEM CA certificates of the masters' Mesos port: the resolver reads it over HTTPS (masterd --tls-cert)")
	)
	flag.StringVar(&cfg.DNS.Source.Credentials, "mesos-credentials", "", "user:password for the masters' HTTP basic auth on the Mesos port (masterd --http-credentials)")
	dns := &cfg.DNS
	flag.StringVar(&dns.Resolver.Listen, "dns-listen", dns.Resolver.Listen, "address of the resolver (UDP and TCP); empty turns DNS off")
	flag.StringVar(&dns.Resolver.HTTPListen, "dns-http-listen", dns.Resolver.HTTPListen, "address of Mesos-DNS's HTTP API (/v1/...); empty turns it off")
	flag.StringVar(&dns.Resolver.Records.Domain, "dns-domain", dns.Resolver.Records.Domain, "the resolver's domain")
	flag.DurationVar(&dns.Source.Refresh, "dns-refresh", dns.Source.Refresh, "polling interval of /master/state, used against masters without the operator API's SUBSCRIBE")
	flag.BoolVar(&dns.Resolver.Records.HealthyOnly, "dns-healthy-only", dns.Resolver.Records.HealthyOnly, "leave out tasks whose latest status says healthy: false")
	flag.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of the shared HTTP edge; empty turns it off")
	flag.StringVar(&cfg.HTTPSListen, "https-listen", cfg.HTTPSListen, "address of the HTTPS edge, served when certificates exist; empty turns it off")
	flag.StringVar(&cfg.HTTP.TLSCertDir, "tls-cert-dir", cfg.HTTP.TLSCertDir, "directory of PEM certificate+key files for the HTTPS edge, picked by SNI")
	flag.StringVar(&cfg.AdminListen, "admin-listen", cfg.AdminListen, "address of /_router/health, /_router/routes and /metrics; empty turns it off")
	flag.DurationVar(&cfg.Watch.Resync, "marathon-resync", cfg.Watch.Resync, "full read of Marathon's apps this often, besides the event stream")
	flag.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on stop, how long open connections may finish")
	// systemd's StateDirectory= sets $STATE_DIRECTORY (routerd.service).
	flag.StringVar(&cfg.StateDir, "state-dir", os.Getenv("STATE_DIRECTORY"), "directory of the last good apps and masters' state, routed and served at a start without the masters; empty keeps nothing")
	flag.DurationVar(&cfg.StateMaxAge, "state-max-age", cfg.StateMaxAge, "saved apps and masters' state older than this are not used at start")
	logFlags := logflag.Register(flag.CommandLine, slog.LevelInfo)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	log := logFlags.Logger(os.Stderr)

	cfg.Watch.URLs = watch.ParseURLs(*marathonURLs)
	cfg.Routing = len(cfg.Watch.URLs) > 0
	cfg.Watch.Credentials = *credentials
	cfg.Route.ServiceBind = *serviceBind
	cfg.Route.Groups = splitList(*group)
	dns.Source.Masters = splitList(*masters)
	dns.Resolver.Records.IPSources = splitList(*ipSources)
	dns.Resolver.Resolvers = splitList(*resolvers)
	if *ttl > 1<<31-1 {
		return fmt.Errorf("invalid --dns-ttl %d, must be in [0, %d]", *ttl, 1<<31-1)
	}
	dns.Resolver.Records.TTL = uint32(*ttl)
	if *mesosCA != "" {
		roots, err := readRoots(*mesosCA)
		if err != nil {
			return err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		dns.Source.Scheme, dns.Source.Client = "https", &http.Client{Transport: tr}
	}
	dns.Enabled = dns.Resolver.Listen != "" || dns.Resolver.HTTPListen != ""
	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	if err := d.Listen(); err != nil {
		return err
	}
	log.Info("routerd started", "marathon", cfg.Watch.URLs, "http", d.EdgeAddr(), "admin", d.AdminAddr(), "dns", d.DNSAddr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return d.Run(ctx)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// readRoots reads --mesos-tls-ca.
func readRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --mesos-tls-ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("invalid --mesos-tls-ca %q: no PEM certificate", path)
	}
	return roots, nil
}
