package masterlink

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corral/mesos"
)

// TestSecretFollowsTheRedirect: a standby's 307 sends the agent to a
// leader on another host, and Go's client drops Authorization on such a
// redirect; the link sends the secret there too, on SUBSCRIBE and on its
// calls.
func TestSecretFollowsTheRedirect(t *testing.T) {
	var refused, heartbeats atomic.Int32
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			refused.Add(1)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"HEARTBEAT"`) {
			heartbeats.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set(mesos.StreamIDHeader, "s-1")
		w.WriteHeader(http.StatusOK)
		rw := mesos.NewRecordWriter(w)
		rw.Write(mesos.AgentEvent{Type: mesos.AgentEventSubscribed, Subscribed: &mesos.AgentSubscribed{AgentID: "a-1", HeartbeatIntervalSeconds: 0.05}})
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer leader.Close()
	// The leader by another host name than the standby's.
	leaderAddr := strings.Replace(strings.TrimPrefix(leader.URL, "http://"), "127.0.0.1", "localhost", 1)
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leaderAddr+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer standby.Close()

	l, err := New(Config{
		Masters: []string{strings.TrimPrefix(standby.URL, "http://")}, Secret: "s3cret",
		Info:       mesos.AgentInfo{Hostname: "h1", Port: 5051, Resources: mesos.MustParseResources("cpus:1")},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}, func(context.Context, mesos.AgentEvent) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-l.Registered():
	case <-time.After(5 * time.Second):
		t.Fatalf("not registered through the standby's redirect (%d requests refused for want of the secret)", refused.Load())
	}
	waitFor(t, 5*time.Second, "heartbeats with the secret", func() bool { return heartbeats.Load() >= 2 })
	if n := refused.Load(); n > 0 {
		t.Errorf("%d requests reached the leader without the secret", n)
	}
}
