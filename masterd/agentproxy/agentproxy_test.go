package agentproxy_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/httpauth"
	"corral/masterd/agentproxy"
)

type agents map[string]struct {
	addr   string
	active bool
}

func (a agents) AgentAddr(id string) (string, bool, bool) {
	e, ok := a[id]
	return e.addr, e.active, ok
}

func (a agents) AgentSecret() string { return "" }

// sharing are agents with a shared secret.
type sharing struct {
	agents
	secret string
}

func (s sharing) AgentSecret() string { return s.secret }

// TestServe forwards to a real agent-like server and answers what cannot
// be forwarded with a message.
func TestServe(t *testing.T) {
	var seen *http.Request
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.Write([]byte(`{"data":"hi","offset":0}`))
	}))
	defer agent.Close()
	// An address nothing listens on: an agent that is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	known := agents{
		"S1": {strings.TrimPrefix(agent.URL, "http://"), true},
		"S2": {down, false},
		"S3": {"", true},
	}
	p := agentproxy.New(time.Second)
	tests := []struct {
		method, target string
		status         int
		message        string // in the error's message
	}{
		{"GET", "/agent/S1/files/read?path=/x/stdout&offset=0", 200, ""},
		{"GET", "/agent/S1/state", 200, ""},
		{"GET", "/agent/S9/files/read?path=/x", 404, `unknown agent "S9"`},
		{"GET", "/agent//files/read?path=/x", 404, "unknown agent"},
		{"GET", "/agent/S1/monitor/statistics", 404, "no agent endpoint"},
		{"GET", "/agent/S1/files/../state", 404, "no agent endpoint"},
		{"POST", "/agent/S1/files/read?path=/x", 405, "read-only"},
		{"GET", "/agent/S2/files/read?path=/x", 502, "did not answer"},
		{"GET", "/agent/S3/files/read?path=/x", 503, "no HTTP endpoint"},
	}
	for _, tt := range tests {
		seen = nil
		r := httptest.NewRequest(tt.method, tt.target, nil)
		r.SetBasicAuth("admin", "secret")
		w := httptest.NewRecorder()
		p.Serve(w, r, known)
		if w.Code != tt.status {
			t.Errorf("%s %s = %d %q, want %d", tt.method, tt.target, w.Code, w.Body, tt.status)
			continue
		}
		if tt.status != 200 {
			var m struct{ Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || !strings.Contains(m.Message, tt.message) {
				t.Errorf("%s %s = %q, want a message with %q", tt.method, tt.target, w.Body, tt.message)
			}
			if seen != nil {
				t.Errorf("%s %s reached the agent", tt.method, tt.target)
			}
			continue
		}
		want := strings.TrimPrefix(strings.SplitN(tt.target, "?", 2)[0], "/agent/S1")
		if seen == nil || seen.URL.Path != want || seen.URL.RawQuery != r.URL.RawQuery {
			t.Errorf("%s %s reached the agent as %v, want %s?%s", tt.method, tt.target, seen.URL, want, r.URL.RawQuery)
		}
		if seen.Header.Get("Authorization") != "" {
			t.Errorf("%s %s passed the master's credentials on to the agent", tt.method, tt.target)
		}
	}
}

// TestServeWithAgentSecret: where the agents share a secret, the proxy
// comes in with the token derived from it (an agent with
// --http-credentials takes it), never with the secret itself or the
// client's credentials for the masters.
func TestServeWithAgentSecret(t *testing.T) {
	var auth string
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	}))
	defer agent.Close()
	known := sharing{agents{"S1": {strings.TrimPrefix(agent.URL, "http://"), true}}, "s3cret"}
	r := httptest.NewRequest("GET", "/agent/S1/state", nil)
	r.SetBasicAuth("admin", "secret")
	w := httptest.NewRecorder()
	agentproxy.New(time.Second).Serve(w, r, known)
	if w.Code != 200 || auth != "Bearer "+httpauth.AgentProxyToken("s3cret") || strings.Contains(auth, "s3cret") {
		t.Errorf("GET /agent/S1/state = %d, the agent saw Authorization %q; want 200 and the token derived from the agents' secret, not the secret", w.Code, auth)
	}
}
