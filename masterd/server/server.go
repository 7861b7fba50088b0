// Package server runs one masterd: it binds the Mesos API, opens the state
// store (embedded etcd or an external cluster), campaigns for leadership and,
// while leading, runs the master over the registry; standbys redirect.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/httpauth"
	"corral/marathon"
	"corral/masterd/agentproxy"
	"corral/masterd/leader"
	"corral/masterd/marathon/api"
	"corral/masterd/marathon/events"
	"corral/masterd/marathon/framework"
	"corral/masterd/marathon/model"
	"corral/masterd/master"
	"corral/masterd/mesosapi"
	"corral/masterd/metrics"
	"corral/masterd/state"
	"corral/masterd/ui"
	"corral/mesos"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"
)

// Config is everything masterd's flags set.
type Config struct {
	Listen         string // Mesos API, e.g. ":5050"
	MarathonListen string // Marathon API, e.g. ":8080"
	Hostname       string
	AdvertiseIP    string
	ElectionTTL    time.Duration
	State          state.Config
	Master         master.Config
	Marathon       framework.Config
	Events         events.Config
	// HTTPCredentials turns on basic auth for the Marathon API
	// ("user:password"); TLSCert and TLSKey serve it over HTTPS.
	HTTPCredentials string
	TLSCert, TLSKey string
	// AgentSecret is the agents' shared secret: every agent call carries
	// it as a bearer token. Empty lets any host that reaches Listen
	// register as an agent (and be sent tasks, with their environment).
	AgentSecret string
	// MesosTLSCert and MesosTLSKey serve the Mesos port over TLS; AgentCA
	// then requires every agent to present a certificate it signed, and
	// binds each agent ID to its certificate's subject.
	MesosTLSCert, MesosTLSKey, AgentCA string
}

// Validate checks the configuration without side effects.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("invalid --listen %q, must be [host]:port: %w", c.Listen, err)
	}
	if _, _, err := net.SplitHostPort(c.MarathonListen); err != nil {
		return fmt.Errorf("invalid --marathon-listen %q, must be [host]:port: %w", c.MarathonListen, err)
	}
	if c.Hostname == "" {
		return errors.New("invalid --hostname: empty")
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		return fmt.Errorf("invalid --advertise-ip %q, must be an IP address", c.AdvertiseIP)
	}
	if c.ElectionTTL < time.Second {
		return fmt.Errorf("invalid --election-ttl %v, must be at least 1s", c.ElectionTTL)
	}
	if err := c.State.Validate(); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("invalid --marathon-tls-cert/--marathon-tls-key: give both or neither")
	}
	if (c.MesosTLSCert == "") != (c.MesosTLSKey == "") {
		return errors.New("invalid --tls-cert/--tls-key: give both or neither")
	}
	if c.AgentCA != "" && c.MesosTLSCert == "" {
		return errors.New("invalid --tls-ca: agents' certificates are checked over TLS, which needs --tls-cert and --tls-key")
	}
	if err := httpauth.Check("--http-credentials", c.HTTPCredentials); err != nil {
		return err
	}
	if err := c.Marathon.Validate(); err != nil {
		return fmt.Errorf("invalid Marathon configuration: %w", err)
	}
	if err := c.Events.Validate(); err != nil {
		return fmt.Errorf("invalid event stream configuration: %w", err)
	}
	m := c.Master
	m.ID = "validate"
	return m.Validate()
}

// Server is one masterd.
type Server struct {
	cfg Config
	log *slog.Logger
	id  string

	ln       net.Listener
	mln      net.Listener // Marathon API
	current  atomic.Pointer[master.Master]
	marathon atomic.Pointer[term]

	mu      sync.Mutex // guards elector
	elector *leader.Elector

	metrics *metrics.Metrics
}

// New returns a server; Listen and Run start it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, id: mesos.NewUUID()}
	s.metrics = metrics.New(metrics.Sources{
		Master: s.current.Load,
		Marathon: func() *model.View {
			if t := s.marathon.Load(); t != nil {
				return t.fw.View()
			}
			return nil
		},
		Leading: func() bool {
			e := s.Elector()
			return e != nil && e.IsLeader()
		},
		LeaderChanges: func() uint64 {
			if e := s.Elector(); e != nil {
				return e.Changes()
			}
			return 0
		},
	})
	s.cfg.State.ObserveRequest = s.metrics.ObserveEtcd
	s.cfg.Master.AllocationTime = s.metrics.AllocationTime
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// ID returns this master's ID, a UUID as Mesos uses, that of its first
// term; each later term has a new one (see leader.New).
func (s *Server) ID() string { return s.id }

// Listen binds the Mesos API port.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	mln, err := net.Listen("tcp", s.cfg.MarathonListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening on %s: %w", s.cfg.MarathonListen, err)
	}
	n := connLimit()
	s.ln, s.mln = netutil.LimitListener(ln, n), netutil.LimitListener(mln, n)
	return nil
}

// idleTimeout closes a keep-alive connection left idle, which would hold
// one of its port's connLimit slots. Streams (agents', events) are
// requests in progress, never idle.
const idleTimeout = 2 * time.Minute

// connLimit bounds the connections each API port holds open, a quarter of
// the process's file descriptors: a flood of idle clients on one port
// then waits in the kernel's backlog, leaving the other port and embedded
// etcd their descriptors (etcd ends the process when it finds none).
func connLimit() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 1 << 18
	}
	return int(max(lim.Cur/4, 64))
}

// Addr returns the bound address of the Mesos API.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// MarathonAddr returns the bound address of the Marathon API.
func (s *Server) MarathonAddr() net.Addr { return s.mln.Addr() }

// Elector returns the elector once Run has opened the store.
func (s *Server) Elector() *leader.Elector {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.elector
}

// self describes this master as its election value and redirects name it.
func (s *Server) self() leader.Info {
	port := s.ln.Addr().(*net.TCPAddr).Port
	ip := s.cfg.AdvertiseIP
	if ip == "" {
		ip = guessIP(s.cfg.Hostname, s.ln.Addr().(*net.TCPAddr).IP)
	}
	return leader.Info{ID: s.id, Hostname: s.cfg.Hostname, IP: ip, Port: port, MarathonPort: s.mln.Addr().(*net.TCPAddr).Port}
}

// Run serves until ctx ends, or until serving fails. It returns once the
// master has stepped down and resigned, the API stopped and etcd closed,
// in that order: the master closes its agents' streams before the server
// waits for handlers, and handlers never see a closed store.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	el := &lazyElector{s: s}
	mesosAPI := mesosapi.New(el, s.current.Load)
	mapi, err := s.marathonAPI(el, mesosAPI)
	if err != nil {
		s.ln.Close()
		s.mln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	self := s.self()
	mesosTLS, err := s.mesosTLS()
	if err != nil {
		s.ln.Close()
		s.mln.Close()
		return err
	}
	mesosAPI.Handle("GET /metrics", s.metrics.Handler())
	mesosAPI.Handle("GET /metrics/snapshot", s.metrics.SnapshotHandler())
	// The Mesos port's / leads browsers to the UI on the Marathon port,
	// which asks for the credentials itself.
	mesosAPI.Handle("GET /{$}", ui.Redirect(self.MarathonPort, s.cfg.TLSCert != ""))
	// Whatever the Mesos port serves needs the credentials, but probes,
	// leader lookups, the agent protocol (see mesosapi.Open) and that
	// redirect.
	open := func(r *http.Request) bool { return r.URL.Path == "/" || mesosapi.Open(r) }
	api := httpauth.Basic(s.cfg.HTTPCredentials, "mesos", open, mesosAPI)
	srv := &http.Server{Handler: s.metrics.Instrument("mesos", api), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout, TLSConfig: mesosTLS}
	// Agents may multiplex their streams over HTTP/2 (without TLS too); a
	// simulated cluster of thousands of agents needs few sockets that way.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	serveErr := make(chan error, 1)
	go func() {
		if mesosTLS != nil {
			serveErr <- srv.ServeTLS(s.ln, "", "")
		} else {
			serveErr <- srv.Serve(s.ln)
		}
	}()
	if s.cfg.AgentSecret == "" && s.cfg.AgentCA == "" {
		s.log.Warn("agents are not authenticated: any host that reaches the Mesos port can register as an agent and be sent tasks with their environment; set --agent-secret-file (and agentd --secret-file)", "addr", s.ln.Addr().String())
	}
	msrv := &http.Server{Handler: s.metrics.Instrument("marathon", mapi), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout}
	mserveErr := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			mserveErr <- msrv.ServeTLS(s.mln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			mserveErr <- msrv.Serve(s.mln)
		}
	}()
	s.log.Info("masterd listening", "id", s.id, "addr", s.ln.Addr().String(), "pid", self.PID(), "maxConnsPerPort", connLimit())
	// Standbys answer 503 while etcd starts or is dialled.
	etcd, err := state.Open(ctx, s.cfg.State, s.log.With("component", "state"))
	if err != nil {
		s.stopServing(msrv, mserveErr)
		s.stopServing(srv, serveErr)
		return err
	}
	elector := leader.New(etcd.Client, self, s.cfg.ElectionTTL, s.log.With("component", "leader"))
	s.mu.Lock()
	s.elector = elector
	s.mu.Unlock()
	store := etcd.Store()

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = elector.Run(ctx, func(lctx context.Context, term leader.Info, fence clientv3.Cmp) error {
			return s.lead(lctx, store.Fenced(fence), term)
		})
	}()
	select {
	case err = <-serveErr:
		err = fmt.Errorf("serving the Mesos API: %w", err)
		serveErr <- nil // stopServing need not wait for Serve
	case err = <-mserveErr:
		err = fmt.Errorf("serving the Marathon API: %w", err)
		mserveErr <- nil
	case <-ctx.Done():
	}
	cancel()
	<-runDone
	s.stopServing(msrv, mserveErr)
	s.stopServing(srv, serveErr)
	etcd.Close()
	return err
}

// stopServing shuts the API down and waits for Serve to return.
func (s *Server) stopServing(srv *http.Server, serveErr <-chan error) {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("closing connections the API did not finish", "err", err)
		srv.Close()
	}
	<-serveErr
}

// lead runs the master for one leadership term, under the term's master
// ID: agent and framework IDs are derived from it.
func (s *Server) lead(ctx context.Context, store *state.Store, self leader.Info) error {
	cfg := s.cfg.Master
	cfg.ID, cfg.Hostname, cfg.IP, cfg.Port = self.ID, self.Hostname, self.IP, self.Port
	cfg.AgentSecret, cfg.AgentCerts = s.cfg.AgentSecret, s.cfg.AgentCA != ""
	m, err := master.New(cfg, store, s.log)
	if err != nil {
		return err
	}
	if err := m.Recover(ctx); err != nil {
		return fmt.Errorf("recovering the registry: %w", err)
	}
	bus := events.New(s.cfg.Events, s.log.With("component", "events"))
	defer bus.Close()
	mcfg := s.cfg.Marathon
	mcfg.Hostname = self.Hostname
	fw, err := framework.New(mcfg, store, m, bus, s.log)
	if err != nil {
		return err
	}
	if err := fw.Load(ctx); err != nil {
		return err
	}
	t := &term{fw: fw, bus: bus}
	s.current.Store(m)
	s.marathon.Store(t)
	defer s.current.Store(nil)
	defer s.marathon.Store(nil)
	// The APIs stop serving as the leader the moment leadership ends, not
	// once the master has finished stepping down (flushing its registry
	// writes may take a while when etcd is slow or gone).
	stop := context.AfterFunc(ctx, func() {
		s.current.CompareAndSwap(m, nil)
		s.marathon.CompareAndSwap(t, nil)
	})
	defer stop()
	fwDone := make(chan struct{})
	go func() {
		defer close(fwDone)
		_ = fw.Run(ctx)
	}()
	defer func() { <-fwDone }()
	return m.Run(ctx)
}

// term is the Marathon framework of one leadership term.
type term struct {
	fw  *framework.Framework
	bus *events.Bus
}

// marathonAPI is the Marathon v2 API: served by the framework while this
// master leads, forwarded to the leader otherwise.
func (s *Server) marathonAPI(el *lazyElector, mesosAPI http.Handler) (http.Handler, error) {
	cfg := api.DefaultConfig()
	cfg.UI = ui.New()
	cfg.MasterState = mesosAPI
	cfg.Credentials = s.cfg.HTTPCredentials
	cfg.Metrics = s.metrics.Handler()
	if s.cfg.TLSCert != "" {
		roots, err := leaderRoots(s.cfg.TLSCert)
		if err != nil {
			return nil, err
		}
		cfg.LeaderTLS = &tls.Config{RootCAs: roots}
	}
	cfg.EventStream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := s.marathon.Load(); t != nil {
			t.bus.ServeHTTP(w, r)
			return
		}
		http.Error(w, `{"message":"Could not determine the current leader"}`, http.StatusServiceUnavailable)
	})
	agents := agentproxy.New(cfg.ProxyDialTimeout)
	cfg.Agents = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := s.current.Load(); m != nil {
			agents.Serve(w, r, m)
			return
		}
		http.Error(w, `{"message":"Could not determine the current leader"}`, http.StatusServiceUnavailable)
	})
	cfg.Info = func() marathon.Info { return s.marathonInfo() }
	cfg.Normalization = marathon.Options{BridgeName: s.cfg.Marathon.BridgeNetwork}
	self := s.self()
	cfg.Self = net.JoinHostPort(self.IP, strconv.Itoa(self.MarathonPort))
	return api.New(cfg, &leadership{s: s, el: el}, s.log.With("component", "marathon-api")), nil
}

// mesosTLS is the Mesos port's TLS configuration, nil without
// --tls-cert. With --tls-ca a client may present a certificate, which must
// then be the CA's; the agent protocol requires one (master.Config.AgentCerts),
// while readers of /master/state may come without.
func (s *Server) mesosTLS() (*tls.Config, error) {
	if s.cfg.MesosTLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.MesosTLSCert, s.cfg.MesosTLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading --tls-cert and --tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.cfg.AgentCA != "" {
		pemBytes, err := os.ReadFile(s.cfg.AgentCA)
		if err != nil {
			return nil, fmt.Errorf("reading --tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("invalid --tls-ca %q: no PEM certificate", s.cfg.AgentCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// leaderRoots are the roots a standby verifies the leader's certificate
// with: the system's and the certificates of --marathon-tls-cert, since
// masters usually share one, self-signed or from a private CA, as
// Marathon's leader proxy trusts its own keystore.
func leaderRoots(certFile string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading --marathon-tls-cert: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("invalid --marathon-tls-cert %q: no PEM certificate", certFile)
	}
	return roots, nil
}

// leadership answers the API's questions about the election.
type leadership struct {
	s  *Server
	el *lazyElector
}

func (l *leadership) Leader() (string, bool) {
	info, ok := l.el.Leader()
	if !ok || info.MarathonPort == 0 {
		return "", false
	}
	return net.JoinHostPort(info.IP, strconv.Itoa(info.MarathonPort)), true
}

func (l *leadership) Backend() api.Backend {
	if t := l.s.marathon.Load(); t != nil {
		return t.fw
	}
	return nil
}

func (l *leadership) Abdicate() error {
	if e := l.s.Elector(); e != nil && e.Abdicate() {
		return nil
	}
	return errors.New("this master does not lead")
}

// marathonInfo is /v2/info's configuration part.
func (s *Server) marathonInfo() marathon.Info {
	mc := s.cfg.Marathon
	port := s.mln.Addr().(*net.TCPAddr).Port
	info := marathon.Info{Name: "marathon", Version: "1.10.0-corral", Buildref: "corral"}
	info.MarathonConfig = marathon.MarathonConfig{
		Checkpoint:             true,
		DeclineOfferDuration:   mc.DeclineRefuse.Milliseconds(),
		Executor:               "//cmd",
		FailoverTimeout:        int64(mc.FailoverTimeout.Seconds()),
		Features:               []string{},
		FrameworkName:          mc.Name,
		HA:                     true,
		Hostname:               s.cfg.Hostname,
		LocalPortMin:           int(mc.ServicePorts.Min),
		LocalPortMax:           int(mc.ServicePorts.Max),
		Master:                 s.ln.Addr().String(),
		MaxInstancesPerOffer:   mc.MaxInstancesPerOffer,
		MesosBridgeName:        mc.BridgeNetwork,
		MesosRole:              "*",
		MesosUser:              mc.User,
		ReconciliationInterval: mc.ReconcileInterval.Milliseconds(),
		TaskLaunchTimeout:      mc.TaskLaunchTimeout.Milliseconds(),
	}
	store := s.cfg.State.Endpoints
	if len(store) == 0 {
		store = []string{s.cfg.State.ClientURL}
	}
	info.ZooKeeperConfig = marathon.ZooKeeperConfig{ZK: "etcd: " + strings.Join(store, ",")}
	if s.cfg.TLSCert != "" {
		info.HTTPConfig.HTTPSPort = port
	} else {
		info.HTTPConfig.HTTPPort = port
	}
	return info
}

// lazyElector answers "no leader" until the store is open.
type lazyElector struct{ s *Server }

func (l *lazyElector) Leader() (leader.Info, bool) {
	if e := l.s.Elector(); e != nil {
		return e.Leader()
	}
	return leader.Info{}, false
}

func (l *lazyElector) IsLeader() bool {
	e := l.s.Elector()
	return e != nil && e.IsLeader()
}

// guessIP picks the address other hosts reach this master at: the listen
// address if specific, else the hostname's first address, else loopback.
func guessIP(hostname string, listen net.IP) string {
	if listen != nil && !listen.IsUnspecified() {
		return listen.String()
	}
	if addrs, err := net.LookupIP(hostname); err == nil {
		for _, a := range addrs {
			if a.To4() != nil && !a.IsLoopback() {
				return a.String()
			}
		}
	}
	return "127.0.0.1"
}
