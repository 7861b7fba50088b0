package httpproxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"corral/marathon"
	"corral/routerd/metrics"
	"corral/routerd/route"
	"corral/tstest"
)

// appSpec is an app of a test table: its service port, labels and the
// addresses of its running tasks.
type appSpec struct {
	id          string
	servicePort int
	labels      map[string]string
	backends    []string
}

func buildTable(t testing.TB, version uint64, specs ...appSpec) *route.Table {
	t.Helper()
	var apps []marathon.AppInfo
	for _, s := range specs {
		app := marathon.NewApp(s.id)
		app.PortDefinitions = []marathon.PortDefinition{{Port: s.servicePort, Protocol: "tcp"}}
		app.Labels = s.labels
		info := marathon.AppInfo{App: app}
		for i, b := range s.backends {
			host, port, err := net.SplitHostPort(b)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := strconv.Atoi(port)
			info.Tasks = append(info.Tasks, marathon.Task{
				ID: fmt.Sprintf("%s.task%d", strings.TrimPrefix(s.id, "/"), i), AppID: s.id, Host: host,
				Ports: []int{p}, State: "TASK_RUNNING", StartedAt: "2024-01-01T00:00:00.000Z",
			})
		}
		apps = append(apps, info)
	}
	tbl := route.Build(route.DefaultConfig(), apps, nil, version, time.Now())
	if len(tbl.Skipped) > 0 {
		t.Fatalf("table skipped ports: %+v", tbl.Skipped)
	}
	return tbl
}

// tables holds the current table, swapped atomically as routerd does.
type tables struct{ p atomic.Pointer[route.Table] }

func (ts *tables) get() *route.Table  { return ts.p.Load() }
func (ts *tables) set(t *route.Table) { ts.p.Store(t) }

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type harness struct {
	p      *Proxy
	m      *metrics.Metrics
	tables *tables
	edge   string // host:port of the plain edge
}

// newHarness starts a proxy serving the edge on loopback.
func newHarness(t testing.TB, cfg Config, tbl *route.Table) *harness {
	t.Helper()
	h := &harness{m: metrics.New(), tables: &tables{}}
	h.tables.set(tbl)
	p, err := New(cfg, h.tables.get, h.m, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.edge = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- p.ServeEdge(ln) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-done; err != ErrClosed {
			t.Errorf("ServeEdge() = %v, want ErrClosed", err)
		}
	})
	return h
}

// serveService serves an HTTP service port on loopback and returns its
// address and the listen key the table must use for it.
func (h *harness) serveService(t testing.TB) (addr, key string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	key = net.JoinHostPort("0.0.0.0", strconv.Itoa(port))
	done := make(chan error, 1)
	go func() { done <- h.p.ServeService(ln, key) }()
	t.Cleanup(func() {
		h.p.Close()
		<-done
	})
	return ln.Addr().String(), key, port
}

// backend is a named test backend counting its requests.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
	last atomic.Pointer[http.Request]
}

func newBackend(t testing.TB, name string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.last.Store(r)
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// get sends a request to addr with Host host and returns status, body
// and the response.
func get(t testing.TB, c *http.Client, method, addr, host, path string, hdr http.Header) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// rawRequest writes raw to addr and returns the response's status code
// (0 when the connection closed without one) and the whole answer.
func rawRequest(t testing.TB, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func counterValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return float64(d.Histogram.GetSampleCount())
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tstest.WaitFor(t, 5*time.Second, what, cond)
}

func vhost(h string) map[string]string { return map[string]string{"HAPROXY_0_VHOST": h} }

func withLabels(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
