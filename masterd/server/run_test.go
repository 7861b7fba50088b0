package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"corral/masterd/leader"
	"corral/masterd/marathon/events"
	"corral/masterd/marathon/framework"
	"corral/masterd/master"
	"corral/masterd/state"
	"corral/masterd/state/statetest"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func testServer(t *testing.T, endpoint string, configure ...func(*Config)) *Server {
	t.Helper()
	mc := master.DefaultConfig()
	mc.AllocationInterval = 50 * time.Millisecond
	mc.AgentPingTimeout = time.Second
	cfg := Config{
		Listen:         "127.0.0.1:0",
		MarathonListen: "127.0.0.1:0",
		Hostname:       "127.0.0.1",
		ElectionTTL:    time.Second,
		State:          state.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second},
		Master:         mc,
		Marathon:       framework.DefaultConfig(),
		Events:         events.DefaultConfig(),
	}
	for _, c := range configure {
		c(&cfg)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var noRedirects = &http.Client{
	Timeout:       time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func stateCode(s *Server) (int, string) {
	resp, err := noRedirects.Get("http://" + s.Addr().String() + "/master/state")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestRunStopsLeadingWhenServingFails: Run returns only after the elector
// and the master it runs have stopped, and the leadership is handed back.
func TestRunStopsLeadingWhenServingFails(t *testing.T) {
	e, url := statetest.Start(t)
	s := testServer(t, url)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	waitFor(t, 5*time.Second, "the server to lead", func() bool { c, _ := stateCode(s); return c == http.StatusOK })

	s.ln.Close() // serving fails
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Run() = nil after serving failed, want the error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s after serving failed")
	}
	if s.Elector().IsLeader() {
		t.Fatal("the elector still leads after Run returned")
	}
	resp, err := e.Client.Get(context.Background(), leader.Key+"/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("election keys after Run returned = %v (err %v), want none: the leader must resign", resp.Kvs, err)
	}
}

// TestStepsDownWhenEtcdGoesAway: a leader cut off from etcd stops serving
// as the leader within its election TTL and answers 503, never a redirect
// to itself; Run still returns promptly.
func TestStepsDownWhenEtcdGoesAway(t *testing.T) {
	_, url := statetest.Start(t)
	proxy := statetest.StartProxy(t, url)
	s := testServer(t, proxy.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	waitFor(t, 5*time.Second, "the server to lead", func() bool { c, _ := stateCode(s); return c == http.StatusOK })

	proxy.Cut()
	var code int
	var loc string
	waitFor(t, 5*time.Second, "the cut-off leader to stop serving", func() bool {
		code, loc = stateCode(s)
		// 0: no answer within the client's timeout; ask again.
		return code != http.StatusOK && code != 0
	})
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/master/state of the cut-off master = %d (Location %q), want 503", code, loc)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run() = %v, want nil after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context ending")
	}
}

// TestRefusesEmptyCredentials: --http-credentials with an empty user or
// password is a start-up error; served, it would refuse every client.
func TestRefusesEmptyCredentials(t *testing.T) {
	for _, tc := range []struct {
		creds string
		ok    bool
	}{
		{"", true},
		{"admin:s3cr:et", true},
		{"admin", false},
		{":secret", false},
		{"admin:", false},
		{":", false},
	} {
		cfg := Config{
			Listen:          "127.0.0.1:0",
			MarathonListen:  "127.0.0.1:0",
			Hostname:        "127.0.0.1",
			ElectionTTL:     time.Second,
			State:           state.Config{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: 2 * time.Second},
			Master:          master.DefaultConfig(),
			Marathon:        framework.DefaultConfig(),
			Events:          events.DefaultConfig(),
			HTTPCredentials: tc.creds,
		}
		_, err := New(cfg, slog.New(slog.DiscardHandler))
		if (err == nil) != tc.ok {
			t.Errorf("New with --http-credentials %q = %v, want ok %v", tc.creds, err, tc.ok)
		}
	}
}
