// Package mesosapi serves the Mesos-compatible HTTP endpoints of masterd:
// /master/state (and its aliases) that Mesos-DNS and other tools read, the
// v1 operator API (/api/v1: GET_STATE, SUBSCRIBE…), /master/redirect,
// /health, the agent protocol and /agent/<agentID>/files/… (agents'
// sandboxes, proxied); standbys redirect to the
// leader with 307 or answer 503 while no leader is elected.
package mesosapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"corral/masterd/agentproxy"
	"corral/masterd/leader"
	"corral/masterd/master"
	"corral/mesos"
)

// Leadership tells who leads.
type Leadership interface {
	Leader() (leader.Info, bool)
	IsLeader() bool
}

// Handler routes the Mesos API.
type Handler struct {
	Elector Leadership
	// Master returns the master while this node leads, nil otherwise.
	Master func() *master.Master
	mux    *http.ServeMux
}

// New returns the handler.
func New(el Leadership, current func() *master.Master) *Handler {
	h := &Handler{Elector: el, Master: current, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /health", health)
	h.mux.HandleFunc("GET /master/health", health)
	h.mux.HandleFunc("GET /master/redirect", h.redirect)
	h.mux.HandleFunc("GET /redirect", h.redirect)
	for _, p := range []string{"/master/state", "/master/state.json", "/state", "/state.json"} {
		h.mux.HandleFunc("GET "+p, h.leaderOnly(h.state))
	}
	h.mux.HandleFunc("POST "+mesos.OperatorAPIPath, h.leaderOnly(h.operator))
	h.mux.HandleFunc(mesos.AgentAPIPath, h.leaderOnly(func(w http.ResponseWriter, r *http.Request, m *master.Master) {
		m.ServeAgentAPI(w, r)
	}))
	agents := agentproxy.New(5 * time.Second)
	h.mux.HandleFunc("GET "+agentproxy.Prefix, h.leaderOnly(func(w http.ResponseWriter, r *http.Request, m *master.Master) {
		agents.Serve(w, r, m)
	}))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Handle serves pattern with handler beside the Mesos API's own routes,
// on this master whether or not it leads (/metrics, /metrics/snapshot).
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// Open reports whether a request on the Mesos port needs no HTTP
// credentials: the probes (/health, /master/health, /ping), finding the
// leader (/master/redirect, which Mesos serves unauthenticated too), and the
// agent protocol, which agents authenticate with the agent secret and
// certificates instead. Everything else, whatever is mounted later, needs
// them when --http-credentials is set.
func Open(r *http.Request) bool {
	switch r.URL.Path {
	case "/health", "/master/health", "/ping", "/master/redirect", "/redirect", mesos.AgentAPIPath:
		return true
	}
	return false
}

func health(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// redirect points at the leading master, as Mesos's /master/redirect does.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request) {
	l, ok := h.Elector.Leader()
	if !ok {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Location", "//"+l.HostPort())
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// leaderOnly serves on the leader and redirects elsewhere.
func (h *Handler) leaderOnly(serve func(http.ResponseWriter, *http.Request, *master.Master)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m := h.Master(); m != nil && h.Elector.IsLeader() {
			serve(w, r, m)
			return
		}
		l, ok := h.Elector.Leader()
		if !ok || h.Elector.IsLeader() {
			// Elected but not yet serving (recovering the registry), or none.
			http.Error(w, "No leader elected", http.StatusServiceUnavailable)
			return
		}
		loc := "//" + l.HostPort() + r.URL.Path
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
}

// jsonpCallback limits ?jsonp= to a JavaScript identifier path.
var jsonpCallback = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]*$`)

func (h *Handler) state(w http.ResponseWriter, r *http.Request, m *master.Master) {
	var self *mesos.MasterInfo
	if l, ok := h.Elector.Leader(); ok {
		self = MasterInfo(l)
	}
	b, err := json.Marshal(m.State(self))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		if !jsonpCallback.MatchString(cb) {
			http.Error(w, "invalid jsonp callback name", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(cb + "("))
		w.Write(b)
		w.Write([]byte(");"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// MasterInfo renders a leader's identity as Mesos's MasterInfo.
func MasterInfo(l leader.Info) *mesos.MasterInfo {
	return &mesos.MasterInfo{
		ID: l.ID, PID: l.PID(), Port: l.Port, Hostname: l.Hostname, IP: ipUint32(l.IP),
		Address: mesos.Address{Hostname: l.Hostname, IP: l.IP, Port: l.Port},
	}
}
