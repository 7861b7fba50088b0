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

	"corral/masterd/state"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

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
// take etcd away from a client at once: a partition, or a dead etcd host.
type Proxy struct {
	URL    string // http://127.0.0.1:port, for clients to dial
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex // guards conns and cut
	conns map[net.Conn]struct{}
	cut   bool
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
		go p.pipe(c, u)
		go p.pipe(u, c)
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
