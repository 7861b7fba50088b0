// Package server runs one masterd: it binds the Mesos API, opens the state
// store (embedded etcd or an external cluster), campaigns for leadership and,
// while leading, runs the master over the registry; standbys redirect.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"corral/masterd/leader"
	"corral/masterd/master"
	"corral/masterd/mesosapi"
	"corral/masterd/state"

	clientv3 "go.etcd.io/etcd/client/v3"
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
	m := c.Master
	m.ID = "validate"
	return m.Validate()
}

// Server is one masterd.
type Server struct {
	cfg Config
	log *slog.Logger
	id  string

	ln      net.Listener
	current atomic.Pointer[master.Master]

	mu      sync.Mutex // guards elector
	elector *leader.Elector
}

// New returns a server; Listen and Run start it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: log, id: newID()}, nil
}

// ID returns this master's ID, a UUID as Mesos uses.
func (s *Server) ID() string { return s.id }

// Listen binds the Mesos API port.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address of the Mesos API.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

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
	mport := 0
	if _, p, err := net.SplitHostPort(s.cfg.MarathonListen); err == nil {
		mport, _ = strconv.Atoi(p)
	}
	return leader.Info{ID: s.id, Hostname: s.cfg.Hostname, IP: ip, Port: port, MarathonPort: mport}
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	self := s.self()
	el := &lazyElector{s: s}
	api := mesosapi.New(el, s.current.Load)
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	// Agents may multiplex their streams over HTTP/2 without TLS; a
	// simulated cluster of thousands of agents needs few sockets that way.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(s.ln) }()
	s.log.Info("masterd listening", "id", s.id, "addr", s.ln.Addr().String(), "pid", self.PID())
	// Standbys answer 503 while etcd starts or is dialled.
	etcd, err := state.Open(ctx, s.cfg.State, s.log.With("component", "state"))
	if err != nil {
		s.stopServing(srv, serveErr)
		return err
	}
	elector := leader.New(etcd.Client, self, s.cfg.ElectionTTL, s.log.With("component", "leader"))
	s.mu.Lock()
	s.elector = elector
	s.mu.Unlock()
	store := state.NewStore(etcd.Client)

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = elector.Run(ctx, func(lctx context.Context, fence clientv3.Cmp) error {
			return s.lead(lctx, store.Fenced(fence), self)
		})
	}()
	select {
	case err = <-serveErr:
		err = fmt.Errorf("serving the Mesos API: %w", err)
		serveErr <- nil // stopServing need not wait for Serve
	case <-ctx.Done():
	}
	cancel()
	<-runDone
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

// lead runs the master for one leadership term.
func (s *Server) lead(ctx context.Context, store *state.Store, self leader.Info) error {
	cfg := s.cfg.Master
	cfg.ID, cfg.Hostname, cfg.IP, cfg.Port = s.id, self.Hostname, self.IP, self.Port
	m, err := master.New(cfg, store, s.log)
	if err != nil {
		return err
	}
	if err := m.Recover(ctx); err != nil {
		return fmt.Errorf("recovering the registry: %w", err)
	}
	s.current.Store(m)
	defer s.current.Store(nil)
	// The API stops serving as the leader the moment leadership ends, not
	// once the master has finished stepping down (flushing its registry
	// writes may take a while when etcd is slow or gone).
	stop := context.AfterFunc(ctx, func() { s.current.CompareAndSwap(m, nil) })
	defer stop()
	return m.Run(ctx)
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

// newID returns a random UUID (version 4), the form of Mesos master IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
