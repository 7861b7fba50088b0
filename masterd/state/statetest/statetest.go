// Package statetest starts a real embedded etcd for tests.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/masterd/state"
)

// FreePort returns a loopback TCP port that was free a moment ago, and
// never the same port twice in one test binary: the kernel can give a
// port it just gave again, before the daemon it was picked for has bound
// it (two masters of a test once got the same --listen port).
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		givenMu.Lock()
		seen := given[port]
		given[port] = true
		givenMu.Unlock()
		if !seen {
			return port
		}
	}
}

// given holds the ports FreePort handed out.
var (
	givenMu sync.Mutex
	given   = map[int]bool{}
)

// Config returns an embedded etcd config on free loopback ports.
func Config(t testing.TB) state.Config {
	cfg := state.DefaultConfig(t.TempDir())
	cfg.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	cfg.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	return cfg
}

// Start runs an embedded etcd until the test ends and returns it with its
// client URL. Ports another process took between FreePort and etcd's
// listen (the tests of other packages run at the same time) are given up
// for new ones, a few times.
func Start(t testing.TB) (*state.Etcd, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cfg := Config(t)
		e, err := state.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil && attempt < 5 && addrInUse(err) {
			continue
		}
		if err != nil {
			t.Fatalf("starting embedded etcd: %v", err)
		}
		t.Cleanup(e.Close)
		return e, cfg.ClientURL
	}
}

// addrInUse reports whether err is a listen on a port already taken.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// Proxy forwards TCP connections to an etcd until cut, so that tests can
// take etcd away from a client at once (a partition, or a dead etcd
// host), make it slow (SetDelay) or act at a chosen point of a request
// (AfterBytes).
type Proxy struct {
	URL    string // http://127.0.0.1:port, for clients to dial
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex // guards conns, cut, delay, sent and trigger
	conns   map[net.Conn]struct{}
	cut     bool
	delay   time.Duration // added to every byte's way to etcd
	sent    int64         // bytes forwarded to etcd
	trigger *trigger
}

// trigger is a function AfterBytes runs once sent passes at.
type trigger struct {
	at int64
	fn func()
}

// StartProxy forwards to the etcd client URL target until Cut or the test
// ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting etcd proxy: %v", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Cut)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, u) {
			return
		}
		p.wg.Add(2)
		go p.toEtcd(u, c)
		go p.pipe(c, u)
	}
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// SetDelay makes every byte sent to etcd arrive d later, from now on:
// each request then takes at least d more, as over a slow link or to a
// slow etcd, while requests in flight together still overlap.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// AfterBytes runs fn once, when n more bytes than were sent so far have
// gone to etcd, before any further byte goes: a test makes something
// happen in the middle of a large request.
func (p *Proxy) AfterBytes(n int64, fn func()) {
	p.mu.Lock()
	p.trigger = &trigger{at: p.sent + n, fn: fn}
	p.mu.Unlock()
}

// chunk is what one read from a client carried, and when it came.
type chunk struct {
	b  []byte
	at time.Time
}

// toEtcd forwards from the client src to etcd dst, each chunk after the
// delay, and runs the trigger when its byte count passes.
func (p *Proxy) toEtcd(dst, src net.Conn) {
	defer p.wg.Done()
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				chunks <- chunk{b: b[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		dst.Close()
		src.Close()
		for range chunks { // the reader ends now that src is closed
		}
	}()
	for c := range chunks {
		p.mu.Lock()
		d := p.delay
		p.mu.Unlock()
		if wait := time.Until(c.at.Add(d)); wait > 0 {
			time.Sleep(wait)
		}
		for len(c.b) > 0 {
			b := c.b
			p.mu.Lock()
			t := p.trigger
			if t != nil && p.sent+int64(len(b)) >= t.at {
				b = b[:max(0, t.at-p.sent)]
			}
			p.mu.Unlock()
			if len(b) > 0 {
				if _, err := dst.Write(b); err != nil {
					return
				}
			}
			p.mu.Lock()
			p.sent += int64(len(b))
			fire := t != nil && p.trigger == t && p.sent >= t.at
			if fire {
				p.trigger = nil
			}
			p.mu.Unlock()
			if fire {
				t.fn()
			}
			c.b = c.b[len(b):]
		}
	}
}

// Cut closes the proxy and every connection through it; clients then see
// etcd as unreachable. It waits for the proxy's goroutines.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if !p.cut {
		p.cut = true
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}
