package httpproxy

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkServiceKeepAlive is a keep-alive GET through an HTTP service
// port to a fasthttp backend ("proxied"), and the same GET sent to the
// backend itself ("direct"): client, proxy and backend run in this
// process, so allocs/op counts all three.
func BenchmarkServiceKeepAlive(b *testing.B) {
	body := []byte("hello from the backend")
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	backendSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) }}
	go backendSrv.Serve(bln)
	defer backendSrv.Shutdown()

	h := newHarness(b, DefaultConfig(), nil)
	addr, _, port := h.serveService(b)
	h.tables.set(buildTable(b, 1, appSpec{id: "/bench", servicePort: port,
		labels: map[string]string{"HAPROXY_0_MODE": "http"}, backends: []string{bln.Addr().String()}}))

	b.Run("proxied", func(b *testing.B) { benchGet(b, addr, body) })
	b.Run("direct", func(b *testing.B) { benchGet(b, bln.Addr().String(), body) })
}

// benchGet measures keep-alive GETs to addr.
func benchGet(b *testing.B, addr string, body []byte) {
	client := &fasthttp.HostClient{Addr: addr, MaxConns: 1, ReadTimeout: 5 * time.Second}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://bench.example.com/path?x=" + strconv.Itoa(1))
	req.Header.Set("User-Agent", "bench")
	for i := 0; i < 100; i++ { // warm pools
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("warm-up request: %v %d", err, resp.StatusCode())
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := client.Do(req, resp); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if string(resp.Body()) != string(body) {
		b.Fatalf("body %q", resp.Body())
	}
}
