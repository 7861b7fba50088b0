// Package httpproxy is routerd's HTTP proxy: the shared edge, which routes
// by Host, path and X-Marathon-App-Id as marathon-lb's HAProxy frontends
// do, its TLS twin with certificates picked by SNI, and the service ports
// in HTTP mode. It reads the route table on every request, so a new table
// applies at once and never fails a request in flight, and it keeps one
// keep-alive pool per backend address across table versions.
//
// It is built on fasthttp and avoids allocations per request: the request
// a client sent is forwarded as parsed (hop-by-hop headers removed,
// X-Forwarded-* set) and the backend's response body is streamed back.
package httpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"corral/accept"
	"corral/routerd/metrics"
	"corral/routerd/route"
)

// ErrClosed is returned by the Serve methods after Close.
var ErrClosed = errors.New("httpproxy: proxy closed")

// Proxy serves HTTP on the edge and the service ports.
type Proxy struct {
	cfg   Config
	table func() *route.Table
	m     *metrics.Metrics
	log   *slog.Logger
	certs *certStore

	services sync.Map // *route.Service → *service, for the tables in use

	mu        sync.Mutex // guards upstreams, servers, tunnels and closed
	upstreams map[string]*upstream
	servers   []*fasthttp.Server
	tunnels   map[net.Conn]struct{} // both ends of every WebSocket tunnel
	closed    bool

	tunnelWG    sync.WaitGroup // WebSocket tunnels running
	stop        chan struct{}  // closed by Close: stops the janitor
	janitorDone chan struct{}

	bodies sync.Pool // *body
}

// New returns a proxy serving the routes table returns (nil: no routes
// yet). A nil m gets private metrics, a nil log discards.
func New(cfg Config, table func() *route.Table, m *metrics.Metrics, log *slog.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if table == nil {
		return nil, errors.New("httpproxy: no route table function")
	}
	if m == nil {
		m = metrics.New()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "httpproxy")
	p := &Proxy{
		cfg: cfg, table: table, m: m, log: log,
		upstreams:   map[string]*upstream{},
		tunnels:     map[net.Conn]struct{}{},
		stop:        make(chan struct{}),
		janitorDone: make(chan struct{}),
	}
	p.certs = newCertStore(cfg.TLSCertDir, cfg.CertCheckInterval, table, log)
	p.bodies.New = func() any { return new(body) }
	interval := cfg.UnusedBackendTTL / 4
	go func() {
		defer close(p.janitorDone)
		p.janitor(p.stop, interval)
	}()
	return p, nil
}

// ServeEdge serves the shared edge on ln until Close: requests go to the
// service table().MatchHTTP picks; none is a 404.
func (p *Proxy) ServeEdge(ln net.Listener) error {
	return p.serve(accept.Retrying(ln, ln.Addr().String(), p.log), p.newServer(p.edgeHandler(false)))
}

// ServeEdgeTLS serves the shared edge over TLS on ln until Close, with the
// certificate matching the client's SNI among TLSCertDir's and the
// services' HAPROXY_{n}_SSL_CERT files (the first by file name when none
// matches).
func (p *Proxy) ServeEdgeTLS(ln net.Listener) error {
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: p.certs.get,
		NextProtos:     []string{"http/1.1"},
	}
	return p.serve(tls.NewListener(accept.Retrying(ln, ln.Addr().String(), p.log), tc), p.newServer(p.edgeHandler(true)))
}

// HasCertificates reports whether the edge has a certificate to serve TLS
// with.
func (p *Proxy) HasCertificates() bool { return p.certs.has() }

// serviceCache is the service a service port resolved for one table.
type serviceCache struct {
	t  *route.Table
	st *service // nil: no service listens there in t
}

// ServeService serves the HTTP-mode service port listenAddr on ln until
// Close: every request goes to the service table().Listener(listenAddr)
// names then; none is a 503.
func (p *Proxy) ServeService(ln net.Listener, listenAddr string) error {
	var cache atomic.Pointer[serviceCache]
	lookup := func() *service {
		t := p.table()
		if t == nil {
			return nil
		}
		if c := cache.Load(); c != nil && c.t == t {
			return c.st
		}
		c := &serviceCache{t: t}
		if s := t.Listener(listenAddr); s != nil {
			c.st = p.serviceFor(s)
		}
		cache.Store(c)
		return c.st
	}
	noService := []byte("no service on " + listenAddr + "\n")
	srv := p.newServer(func(ctx *fasthttp.RequestCtx) {
		if !wellFormed(ctx) {
			return
		}
		st := lookup()
		if st == nil {
			plainError(ctx, fasthttp.StatusServiceUnavailable, noService)
			return
		}
		p.proxy(ctx, st, false)
	})
	var mu sync.Mutex // guards open
	open := map[net.Conn]*metrics.Service{}
	srv.ConnState = func(c net.Conn, s fasthttp.ConnState) {
		switch s {
		case fasthttp.StateNew:
			if st := lookup(); st != nil {
				st.m.Connections.Inc()
				st.m.Active.Inc()
				mu.Lock()
				open[c] = st.m
				mu.Unlock()
			}
		case fasthttp.StateClosed, fasthttp.StateHijacked:
			mu.Lock()
			m := open[c]
			delete(open, c)
			mu.Unlock()
			if m != nil {
				m.Active.Dec()
			}
		}
	}
	return p.serve(accept.Retrying(ln, listenAddr, p.log), srv)
}

// Close stops every server: listeners close at once, requests in flight
// finish (up to ShutdownTimeout), then WebSocket tunnels are cut.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	servers := p.servers
	p.mu.Unlock()
	close(p.stop)
	<-p.janitorDone

	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex // guards errs
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.ShutdownWithContext(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("shutting down a server: %w", err))
				emu.Unlock()
			}
		}()
	}
	wg.Wait()

	p.mu.Lock()
	for c := range p.tunnels {
		c.Close()
	}
	p.mu.Unlock()
	p.tunnelWG.Wait()

	p.mu.Lock()
	for _, u := range p.upstreams {
		u.hc.CloseIdleConnections()
	}
	p.mu.Unlock()
	return errors.Join(errs...)
}

func (p *Proxy) serve(ln net.Listener, srv *fasthttp.Server) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	p.servers = append(p.servers, srv)
	p.mu.Unlock()
	err := srv.Serve(ln)
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return err
}

func (p *Proxy) newServer(h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      h,
		ErrorHandler:                 refuse,
		Logger:                       fasthttpLogger{p.log},
		ReadBufferSize:               p.cfg.MaxHeaderBytes,
		ReadTimeout:                  p.cfg.ReadTimeout,
		WriteTimeout:                 p.cfg.WriteTimeout,
		IdleTimeout:                  p.cfg.IdleTimeout,
		MaxRequestBodySize:           p.cfg.BodyBufferBytes,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		SecureErrorLogMessage:        true,
		CloseOnShutdown:              true,
	}
}

// edgeHandler routes by Host, path and X-Marathon-App-Id.
func (p *Proxy) edgeHandler(isTLS bool) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !wellFormed(ctx) {
			return
		}
		var s *route.Service
		if t := p.table(); t != nil {
			s = t.MatchHTTP(b2s(ctx.Host()), b2s(ctx.Path()), b2s(ctx.Request.Header.Peek(hdrAppID)))
		}
		if s == nil {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.Response.Header.SetContentType(textPlain)
			ctx.Response.AppendBodyString("no route for host ")
			ctx.Response.AppendBody(ctx.Host())
			ctx.Response.AppendBodyString("\n")
			return
		}
		p.proxy(ctx, p.serviceFor(s), isTLS)
	}
}

// proxy forwards the request to one of st's backends.
func (p *Proxy) proxy(ctx *fasthttp.RequestCtx, st *service, isTLS bool) {
	s := st.svc
	if s.RedirectHTTPS && !isTLS {
		redirectHTTPS(ctx)
		st.m.Request(fasthttp.StatusMovedPermanently)
		return
	}
	if s.Auth != nil && !st.auth.allow(ctx) {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set("WWW-Authenticate", st.auth.challenge)
		ctx.Response.Header.SetContentType(textPlain)
		ctx.Response.SetBodyString("authentication required\n")
		st.m.Request(fasthttp.StatusUnauthorized)
		return
	}
	if isUpgrade(ctx) {
		p.tunnel(ctx, st, isTLS)
		return
	}
	clientClose := p.prepareRequest(ctx, isTLS, false)
	stuck := -1
	if s.Sticky {
		stuck = st.stickyBackend(ctx, p.cfg.StickyCookie)
	}
	resp := fasthttp.AcquireResponse()
	start := time.Now()
	var (
		tried  uint64
		err    error
		up     *upstream
		chosen = -1
	)
	for attempt := 0; attempt <= p.cfg.Retries; attempt++ {
		i := stuck
		if attempt > 0 || i < 0 {
			i = st.pick(ctx, tried)
		}
		if i < 0 {
			break
		}
		if i < 64 {
			tried |= 1 << i
		}
		up = st.ups[i]
		up.inflight.Add(1)
		err = up.hc.Do(&ctx.Request, resp)
		if err == nil {
			chosen = i
			break
		}
		up.inflight.Add(-1)
		var de *dialError
		if !errors.As(err, &de) {
			break
		}
		st.m.ConnectErrors.Inc()
	}
	if chosen < 0 {
		fasthttp.ReleaseResponse(resp)
		code, msg := fasthttp.StatusServiceUnavailable, st.noBackend
		switch {
		case err == nil || errors.Is(err, fasthttp.ErrNoFreeConns):
		case brokenChunks(ctx, err):
			// The client's chunked body went wrong while streamed: the
			// backend connection was closed mid-request, never reused.
			code, msg, clientClose = fasthttp.StatusBadRequest, []byte("bad request: broken chunked body\n"), true
		case isTimeout(err):
			code, msg = fasthttp.StatusGatewayTimeout, st.timedOut
		default:
			code, msg = fasthttp.StatusBadGateway, st.failed
		}
		if err != nil {
			p.log.Debug("backend request failed", "app", s.AppID, "port", s.PortIndex, "err", err)
		}
		plainError(ctx, code, msg)
		if clientClose {
			ctx.SetConnectionClose()
		}
		st.m.Request(code)
		return
	}
	now := time.Now()
	st.m.Latency.Observe(now.Sub(start).Seconds())
	if sec := now.Unix(); up.lastUsed.Load() != sec {
		up.lastUsed.Store(sec)
	}
	p.writeResponse(ctx, resp, up, clientClose)
	if s.Sticky && chosen != stuck {
		c := fasthttp.AcquireCookie()
		c.SetKey(p.cfg.StickyCookie)
		c.SetValue(st.sticky[chosen])
		c.SetPath("/")
		c.SetHTTPOnly(true)
		ctx.Response.Header.SetCookie(c)
		fasthttp.ReleaseCookie(c)
	}
	st.m.Request(ctx.Response.StatusCode())
}

// writeResponse hands the backend's response to the client: headers now,
// the body streamed by fasthttp once the handler returns.
func (p *Proxy) writeResponse(ctx *fasthttp.RequestCtx, resp *fasthttp.Response, up *upstream, clientClose bool) {
	resp.Header.CopyTo(&ctx.Response.Header)
	stripResponse(&ctx.Response.Header)
	ctx.Response.Header.ResetConnectionClose()
	if clientClose {
		ctx.SetConnectionClose()
	}
	if !resp.IsBodyStream() {
		ctx.Response.SetBody(resp.Body())
		fasthttp.ReleaseResponse(resp)
		up.inflight.Add(-1)
		return
	}
	b := p.bodies.Get().(*body)
	b.p, b.resp, b.up, b.r = p, resp, up, resp.BodyStream()
	n := resp.Header.ContentLength()
	if n < -1 {
		n = -1 // the backend's body ends when it closes: chunked to the client
	}
	ctx.Response.SetBodyStream(b, n)
}

// body streams a backend's response body to the client; fasthttp closes
// it once written (or failed), which returns the backend connection to
// its pool, or closes it when the body was not read to its end.
type body struct {
	p    *Proxy
	resp *fasthttp.Response
	up   *upstream
	r    io.Reader
}

func (b *body) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWithError implements fasthttp.ReadCloserWithError.
func (b *body) CloseWithError(err error) error {
	if rc, ok := b.r.(fasthttp.ReadCloserWithError); ok {
		rc.CloseWithError(err)
	}
	fasthttp.ReleaseResponse(b.resp)
	b.up.inflight.Add(-1)
	p := b.p
	*b = body{}
	p.bodies.Put(b)
	return nil
}

// brokenChunks reports whether err, which ended forwarding a chunked
// request, came from decoding the client's chunks rather than from the
// network: fasthttp's chunk parser returns plain errors ("empty hex
// number") or ErrBrokenChunk, network failures are net.Errors or EOF.
func brokenChunks(ctx *fasthttp.RequestCtx, err error) bool {
	if ctx.Request.Header.ContentLength() != -1 {
		return false
	}
	var broken fasthttp.ErrBrokenChunk
	if errors.As(err, &broken) {
		return true
	}
	var ne net.Error
	return !errors.As(err, &ne) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, fasthttp.ErrConnectionClosed) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE)
}

// refuse answers what fasthttp could not parse; nothing reached a backend.
func refuse(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		plainError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, []byte("request headers too large\n"))
	case isTimeout(err):
		plainError(ctx, fasthttp.StatusRequestTimeout, []byte("request timeout\n"))
	default:
		plainError(ctx, fasthttp.StatusBadRequest, []byte("bad request\n"))
	}
}

func plainError(ctx *fasthttp.RequestCtx, code int, msg []byte) {
	ctx.Response.Reset()
	ctx.SetStatusCode(code)
	ctx.Response.Header.SetContentType(textPlain)
	ctx.Response.SetBodyRaw(msg)
}

// fasthttpLogger passes fasthttp's own messages (connection errors) on at
// debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
	}
}
