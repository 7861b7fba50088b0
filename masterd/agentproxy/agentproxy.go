// Package agentproxy forwards /agent/<agentID>/files/… and
// /agent/<agentID>/state to the agent's own HTTP endpoint, the address it
// registered with, as DC/OS's admin router does: a browser that reaches
// only the masters can read any task's sandbox (see agentd/files).
package agentproxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"corral/httpauth"
)

// Agents finds the agents the leading master knows.
type Agents interface {
	// AgentAddr returns the agent's HTTP address (host:port, "" if it
	// serves none), whether it is connected, and false if it is unknown.
	AgentAddr(id string) (addr string, active, ok bool)
	// AgentSecret is the agents' shared secret, "" if there is none: the
	// proxy presents the token derived from it (httpauth.AgentProxyToken),
	// which an agent with --http-credentials takes from the masters.
	AgentSecret() string
}

// Prefix is the path every proxied request starts with.
const Prefix = "/agent/"

// forwarded are the agent endpoints served through the masters: reading
// sandboxes and the agent's state, which names them. Nothing that changes
// the agent.
var forwarded = map[string]bool{
	"files/browse": true, "files/browse.json": true,
	"files/read": true, "files/read.json": true,
	"files/download": true, "files/download.json": true,
	"state": true, "state.json": true,
}

// Proxy forwards requests to agents.
type Proxy struct {
	transport *http.Transport
}

// New returns a proxy whose connections to agents time out after dial.
func New(dial time.Duration) *Proxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &Proxy{transport: tr}
}

// Serve forwards r, a GET of /agent/<agentID>/<endpoint>, to the agent.
// An unknown agent or endpoint is 404; an agent that does not answer 502.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, agents Agents) {
	rest, _ := strings.CutPrefix(r.URL.Path, Prefix)
	id, endpoint, _ := strings.Cut(rest, "/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeMessage(w, http.StatusMethodNotAllowed, "agents' endpoints are read-only through the masters: use GET")
		return
	}
	if !forwarded[endpoint] {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("no agent endpoint %q through the masters; there are /agent/<agentID>/files/{browse,read,download} and /agent/<agentID>/state", endpoint))
		return
	}
	addr, active, ok := agents.AgentAddr(id)
	switch {
	case id == "" || !ok:
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("unknown agent %q", id))
		return
	case addr == "":
		writeMessage(w, http.StatusServiceUnavailable, fmt.Sprintf("agent %s serves no HTTP endpoint (started without --listen)", id))
		return
	}
	secret := agents.AgentSecret()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &url.URL{Scheme: "http", Host: addr, Path: "/" + endpoint, RawQuery: pr.In.URL.RawQuery}
			pr.Out.Host = addr
			// The masters' credentials are not the agent's business; a
			// token derived from the agents' secret is (never the secret
			// itself, which this plain HTTP would show to the network).
			pr.Out.Header.Del("Authorization")
			if secret != "" {
				pr.Out.Header.Set("Authorization", "Bearer "+httpauth.AgentProxyToken(secret))
			}
			pr.Out.Header.Del("Cookie")
			pr.SetXForwarded()
		},
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			state := "connected"
			if !active {
				state = "disconnected from the master"
			}
			writeMessage(w, http.StatusBadGateway, fmt.Sprintf("agent %s at %s (%s) did not answer: %v", id, addr, state, err))
		},
	}
	rp.ServeHTTP(w, r)
}

// writeMessage answers an error as the Marathon API does.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{msg})
}
