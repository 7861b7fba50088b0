package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/masterd/state/statetest"
	"corral/mesos"
)

// TestMesosPortAuthWiring: the Mesos port's handler, as Run composes it,
// puts everything mounted on it behind --http-credentials (the state, the
// operator API, /metrics, the agent sandbox proxy) but the probes, the
// leader lookup and the agent protocol, which the agent secret guards.
func TestMesosPortAuthWiring(t *testing.T) {
	_, url := statetest.Start(t)
	s := testServer(t, url, func(c *Config) { c.HTTPCredentials, c.AgentSecret = "admin:pw", "s3cret" })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	defer func() { cancel(); <-errc }()
	base := "http://" + s.Addr().String()
	do := func(method, path, body string, header ...string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	basic := "Basic YWRtaW46cHc=" // admin:pw
	waitFor(t, 5*time.Second, "the server to lead", func() bool {
		return do("GET", "/master/state", "", "Authorization", basic) == http.StatusOK
	})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/master/state", ""},
		{"GET", "/state.json", ""},
		{"POST", "/api/v1", `{"type":"GET_HEALTH"}`},
		{"GET", "/metrics", ""},
		{"GET", "/metrics/snapshot", ""},
		{"GET", "/agent/x-S1/state", ""},
	} {
		if code := do(tc.method, tc.path, tc.body); code != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s = %d, want 401", tc.method, tc.path, code)
		}
		if code := do(tc.method, tc.path, tc.body, "Authorization", basic); code == http.StatusUnauthorized {
			t.Errorf("%s %s with the credentials = 401", tc.method, tc.path)
		}
	}
	for _, path := range []string{"/health", "/master/health"} {
		if code := do("GET", path, ""); code != http.StatusOK {
			t.Errorf("anonymous GET %s = %d, want 200", path, code)
		}
	}
	if code := do("GET", "/master/redirect", ""); code != http.StatusTemporaryRedirect {
		t.Errorf("anonymous GET /master/redirect = %d, want 307", code)
	}
	// The agent protocol answers to the agent secret, not to the credentials.
	hb := `{"type":"HEARTBEAT","agent_id":"nobody"}`
	if code := do("POST", mesos.AgentAPIPath, hb, "Authorization", basic); code != http.StatusUnauthorized {
		t.Errorf("agent call with the HTTP credentials but not the secret = %d, want 401", code)
	}
	if code := do("POST", mesos.AgentAPIPath, hb, "Authorization", "Bearer s3cret"); code != http.StatusBadRequest {
		t.Errorf("agent call with the secret = %d, want 400 (unknown agent: past authentication)", code)
	}
}
