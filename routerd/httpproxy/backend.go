package httpproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"corral/routerd/metrics"
	"corral/routerd/route"
)

// upstream is one backend address with its keep-alive pool. It outlives
// table versions: every service that lists the address shares it.
type upstream struct {
	addr     string
	hc       *fasthttp.HostClient
	inflight atomic.Int64 // requests sent and not yet answered in full
	lastUsed atomic.Int64 // unix seconds
}

// service is what a request needs of a route.Service, resolved once per
// table version: metrics, upstreams, sticky cookie values, error bodies.
type service struct {
	svc    *route.Service
	m      *metrics.Service
	ups    []*upstream // parallel to svc.Backends
	sticky []string    // cookie value per backend: an opaque hash of its task ID
	rr     atomic.Uint32
	auth   *authenticator // nil: no HAPROXY_{n}_AUTH

	noBackend, failed, timedOut []byte // 503, 502 and 504 bodies
}

// dialError marks a failed connect: nothing was sent, so the request may
// go to another backend whatever its method.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dialing backend: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// serviceFor returns the state of s, building it on first use.
func (p *Proxy) serviceFor(s *route.Service) *service {
	if v, ok := p.services.Load(s); ok {
		return v.(*service)
	}
	st := &service{
		svc:       s,
		m:         p.m.Service(s.AppID, s.PortIndex, "http"),
		ups:       make([]*upstream, len(s.Backends)),
		sticky:    make([]string, len(s.Backends)),
		noBackend: []byte("no healthy backend for " + s.AppID + "\n"),
		failed:    []byte("backend failed for " + s.AppID + "\n"),
		timedOut:  []byte("backend timed out for " + s.AppID + "\n"),
	}
	for i, b := range s.Backends {
		st.ups[i] = p.upstreamFor(b.Addr)
		sum := sha256.Sum256([]byte(s.AppID + "\x00" + b.TaskID))
		st.sticky[i] = hex.EncodeToString(sum[:8])
	}
	if s.Auth != nil {
		a, err := newAuthenticator(s.Auth)
		if err != nil {
			p.log.Warn("basic auth hash not supported, every request is refused", "app", s.AppID, "port", s.PortIndex, "err", err)
		}
		st.auth = a
	}
	v, _ := p.services.LoadOrStore(s, st)
	return v.(*service)
}

func (p *Proxy) upstreamFor(addr string) *upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.upstreams[addr]; u != nil {
		return u
	}
	u := &upstream{addr: addr}
	u.lastUsed.Store(time.Now().Unix())
	timeout := p.cfg.BackendTimeout
	dialer := &net.Dialer{Timeout: p.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	u.hc = &fasthttp.HostClient{
		Addr: addr,
		Dial: func(addr string) (net.Conn, error) {
			c, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, &dialError{err}
			}
			return &silenceConn{Conn: c, timeout: timeout}, nil
		},
		MaxConns:                      p.cfg.MaxConnsPerBackend,
		MaxConnWaitTimeout:            p.cfg.DialTimeout,
		MaxIdleConnDuration:           p.cfg.BackendIdleTimeout,
		MaxIdemponentCallAttempts:     2,
		RetryIfErr:                    retryStale,
		ReadBufferSize:                p.cfg.MaxHeaderBytes,
		NoDefaultUserAgentHeader:      true,
		DisablePathNormalizing:        true,
		DisableHeaderNamesNormalizing: false,
		SecureErrorLogMessage:         true,
		StreamResponseBody:            true,
	}
	p.upstreams[addr] = u
	return u
}

// retryStale lets fasthttp send an idempotent request once more (on a new
// connection) when a pooled connection turned out closed: the backend
// dropped it while idle. A timeout is never retried.
func retryStale(req *fasthttp.Request, attempts int, err error) (bool, bool) {
	if attempts > 1 || !idempotent(req) || isTimeout(err) {
		return false, false
	}
	return false, errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func idempotent(req *fasthttp.Request) bool {
	h := &req.Header
	return h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete() || h.IsTrace()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// silenceConn bounds how long a backend may stay silent: reads and writes
// get deadlines, so a long download or upload that keeps moving is never
// cut, as HAProxy's "timeout server". Re-arming a deadline costs a runtime
// timer update, so a deadline is moved on only once half of it has passed:
// a backend may stay silent between timeout/2 and timeout.
type silenceConn struct {
	net.Conn
	timeout time.Duration
	readBy  atomic.Int64 // Unix nanoseconds of the read deadline set
	writeBy atomic.Int64 // and of the write deadline
}

func (c *silenceConn) Read(b []byte) (int, error) {
	if err := c.arm(&c.readBy, c.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *silenceConn) Write(b []byte) (int, error) {
	if err := c.arm(&c.writeBy, c.Conn.SetWriteDeadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *silenceConn) arm(by *atomic.Int64, set func(time.Time) error) error {
	now := time.Now()
	if by.Load()-now.UnixNano() > int64(c.timeout/2) {
		return nil
	}
	d := now.Add(c.timeout)
	by.Store(d.UnixNano())
	return set(d)
}

var ipSeed = maphash.MakeSeed()

// pick chooses a backend index among those not in tried (a bit set of the
// first 64 backends); -1 when none is left.
func (st *service) pick(ctx *fasthttp.RequestCtx, tried uint64) int {
	n := len(st.ups)
	if n == 0 {
		return -1
	}
	start := 0
	switch st.svc.Balance {
	case route.LeastConn:
		best, bestLoad := -1, int64(0)
		off := int(st.rr.Add(1)) // ties take turns
		for k := 0; k < n; k++ {
			i := (off + k) % n
			if i < 64 && tried&(1<<i) != 0 {
				continue
			}
			if l := st.ups[i].inflight.Load(); best < 0 || l < bestLoad {
				best, bestLoad = i, l
			}
		}
		return best
	case route.Source:
		start = int(maphash.Bytes(ipSeed, clientIP(ctx)) % uint64(n))
	default:
		start = int(st.rr.Add(1)-1) % n
	}
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if i >= 64 || tried&(1<<i) == 0 {
			return i
		}
	}
	return -1
}

// stickyBackend returns the backend the request's sticky cookie names,
// or -1.
func (st *service) stickyBackend(ctx *fasthttp.RequestCtx, name string) int {
	v := ctx.Request.Header.Cookie(name)
	if len(v) == 0 {
		return -1
	}
	for i, s := range st.sticky {
		if s == string(v) {
			return i
		}
	}
	return -1
}

func clientIP(ctx *fasthttp.RequestCtx) []byte {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if ip4 := a.IP.To4(); ip4 != nil {
			return ip4
		}
		return a.IP
	}
	return nil
}

// janitor drops, every interval, the state of services no longer in the
// table and the pools of backend addresses unused for UnusedBackendTTL.
func (p *Proxy) janitor(stop <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.sweep(time.Now())
		}
	}
}

func (p *Proxy) sweep(now time.Time) {
	live := map[*route.Service]bool{}
	if t := p.table(); t != nil {
		for _, s := range t.Services {
			live[s] = true
		}
	}
	used := map[*upstream]bool{}
	p.services.Range(func(k, v any) bool {
		if !live[k.(*route.Service)] {
			p.services.Delete(k)
			return true
		}
		for _, u := range v.(*service).ups {
			used[u] = true
		}
		return true
	})
	cutoff := now.Add(-p.cfg.UnusedBackendTTL).Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, u := range p.upstreams {
		if !used[u] && u.inflight.Load() == 0 && u.lastUsed.Load() < cutoff {
			delete(p.upstreams, addr)
			u.hc.CloseIdleConnections()
		}
	}
}
