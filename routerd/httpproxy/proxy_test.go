package httpproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEdgeRoutes(t *testing.T) {
	a := newBackend(t, "a", nil)
	b := newBackend(t, "b", nil)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1,
		appSpec{id: "/a", servicePort: 10001, labels: vhost("a.example.com"), backends: []string{a.addr()}},
		appSpec{id: "/b", servicePort: 10002, labels: withLabels(nil, "HAPROXY_0_MODE", "http", "HAPROXY_0_PATH", "/api"), backends: []string{b.addr()}},
	))
	c := &http.Client{}
	for _, tc := range []struct {
		host, path string
		hdr        http.Header
		code       int
		body       string
	}{
		{"a.example.com", "/", nil, 200, "a"},
		{"A.Example.com:80", "/x", nil, 200, "a"},
		{"other.example.com", "/api/v1", nil, 200, "b"},
		{"other.example.com", "/", nil, 404, "no route for host other.example.com\n"},
		{"other.example.com", "/", http.Header{"X-Marathon-App-Id": {"/a"}}, 200, "a"},
	} {
		code, body, _ := get(t, c, "GET", h.edge, tc.host, tc.path, tc.hdr)
		if code != tc.code || body != tc.body {
			t.Errorf("GET %s%s = %d %q, want %d %q", tc.host, tc.path, code, body, tc.code, tc.body)
		}
	}
}

func TestForwardedAndHopByHopHeaders(t *testing.T) {
	var got http.Header
	var mu sync.Mutex
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		got.Set("Host", r.Host)
		mu.Unlock()
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "1")
	})
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/a", servicePort: 10001, labels: vhost("a.example.com"), backends: []string{be.addr()}}))
	// net/http's client would drop these hop-by-hop fields itself: raw.
	c, err := net.Dial("tcp", h.edge)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /p?q=1 HTTP/1.1\r\nHost: a.example.com:8080\r\nX-Forwarded-For: 10.0.0.1\r\n"+
		"Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"+
		"X-Forwarded-Proto: https\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"X-Forwarded-For": "10.0.0.1, 127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "a.example.com:8080",
		"Host": "a.example.com:8080", "X-Secret": "", "Keep-Alive": "", "Te": "", "Proxy-Connection": "", "Connection": "",
	} {
		if v := got.Get(k); v != want {
			t.Errorf("backend saw %s: %q, want %q", k, v, want)
		}
	}
	for k, want := range map[string]string{"X-Resp-Hop": "", "Keep-Alive": "", "X-Kept": "1", "Connection": ""} {
		if v := resp.Header.Get(k); v != want {
			t.Errorf("client saw %s: %q, want %q", k, v, want)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	var backendConns, dials atomic.Int64
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") }))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			backendConns.Add(1)
		}
	}
	be.Start()
	defer be.Close()
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/a", servicePort: 10001, labels: vhost("a"), backends: []string{be.Listener.Addr().String()}}))
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	for i := 0; i < 20; i++ {
		if code, _, _ := get(t, c, "GET", h.edge, "a", "/", nil); code != 200 {
			t.Fatalf("GET = %d", code)
		}
	}
	if dials.Load() != 1 || backendConns.Load() != 1 {
		t.Errorf("20 sequential requests: %d client connections, %d backend connections; want 1 and 1", dials.Load(), backendConns.Load())
	}
}

func TestBalance(t *testing.T) {
	bs := []*backend{newBackend(t, "0", nil), newBackend(t, "1", nil), newBackend(t, "2", nil)}
	addrs := []string{bs[0].addr(), bs[1].addr(), bs[2].addr()}
	t.Run("roundrobin", func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/rr", servicePort: 10001, labels: vhost("rr"), backends: addrs}))
		seen := map[string]int{}
		for i := 0; i < 30; i++ {
			_, body, _ := get(t, http.DefaultClient, "GET", h.edge, "rr", "/", nil)
			seen[body]++
		}
		if seen["0"] != 10 || seen["1"] != 10 || seen["2"] != 10 {
			t.Errorf("roundrobin spread = %v, want 10 each", seen)
		}
	})
	t.Run("source", func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/src", servicePort: 10001,
			labels: withLabels(vhost("src"), "HAPROXY_0_BALANCE", "source"), backends: addrs}))
		seen := map[string]int{}
		for i := 0; i < 10; i++ {
			_, body, _ := get(t, &http.Client{Transport: &http.Transport{}}, "GET", h.edge, "src", "/", nil)
			seen[body]++
		}
		if len(seen) != 1 {
			t.Errorf("source balance from one client IP spread over %v, want one backend", seen)
		}
	})
	t.Run("leastconn", func(t *testing.T) {
		release := make(chan struct{})
		slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, "slow")
		})
		fast := newBackend(t, "fast", nil)
		h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/lc", servicePort: 10001,
			labels: withLabels(vhost("lc"), "HAPROXY_0_BALANCE", "leastconn"), backends: []string{slow.addr(), fast.addr()}}))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // occupies one backend, whichever gets it
			defer wg.Done()
			get(t, &http.Client{Transport: &http.Transport{}}, "GET", h.edge, "lc", "/", nil)
		}()
		waitFor(t, "a request in flight", func() bool { return slow.hits.Load()+fast.hits.Load() == 1 })
		if slow.hits.Load() == 1 {
			for i := 0; i < 10; i++ {
				if _, body, _ := get(t, http.DefaultClient, "GET", h.edge, "lc", "/", nil); body != "fast" {
					t.Errorf("leastconn with the slow backend busy went to %q", body)
				}
			}
		}
		close(release)
		wg.Wait()
	})
}

func TestSticky(t *testing.T) {
	bs := []*backend{newBackend(t, "0", nil), newBackend(t, "1", nil), newBackend(t, "2", nil)}
	tbl := buildTable(t, 1, appSpec{id: "/st", servicePort: 10001, labels: withLabels(vhost("st"), "HAPROXY_0_STICKY", "true"),
		backends: []string{bs[0].addr(), bs[1].addr(), bs[2].addr()}})
	h := newHarness(t, DefaultConfig(), tbl)
	_, first, resp := get(t, http.DefaultClient, "GET", h.edge, "st", "/", nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "corral_sticky" {
			cookie = c
		}
	}
	if cookie == nil || strings.Contains(cookie.Value, "task") {
		t.Fatalf("first response cookies %v, want an opaque corral_sticky", resp.Cookies())
	}
	for i := 0; i < 9; i++ {
		_, body, resp := get(t, http.DefaultClient, "GET", h.edge, "st", "/", http.Header{"Cookie": {cookie.String()}})
		if body != first {
			t.Errorf("request %d with the sticky cookie went to %q, want %q", i, body, first)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("request %d with a valid cookie got cookies %v, want none", i, resp.Cookies())
		}
	}
	_, _, resp = get(t, http.DefaultClient, "GET", h.edge, "st", "/", http.Header{"Cookie": {"corral_sticky=gone"}})
	if len(resp.Cookies()) != 1 {
		t.Errorf("a cookie naming no backend got cookies %v, want a new one", resp.Cookies())
	}
}

func TestRetryConnectFailure(t *testing.T) {
	live := newBackend(t, "live", nil)
	dead := refusedAddr(t)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/r", servicePort: 10001, labels: vhost("r"), backends: []string{dead, live.addr()}}))
	for i := 0; i < 6; i++ {
		for _, m := range []string{"GET", "POST"} {
			if code, body, _ := get(t, http.DefaultClient, m, h.edge, "r", "/", nil); code != 200 || body != "live" {
				t.Errorf("%s with a refusing backend = %d %q, want 200 from the live one", m, code, body)
			}
		}
	}
	if n := counterValue(t, h.m.Service("/r", 0, "http").ConnectErrors); n < 1 {
		t.Errorf("connect errors = %v, want some", n)
	}
}

func TestNoResendOnceSent(t *testing.T) {
	var hits [2]int64
	var mu sync.Mutex
	mk := func(i int) *backend {
		return newBackend(t, "drop", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[i]++
			mu.Unlock()
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close() // no answer
		})
	}
	b0, b1 := mk(0), mk(1)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/d", servicePort: 10001, labels: vhost("d"), backends: []string{b0.addr(), b1.addr()}}))
	req, _ := http.NewRequest("POST", "http://"+h.edge+"/", strings.NewReader("payload"))
	req.Host = "d"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 502 || string(body) != "backend failed for /d\n" || hits[0]+hits[1] != 1 {
		t.Errorf("POST to a backend that drops it = %d %q after %d sends, want 502 after 1", resp.StatusCode, body, hits[0]+hits[1])
	}
}

func TestErrors(t *testing.T) {
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) })
	cfg := DefaultConfig()
	cfg.BackendTimeout = 200 * time.Millisecond
	h := newHarness(t, cfg, buildTable(t, 1,
		appSpec{id: "/none", servicePort: 10001, labels: vhost("none")},
		appSpec{id: "/dead", servicePort: 10002, labels: vhost("dead"), backends: []string{refusedAddr(t)}},
		appSpec{id: "/slow", servicePort: 10003, labels: vhost("slow"), backends: []string{slow.addr()}},
	))
	for _, tc := range []struct {
		host string
		code int
		body string
	}{
		{"none", 503, "no healthy backend for /none\n"},
		{"dead", 502, "backend failed for /dead\n"},
		{"slow", 504, "backend timed out for /slow\n"},
	} {
		code, body, _ := get(t, http.DefaultClient, "GET", h.edge, tc.host, "/", nil)
		if code != tc.code || body != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.host, code, body, tc.code, tc.body)
		}
	}
	if n := counterValue(t, h.m.Service("/dead", 0, "http").Requests[4]); n != 1 {
		t.Errorf("5xx count of /dead = %v, want 1", n)
	}
}

func TestRedirectHTTPS(t *testing.T) {
	be := newBackend(t, "a", nil)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/a", servicePort: 10001,
		labels: withLabels(vhost("a.example.com"), "HAPROXY_0_REDIRECT_TO_HTTPS", "true"), backends: []string{be.addr()}}))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code, _, resp := get(t, c, "GET", h.edge, "a.example.com:80", "/x/y?q=1&r=2", nil)
	if loc := resp.Header.Get("Location"); code != 301 || loc != "https://a.example.com/x/y?q=1&r=2" {
		t.Errorf("GET = %d Location %q, want 301 https://a.example.com/x/y?q=1&r=2", code, loc)
	}
	if be.hits.Load() != 0 {
		t.Errorf("backend saw %d requests, want none", be.hits.Load())
	}
}

func TestTableSwapDrains(t *testing.T) {
	release := make(chan struct{})
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "old")
	})
	neu := newBackend(t, "new", nil)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/a", servicePort: 10001, labels: vhost("a"), backends: []string{old.addr()}}))
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, body, _ := get(t, &http.Client{Transport: &http.Transport{}}, "GET", h.edge, "a", "/", nil)
		done <- result{code, body}
	}()
	waitFor(t, "the request at the old backend", func() bool { return old.hits.Load() == 1 })
	h.tables.set(buildTable(t, 2, appSpec{id: "/a", servicePort: 10001, labels: vhost("a"), backends: []string{neu.addr()}}))
	for i := 0; i < 5; i++ {
		if _, body, _ := get(t, http.DefaultClient, "GET", h.edge, "a", "/", nil); body != "new" {
			t.Errorf("request after the swap went to %q, want new", body)
		}
	}
	close(release)
	if r := <-done; r.code != 200 || r.body != "old" {
		t.Errorf("request in flight across the swap = %d %q, want 200 old", r.code, r.body)
	}
}

func TestServeService(t *testing.T) {
	be := newBackend(t, "svc", nil)
	h := newHarness(t, DefaultConfig(), nil)
	addr, key, port := h.serveService(t)
	if code, body, _ := get(t, http.DefaultClient, "GET", addr, "x", "/", nil); code != 503 || body != "no service on "+key+"\n" {
		t.Errorf("GET with no table = %d %q, want 503", code, body)
	}
	h.tables.set(buildTable(t, 1, appSpec{id: "/svc", servicePort: port, labels: map[string]string{"HAPROXY_0_MODE": "http"}, backends: []string{be.addr()}}))
	// A new connection: connections count for the service listening when they are accepted.
	if code, body, _ := get(t, &http.Client{Transport: &http.Transport{}}, "GET", addr, "x", "/", nil); code != 200 || body != "svc" {
		t.Errorf("GET = %d %q, want 200 svc", code, body)
	}
	ms := h.m.Service("/svc", 0, "http")
	if n := counterValue(t, ms.Requests[1]); n != 1 {
		t.Errorf("2xx count = %v, want 1", n)
	}
	if n := counterValue(t, ms.Latency.(prometheus.Metric)); n != 1 {
		t.Errorf("latency samples = %v, want 1", n)
	}
	waitFor(t, "a counted connection", func() bool { return counterValue(t, ms.Connections) >= 1 })
}

func TestCloseIsGraceful(t *testing.T) {
	release := make(chan struct{})
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	})
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/a", servicePort: 10001, labels: vhost("a"), backends: []string{be.addr()}}))
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, body, _ := get(t, &http.Client{Transport: &http.Transport{}}, "GET", h.edge, "a", "/", nil)
		done <- result{code, body}
	}()
	waitFor(t, "the request at the backend", func() bool { return be.hits.Load() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- h.p.Close() }()
	waitFor(t, "the listener closed", func() bool {
		c, err := net.Dial("tcp", h.edge)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if r := <-done; r.code != 200 || r.body != "done" {
		t.Errorf("request in flight during Close = %d %q, want 200 done", r.code, r.body)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.DialTimeout = 0 }, "invalid dial timeout 0s, must be positive"},
		{func(c *Config) { c.WriteTimeout = -1 }, "invalid write timeout -1ns, must be 0 (none) or positive"},
		{func(c *Config) { c.MaxHeaderBytes = 10 }, "invalid max header bytes 10, must be in [1024, 1048576]"},
		{func(c *Config) { c.Retries = 11 }, "invalid retries 11, must be in [0, 10]"},
		{func(c *Config) { c.StickyCookie = "a b" }, `invalid sticky cookie name "a b", must be a non-empty HTTP token`},
	} {
		c := DefaultConfig()
		tc.change(&c)
		if err := c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
}
