// Package api serves Marathon's v2 REST API over a Backend, wire-compatible
// with Marathon 1.x so that its clients (go-marathon, marathon-lb, Traefik,
// Bamboo, the dcos CLI) work unmodified: /v2/apps, /v2/tasks, /v2/groups,
// /v2/deployments, /v2/queue, /v2/info, /v2/leader, /v2/events and /ping.
//
// The leading master serves the API from its Backend; a standby forwards
// every request but /ping (and GET /v2/leader, which it can answer) to the
// leader, as Marathon's LeaderProxyFilter does, streams included.
package api

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"corral/httpauth"
	"corral/marathon"
)

// Config tunes the API.
type Config struct {
	// Credentials turns on HTTP basic auth ("user:password"), as
	// Marathon's --http_credentials; empty: no auth.
	Credentials string
	// Realm is the basic auth realm (--http_realm).
	Realm string
	// EventStream serves /v2/events while this master leads; nil: 404.
	EventStream http.Handler
	// Agents serves /agent/<agentID>/… (the agents' sandboxes, proxied)
	// while this master leads; nil: 404.
	Agents http.Handler
	// Info returns /v2/info's configuration; the API fills in elected,
	// leader and frameworkId. nil: name and version only.
	Info func() marathon.Info
	// Normalization holds the operator settings apps are normalised with.
	Normalization marathon.Options
	// Self is this master's API address (host:port) as the election
	// announces it. A standby never forwards to itself, and tags what it
	// forwards with it to detect loops; empty: a random tag.
	Self string
	// LeaderTLS configures the connection to the leader when forwarding a
	// request that came over HTTPS; nil: the system's roots.
	LeaderTLS *tls.Config
	// ProxyDialTimeout bounds connecting to the leader
	// (--leader_proxy_connection_timeout).
	ProxyDialTimeout time.Duration
	// LeaderWait is how long a request waits for a leader during an
	// election before it fails with 503.
	LeaderWait time.Duration
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// Metrics serves GET /metrics on this master, leading or not, behind
	// the API's authentication; nil: the leader's 404.
	Metrics http.Handler
	// UI serves the web UI at GET / and its assets under GET /ui/, behind
	// the same auth as the API, on every master; nil: 404.
	UI http.Handler
	// MasterState serves GET /master/state on this port too, behind the
	// API's auth and from the leader, so that the UI reads it from its
	// own origin; nil: 404.
	MasterState http.Handler
}

// DefaultConfig returns Marathon's defaults: no auth, realm "Mesosphere",
// a 5s connection timeout to the leader, up to 2.5s of waiting for one
// (Marathon's 10 × 250ms) and bodies up to 8 MiB.
func DefaultConfig() Config {
	return Config{
		Realm:            "Mesosphere",
		ProxyDialTimeout: 5 * time.Second,
		LeaderWait:       2500 * time.Millisecond,
		MaxBodyBytes:     8 << 20,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := httpauth.Check("--http-credentials", c.Credentials); err != nil {
		return err
	}
	switch {
	case strings.ContainsAny(c.Realm, "\"\r\n"):
		return fmt.Errorf("invalid realm %q, must not contain quotes or line breaks", c.Realm)
	case c.ProxyDialTimeout <= 0:
		return fmt.Errorf("invalid leader proxy connection timeout %v, must be > 0", c.ProxyDialTimeout)
	case c.LeaderWait < 0:
		return fmt.Errorf("invalid leader wait %v, must be >= 0", c.LeaderWait)
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("invalid maximum body size %d, must be > 0", c.MaxBodyBytes)
	}
	return nil
}

// withDefaults replaces what Validate would reject (but the credentials)
// by the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Realm == "" || strings.ContainsAny(c.Realm, "\"\r\n") {
		c.Realm = d.Realm
	}
	if c.ProxyDialTimeout <= 0 {
		c.ProxyDialTimeout = d.ProxyDialTimeout
	}
	if c.LeaderWait < 0 {
		c.LeaderWait = d.LeaderWait
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.Info == nil {
		c.Info = func() marathon.Info { return marathon.Info{Name: "marathon", Version: "1.10.0"} }
	}
	return c
}

// server is the API's handler.
type server struct {
	cfg   Config
	lead  Leadership
	log   *slog.Logger
	mux   *http.ServeMux
	proxy *httputil.ReverseProxy
	via   string // X-Marathon-Via of what this master forwards
	now   func() time.Time
	cache responseCache // of GET /v2/apps, /v2/apps/{id} and /v2/tasks
}

// New returns the v2 API. Fields of cfg that Validate would reject fall
// back to their defaults; invalid credentials lock everyone out.
func New(cfg Config, lead Leadership, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, lead: lead, log: log, mux: http.NewServeMux(), now: time.Now}
	self := cfg.Self
	if self == "" {
		var b [8]byte
		rand.Read(b[:])
		self = "corral-" + hex.EncodeToString(b[:])
	}
	s.via = "1.1 " + self
	s.proxy = s.newProxy()
	s.routes()
	return s
}

// handlerFunc serves a request from the leader's backend. An error is
// written as Marathon writes it (see writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request, b Backend) error

func (s *server) routes() {
	// The collections take every method: ServeMux would redirect the
	// methods they lack to the subtree of the same name.
	s.handle("/v2/apps", s.appResource)
	s.handle("/v2/apps/{path...}", s.appResource)

	s.handle("GET /v2/tasks", s.listTasks)
	s.handle("POST /v2/tasks/delete", s.deleteTasks)

	s.handle("GET /v2/deployments", s.listDeployments)
	s.handle("DELETE /v2/deployments/{id}", s.cancelDeployment)

	s.handle("/v2/groups", s.groupResource)
	s.handle("/v2/groups/{path...}", s.groupResource)

	s.handle("/v2/queue", s.listQueue)
	s.handle("DELETE /v2/queue/{path...}", s.resetDelay)

	s.handle("GET /v2/info", s.info)
	s.mux.HandleFunc("GET /v2/leader", s.leader) // standbys answer it too
	s.handle("DELETE /v2/leader", s.abdicate)
	s.handle("/v2/events", s.events)
	s.handle("GET /agent/", s.agent)
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics) // this master's own
	}

	if s.cfg.UI != nil {
		s.mux.Handle("GET /{$}", s.cfg.UI)
		s.mux.Handle("GET /ui/", s.cfg.UI)
	}
	if s.cfg.MasterState != nil {
		s.handle("GET /master/state", func(w http.ResponseWriter, r *http.Request, _ Backend) error {
			s.cfg.MasterState.ServeHTTP(w, r)
			return nil
		})
	}

	s.handle("/", s.notFound)
}

// handle registers f behind leadership: served here while this master
// leads, forwarded to the leader otherwise.
func (s *server) handle(pattern string, f handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		b, leader, ok := s.awaitLeader(r)
		switch {
		case b != nil:
			noCache(w)
			if addr, ok := s.lead.Leader(); ok {
				w.Header().Set(headerLeader, scheme(r)+"://"+addr)
			}
			if err := f(w, r, b); err != nil {
				s.writeError(w, r, err)
			}
		case ok:
			s.forward(w, r, leader)
		default:
			writeJSON(w, http.StatusServiceUnavailable, marathon.Message{Message: msgNoLeader})
		}
	})
}

// ServeHTTP authenticates the request, answers /ping and routes the rest.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ping" {
		r.Pattern = "/ping" // for metrics by route, as a ServeMux sets it
		s.ping(w, r)
		return
	}
	if !s.authenticate(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if strings.Contains(r.URL.Path, "//") {
		// Jersey matches "/v2/apps//prod/web" as the app /prod/web where
		// ServeMux would redirect; clients that join "/v2/apps/" and an
		// absolute ID send such paths, PUTs and DELETEs too.
		u := *r.URL
		u.Path, u.RawPath = collapseSlashes(u.Path), ""
		r2 := r.WithContext(r.Context())
		r2.URL = &u
		s.mux.ServeHTTP(w, r2)
		r.Pattern = r2.Pattern // for metrics by route
		return
	}
	s.mux.ServeHTTP(w, r)
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// notFound answers paths no route takes: 405 when another method would
// do, as Jersey answers, else 404.
func (s *server) notFound(w http.ResponseWriter, r *http.Request, _ Backend) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return methodNotAllowed()
	}
	return &marathon.Error{Status: http.StatusNotFound, Message: "HTTP 404 Not Found"}
}

// noCache marks a response as uncacheable, as Marathon marks every
// response of its API. Forwarded responses carry the leader's headers.
func noCache(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
}

func methodNotAllowed() error {
	return &marathon.Error{Status: http.StatusMethodNotAllowed, Message: "HTTP 405 Method Not Allowed"}
}

func (s *server) ping(w http.ResponseWriter, r *http.Request) {
	noCache(w)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, marathon.Message{Message: "HTTP 405 Method Not Allowed"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("pong\n"))
}

// scheme is the request's scheme, which is also the leader's: masters
// serve the API alike.
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
