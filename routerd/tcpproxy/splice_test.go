package tcpproxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// echoAll copies back everything it reads, then closes.
func echoAll(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBulkBothWays: 16 MiB through the proxy and back arrive whole, while
// both directions move at once, and the end passes as a half-close.
func TestBulkBothWays(t *testing.T) {
	f := newFixture(t, "")
	f.setBackends("", echoAll(t))
	c, _ := f.dial()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, 16<<20)
	rand.Read(data)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("got %d bytes back (sha256 %x), want the %d sent", n, h.Sum(nil), len(data))
	}
}

// TestIdleHoldsNoPipe: connections that moved data and went idle hold no
// pipe (io.Copy's splice held two per connection for its whole life: six
// open files per proxied connection instead of two).
func TestIdleHoldsNoPipe(t *testing.T) {
	f := newFixture(t, "")
	a, _ := echoBackend(t, "a")
	f.setBackends("", a)
	before := openPipes(t)
	const conns = 200
	for i := 0; i < conns; i++ {
		c, r := f.dial()
		if got := f.ask(c, r, "x"); got != "a:x" {
			t.Fatalf("connection %d answered %q", i, got)
		}
	}
	if held := openPipes(t) - before; held > 2*maxFreePipes {
		t.Errorf("%d idle connections hold %d pipe ends, want at most the free list's %d", conns, held, 2*maxFreePipes)
	}
}

// openPipes counts the process's open pipe ends.
func openPipes(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}
