package mesosapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/masterd/leader"
	"corral/masterd/master"
	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// startMaster runs a real master over an embedded etcd behind the handler,
// as the leader.
func startMaster(t *testing.T) (*master.Master, *httptest.Server) {
	t.Helper()
	e, _ := statetest.Start(t)
	cfg := master.DefaultConfig()
	cfg.ID = "m1"
	m, err := master.New(cfg, state.NewStore(e.Client), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	self := &leader.Info{ID: "m1", Hostname: "127.0.0.1", IP: "127.0.0.1", Port: 5050}
	srv := httptest.NewServer(New(fixedLeader{l: self, leading: true}, func() *master.Master { return m }))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
	})
	return m, srv
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestOperatorCalls(t *testing.T) {
	m, srv := startMaster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := m.Subscribe(ctx, mesos.FrameworkInfo{Name: "marathon", ID: "fw-1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		want       string // substring of the body
	}{
		{"GET_STATE", `{"type":"GET_STATE"}`, 200, `"get_state":{"get_tasks":{"tasks":[]},"get_executors":{},"get_frameworks":{"frameworks":[{"framework_info":{"user":"","name":"marathon","id":{"value":"fw-1"}`},
		{"GET_FRAMEWORKS", `{"type":"GET_FRAMEWORKS"}`, 200, `{"type":"GET_FRAMEWORKS","get_frameworks":{"frameworks":[{`},
		{"GET_HEALTH", `{"type":"GET_HEALTH"}`, 200, `{"type":"GET_HEALTH","get_health":{"healthy":true}}`},
		{"GET_VERSION", `{"type":"GET_VERSION"}`, 200, `"version_info":{"version":"1.11.0"}`},
		{"GET_MASTER", `{"type":"GET_MASTER"}`, 200, `"master_info":{"id":"m1","pid":"master@127.0.0.1:5050"`},
		{"unsupported call", `{"type":"RESERVE_RESOURCES"}`, 400, `unsupported operator call type "RESERVE_RESOURCES"`},
		{"no type", `{}`, 400, `unsupported operator call type ""`},
		{"not JSON", `{"type":`, 400, "malformed operator call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, srv.URL+"/api/v1", tc.body)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("POST /api/v1 %s = %d %s, want %d containing %s", tc.body, resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1", strings.NewReader(`{"type":"GET_STATE"}`))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("protobuf call = %d, want 415", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /api/v1 = %d, want 405", resp.StatusCode)
	}
}

func TestOperatorStandbyRedirects(t *testing.T) {
	other := &leader.Info{ID: "x", Hostname: "m2.example", IP: "10.0.0.2", Port: 5050}
	w := httptest.NewRecorder()
	New(fixedLeader{l: other}, func() *master.Master { return nil }).ServeHTTP(w,
		httptest.NewRequest(http.MethodPost, "/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`)))
	if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != "//m2.example:5050/api/v1" {
		t.Fatalf("standby POST /api/v1 = %d Location %q, want 307 //m2.example:5050/api/v1", w.Code, w.Header().Get("Location"))
	}
}

// TestOperatorSubscribe reads the stream: SUBSCRIBED with the state, an
// event for a change, heartbeats, and its end when the master stops.
func TestOperatorSubscribe(t *testing.T) {
	defer func(d time.Duration) { operatorHeartbeat = d }(operatorHeartbeat)
	operatorHeartbeat = 50 * time.Millisecond
	m, srv := startMaster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := m.Subscribe(ctx, mesos.FrameworkInfo{Name: "before", ID: "fw-1"}); err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{"application/json", "application/recordio"} {
		t.Run(accept, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != accept {
				t.Fatalf("SUBSCRIBE = %d Content-Type %q, want 200 %q", resp.StatusCode, resp.Header.Get("Content-Type"), accept)
			}
			rr := mesos.NewRecordReader(resp.Body)
			var ev mesos.OperatorEvent
			if err := rr.Read(&ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != mesos.OperatorEventSubscribed || ev.Subscribed.HeartbeatIntervalSeconds != 15 ||
				len(ev.Subscribed.GetState.GetFrameworks.Frameworks) == 0 {
				b, _ := json.Marshal(ev)
				t.Fatalf("first event = %s, want SUBSCRIBED with the framework", b)
			}
			name := "after-" + accept
			if _, err := m.Subscribe(ctx, mesos.FrameworkInfo{Name: name}); err != nil {
				t.Fatal(err)
			}
			var sawAdded, sawHeartbeat bool
			for !sawAdded || !sawHeartbeat {
				if err := rr.Read(&ev); err != nil {
					t.Fatal(err)
				}
				switch ev.Type {
				case mesos.OperatorEventFrameworkAdded:
					if got := ev.FrameworkAdded.Framework.FrameworkInfo.Name; got != name {
						t.Fatalf("FRAMEWORK_ADDED of %q, want %q", got, name)
					}
					sawAdded = true
				case mesos.OperatorEventHeartbeat:
					sawHeartbeat = true
				}
			}
		})
	}
}
