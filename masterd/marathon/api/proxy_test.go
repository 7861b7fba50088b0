package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/marathon"
)

// echoLeader is a leader that answers every request with what it got, and
// /v2/events with one event on a stream that stays open until the client
// leaves or release is closed.
func echoLeader(t *testing.T, release chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("event: event_stream_attached\ndata: {\"remoteAddress\":\"x\"}\n\n"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-From", "leader")
		w.WriteHeader(http.StatusTeapot)
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "uri": r.URL.RequestURI(), "body": string(body), "host": r.Host,
			"via": r.Header.Values(headerVia), "forwardedFor": r.Header.Get("X-Forwarded-For"),
			"auth": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// standby returns the API of a master that does not lead, with the
// leader at addr.
func standby(t *testing.T, addr string, mutate ...func(*Config)) (http.Handler, *fakeLead) {
	t.Helper()
	lead := &fakeLead{leader: addr, elected: addr != ""}
	cfg := DefaultConfig()
	cfg.Self = "standby.example:8080"
	cfg.LeaderWait = 20 * time.Millisecond
	for _, m := range mutate {
		m(&cfg)
	}
	return New(cfg, lead, testLogger()), lead
}

func TestStandbyForwards(t *testing.T) {
	leader := echoLeader(t, nil)
	addr := strings.TrimPrefix(leader.URL, "http://")
	h, _ := standby(t, addr, func(c *Config) { c.Credentials = "u:p" })

	rec := do(t, h, "PUT", "/v2/apps//prod/web?force=true", `{"instances": 2}`,
		"Authorization: Basic dTpw", "X-Forwarded-For: 203.0.113.9")
	if rec.Code != http.StatusTeapot || rec.Header().Get("X-From") != "leader" {
		t.Fatalf("forwarded PUT: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	var got struct {
		Method, URI, Body, Host, ForwardedFor, Auth string
		Via                                         []string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := "1.1 standby.example:8080"
	if got.Method != "PUT" || got.URI != "/v2/apps/prod/web?force=true" || got.Body != `{"instances": 2}` || got.Host != addr ||
		got.Auth != "Basic dTpw" || len(got.Via) != 1 || got.Via[0] != want || got.ForwardedFor != "203.0.113.9, 192.0.2.1" {
		t.Errorf("leader got %+v", got)
	}
	if v := rec.Header().Values(headerVia); len(v) != 1 || v[0] != want {
		t.Errorf("response %s %v, want %q", headerVia, v, want)
	}

	// Authentication happens before forwarding.
	if rec := do(t, h, "GET", "/v2/apps", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("unauthenticated request forwarded: %d", rec.Code)
	}
	// A standby answers /ping and GET /v2/leader itself.
	if rec := do(t, h, "GET", "/ping", ""); rec.Code != http.StatusOK || rec.Body.String() != "pong\n" {
		t.Errorf("GET /ping on a standby: %d %q", rec.Code, rec.Body)
	}
	li := expect[marathon.LeaderInfo](t, do(t, h, "GET", "/v2/leader", "", "Authorization: Basic dTpw"), http.StatusOK)
	if li.Leader != addr {
		t.Errorf("GET /v2/leader on a standby: %q, want %q", li.Leader, addr)
	}
	// Unknown paths are the leader's business too.
	if rec := do(t, h, "GET", "/v2/nope", "", "Authorization: Basic dTpw"); rec.Code != http.StatusTeapot {
		t.Errorf("GET /v2/nope on a standby: %d", rec.Code)
	}
}

func TestStandbyStreamsEvents(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	leader := echoLeader(t, release)
	h, _ := standby(t, strings.TrimPrefix(leader.URL, "http://"))
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v2/events through a standby: %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The leader holds the stream open: the event arrives only if the
	// proxy flushes as it goes.
	for _, want := range []string{"event: event_stream_attached", `data: {"remoteAddress":"x"}`} {
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("stream line %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q within 5s: the proxy buffers the stream", want)
		}
	}
}

func TestStandbyWithoutLeader(t *testing.T) {
	h, lead := standby(t, "")
	start := time.Now()
	expectError(t, do(t, h, "GET", "/v2/apps", ""), http.StatusServiceUnavailable, `{"message": "Could not determine the current leader"}`)
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("answered after %v, want a wait of LeaderWait for an election", waited)
	}
	expectError(t, do(t, h, "GET", "/v2/leader", ""), http.StatusNotFound, `{"message": "There is no leader"}`)

	// The election names this master, which does not lead yet: it never
	// forwards to itself.
	lead.mu.Lock()
	lead.leader, lead.elected = "standby.example:8080", true
	lead.mu.Unlock()
	expectError(t, do(t, h, "GET", "/v2/apps", ""), http.StatusServiceUnavailable, `{"message": "Could not determine the current leader"}`)

	// Leadership arrives while the request waits.
	h, lead = standby(t, "", func(c *Config) { c.LeaderWait = 5 * time.Second })
	timer := time.AfterFunc(30*time.Millisecond, func() { lead.setBackend(newFakeBackend()) })
	defer timer.Stop()
	expect[marathon.AppList](t, do(t, h, "GET", "/v2/apps", ""), http.StatusOK)
}

func TestStandbyProxyErrors(t *testing.T) {
	h, _ := standby(t, "leader.example:8080")
	expectError(t, do(t, h, "GET", "/v2/apps", "", headerVia+": 1.1 standby.example:8080"), http.StatusBadGateway,
		`{"message": "Detected proxying loop."}`)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	h, _ = standby(t, addr)
	expectError(t, do(t, h, "GET", "/v2/apps", ""), http.StatusBadGateway, `{"message": "Connection to leader refused."}`)
}
