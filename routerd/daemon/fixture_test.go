package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/tstest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeMarathon plays a Marathon 1.x: /v2/apps?embed=apps.tasks from a
// file, /v2/apps/{id} from the same, and an event stream the test feeds.
type fakeMarathon struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex // guards apps, streams and down
	apps   []json.RawMessage
	events chan string
	down   bool
}

func newFakeMarathon(t *testing.T, appsFile string) *fakeMarathon {
	b, err := os.ReadFile(appsFile)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Apps []json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	f := &fakeMarathon{t: t, apps: list.Apps, events: make(chan string, 100)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMarathon) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	if down {
		f.srv.CloseClientConnections()
	}
}

func (f *fakeMarathon) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down := f.down
	apps := f.apps
	f.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.URL.Path == "/v2/apps":
		fmt.Fprintf(w, `{"apps":[%s]}`, bytes.Join(rawList(apps), []byte(",")))
	case strings.HasPrefix(r.URL.Path, "/v2/apps/"):
		id := strings.TrimPrefix(r.URL.Path, "/v2/apps")
		for _, a := range apps {
			var v struct{ ID string }
			json.Unmarshal(a, &v)
			if v.ID == id {
				fmt.Fprintf(w, `{"app":%s}`, a)
				return
			}
		}
		http.Error(w, `{"message":"App '`+id+`' does not exist"}`, http.StatusNotFound)
	case r.URL.Path == "/v2/events":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-f.events:
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		}
	default:
		http.NotFound(w, r)
	}
}

func rawList(apps []json.RawMessage) [][]byte {
	out := make([][]byte, len(apps))
	for i, a := range apps {
		out[i] = a
	}
	return out
}

func startDaemon(t *testing.T, marathonURL, serviceBind string) *Daemon {
	t.Helper()
	d, _ := startDaemonWith(t, testConfig(marathonURL, serviceBind))
	return d
}

// testConfig is routerd's configuration in these tests: quick retries, no
// resolver, everything on loopback.
func testConfig(marathonURL, serviceBind string) Config {
	cfg := DefaultConfig()
	cfg.Watch.URLs = []string{marathonURL}
	cfg.Watch.MaxBackoff = 100 * time.Millisecond
	cfg.Watch.FullReadInterval = 10 * time.Millisecond
	cfg.Route.ServiceBind = serviceBind
	cfg.HTTPListen, cfg.HTTPSListen, cfg.AdminListen = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.DrainTimeout = time.Second
	cfg.DNS.Enabled = false // the resolver has tests of its own
	return cfg
}

// startDaemonWith runs routerd with cfg until the test ends or stop is
// called.
func startDaemonWith(t *testing.T, cfg Config) (d *Daemon, stop func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

func sse(eventType, data string) string {
	return "event: " + eventType + "\ndata: " + data + "\n\n"
}

// TestFixtureRoutes plays a Marathon 1.x payload (host, bridge and
// container networking, health alive and dead, VHOST, PATH, GROUP, MODE
// labels, bad labels, a port conflict) and an event stream (a new task, its
// health, a kill, a late update of the killed task, garbage, an unknown
// event, an app's end), and compares /_router/routes with what marathon-lb
// would route.
func TestFixtureRoutes(t *testing.T) {
	m := newFakeMarathon(t, "testdata/apps.json")
	d := startDaemon(t, m.srv.URL, "127.0.0.3")
	admin := "http://" + d.AdminAddr()
	tstest.WaitFor(t, 5*time.Second, "the first table", func() bool { return d.Router.Table().Version >= 1 })

	m.events <- sse("status_update_event", `{"eventType":"status_update_event","timestamp":"2026-12-01T10:01:00.000Z","slaveId":"s1","taskId":"web.a4","taskStatus":"TASK_RUNNING","appId":"/web","host":"10.0.0.14","ports":[31004],"ipAddresses":[],"version":"2026-12-01T09:00:00.000Z"}`)
	m.events <- sse("health_status_changed_event", `{"eventType":"health_status_changed_event","timestamp":"2026-12-01T10:01:01.000Z","appId":"/web","taskId":"web.a4","instanceId":"web.marathon-a4","version":"2026-12-01T09:00:00.000Z","alive":true}`)
	m.events <- sse("status_update_event", `{"eventType":"status_update_event","timestamp":"2026-12-01T10:01:02.000Z","slaveId":"s1","taskId":"api_v1.b1","taskStatus":"TASK_KILLED","appId":"/api/v1","host":"agent-1.example.com","ports":[31010,31011]}`)
	m.events <- sse("status_update_event", `{"eventType":"status_update_event","timestamp":"2026-12-01T10:01:00.500Z","slaveId":"s1","taskId":"api_v1.b1","taskStatus":"TASK_RUNNING","appId":"/api/v1","host":"agent-1.example.com","ports":[31010,31011]}`)
	m.events <- sse("status_update_event", `{"eventType":"status_update_event","taskId":`) // truncated JSON
	m.events <- "data: {not json at all\n\n"
	m.events <- sse("pod_created_event", `{"eventType":"pod_created_event","timestamp":"2026-12-01T10:01:03.000Z","uri":"/v2/pods/p"}`)
	m.events <- sse("app_terminated_event", `{"eventType":"app_terminated_event","timestamp":"2026-12-01T10:01:04.000Z","appId":"/disabled"}`)
	tstest.WaitFor(t, 5*time.Second, "the events", func() bool { return d.watcher.Status().Events >= 6 })
	tstest.WaitFor(t, 5*time.Second, "the events' table", func() bool {
		for _, s := range d.Router.Table().Skipped {
			if s.AppID == "/disabled" {
				return false
			}
		}
		return true
	})

	resp, err := http.Get(admin + "/_router/routes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_router/routes: %s", resp.Status)
	}
	got := normalizeRoutes(body)
	golden := filepath.Join("testdata", "routes.golden")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/_router/routes differs from %s (run with -update to accept):\n%s", golden, got)
	}
	if st := d.watcher.Status(); st.BadEvents != 2 {
		t.Errorf("bad events = %d, want 2 (the truncated and the garbage one)", st.BadEvents)
	}
}

var volatile = regexp.MustCompile(`"(version|built|ageSeconds)": [^,\n]+`)

// normalizeRoutes blanks what changes from run to run.
func normalizeRoutes(b []byte) []byte {
	return volatile.ReplaceAll(b, []byte(`"$1": "…"`))
}

// TestMarathonDown: Marathon down at start (health says there is no table
// yet), then up (routes), then down midway (the last table keeps routing,
// health says since when), then back (read again).
func TestMarathonDown(t *testing.T) {
	m := newFakeMarathon(t, "testdata/apps.json")
	m.setDown(true)
	d := startDaemon(t, m.srv.URL, "127.0.0.4")
	admin := "http://" + d.AdminAddr()
	type health struct {
		Status   string   `json:"status"`
		Problems []string `json:"problems"`
	}
	var h health
	tstest.WaitFor(t, 5*time.Second, "a degraded health at start", func() bool {
		return getJSON(t, admin+"/_router/health", &h) == http.StatusServiceUnavailable && h.Status == "degraded" &&
			strings.Contains(strings.Join(h.Problems, ";"), "no route table yet")
	})

	m.setDown(false)
	tstest.WaitFor(t, 5*time.Second, "routes once Marathon is up", func() bool {
		return d.Router.Table().Listener("127.0.0.4:10101") != nil
	})
	tstest.WaitFor(t, 5*time.Second, "health ok", func() bool {
		h = health{}
		return getJSON(t, admin+"/_router/health", &h) == http.StatusOK && h.Status == "ok"
	})
	version := d.Router.Table().Version

	m.setDown(true)
	tstest.WaitFor(t, 5*time.Second, "a degraded health midway", func() bool {
		h = health{}
		return getJSON(t, admin+"/_router/health", &h) == http.StatusServiceUnavailable &&
			strings.Contains(strings.Join(h.Problems, ";"), "marathon unreachable since")
	})
	if tab := d.Router.Table(); tab.Version != version || tab.Listener("127.0.0.4:10101") == nil {
		t.Errorf("table while Marathon is down: version %d (was %d), /web routed %v; want the last good table kept",
			tab.Version, version, tab.Listener("127.0.0.4:10101") != nil)
	}

	m.setDown(false)
	tstest.WaitFor(t, 5*time.Second, "a new read on return", func() bool { return d.Router.Table().Version > version })
	tstest.WaitFor(t, 5*time.Second, "health ok again", func() bool {
		h = health{}
		return getJSON(t, admin+"/_router/health", &h) == http.StatusOK
	})
}
