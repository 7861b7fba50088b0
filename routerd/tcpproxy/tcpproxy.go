// Package tcpproxy forwards the connections of a TCP-mode service port to
// the service's backends. Each connection looks up the service in the
// route table current when it arrives; it then stays with its backend
// until either side closes, so a table swap never cuts it, and a backend
// removed from the table drains.
package tcpproxy

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"corral/accept"
	"corral/routerd/metrics"
	"corral/routerd/route"
)

// Config tunes the proxy.
type Config struct {
	// DialTimeout bounds one connect to a backend; a refused or timed-out
	// connect moves on to the next backend.
	DialTimeout time.Duration
}

// DefaultConfig connects within 2 s, as HAProxy's usual "timeout connect".
func DefaultConfig() Config { return Config{DialTimeout: 2 * time.Second} }

// Validate checks the config.
func (c Config) Validate() error {
	if c.DialTimeout <= 0 {
		return fmt.Errorf("invalid dial timeout %v, must be positive", c.DialTimeout)
	}
	return nil
}

// Proxy proxies TCP service ports.
type Proxy struct {
	cfg     Config
	table   func() *route.Table
	metrics *metrics.Metrics
	log     *slog.Logger
	pick    *picker

	wg     sync.WaitGroup // one per open client connection
	mu     sync.Mutex     // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

// New makes a proxy that routes by the table table returns.
func New(cfg Config, table func() *route.Table, m *metrics.Metrics, log *slog.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Proxy{cfg: cfg, table: table, metrics: m, log: log, pick: newPicker(), conns: map[net.Conn]struct{}{}}, nil
}

// Serve accepts connections on ln, the listener of listenAddr, until ln is
// closed. Connections already accepted go on.
func (p *Proxy) Serve(ln net.Listener, listenAddr string) error {
	// EMFILE and friends: back off as net/http does, keep going.
	ln = accept.Retrying(ln, listenAddr, p.log)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		go p.handle(c, listenAddr)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.wg.Done()
}

func (p *Proxy) handle(client net.Conn, listenAddr string) {
	defer p.untrack(client)
	defer client.Close()
	svc := p.table().Listener(listenAddr)
	if svc == nil || svc.Mode != route.ModeTCP {
		return
	}
	sm := p.metrics.Service(svc.AppID, svc.PortIndex, "tcp")
	sm.Connections.Inc()
	sm.Active.Inc()
	defer sm.Active.Dec()
	n := len(svc.Backends)
	if n == 0 {
		p.log.Debug("no backend", "app", svc.AppID, "port", svc.PortIndex)
		return
	}
	start := time.Now()
	first := p.pick.First(svc, clientHash(client))
	var backend net.Conn
	var addr string
	for i := 0; i < n; i++ {
		addr = svc.Backends[(first+i)%n].Addr
		c, err := net.DialTimeout("tcp", addr, p.cfg.DialTimeout)
		if err == nil {
			backend = c
			break
		}
		sm.ConnectErrors.Inc()
		p.log.Debug("backend connect failed", "app", svc.AppID, "port", svc.PortIndex, "backend", addr, "err", err)
	}
	if backend == nil {
		return
	}
	sm.Latency.Observe(time.Since(start).Seconds())
	done := p.pick.Acquire(addr)
	defer done()
	defer backend.Close()
	if !p.trackBackend(backend) {
		return
	}
	defer p.untrackBackend(backend)
	pipe(client, backend)
}

// trackBackend lets Close reach backend connections too.
func (p *Proxy) trackBackend(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrackBackend(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies both ways until both directions ended, passing each
// direction's end on as a half-close.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyConn(b, a)
		closeWrite(b)
	}()
	copyConn(a, b)
	closeWrite(a)
	wg.Wait()
}

// copyConn copies src to dst, between TCP connections by splice(2)
// without holding a pipe while idle (splice.go).
func copyConn(dst, src net.Conn) {
	d, dok := dst.(*net.TCPConn)
	s, sok := src.(*net.TCPConn)
	if dok && sok {
		spliceCopy(d, s)
		return
	}
	io.Copy(dst, src)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// clientHash hashes the client's IP address for balance source.
func clientHash(c net.Conn) uint32 {
	h := fnv.New32a()
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		h.Write(a.IP)
	}
	return h.Sum32()
}

// Close stops every connection at once; listeners are their owners' to
// close. Use Drain first for a graceful stop.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Drain waits until every connection ended or timeout passed.
func (p *Proxy) Drain(timeout time.Duration) {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
