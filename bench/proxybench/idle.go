package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// idleResult is the memory of one proxy holding n idle client
// connections.
type idleResult struct {
	Target         string
	Variant        string // "connected": no byte sent; "after 1 request": one keep-alive exchange, then idle
	Conns          int
	RSSBefore      int64 // kB
	RSSAfter       int64 // kB
	FDsBefore      int
	FDsAfter       int
	ThreadsAfter   int
	BackendFDsGain int    // backend worker's extra open files: connections the proxy opened to it
	Failed         int    // connections that could not be opened (or answered)
	Alive          int    // connections still open at the end
	FirstError     string // why the first failed one failed
}

func (r idleResult) KBPerConn() float64 {
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Conns)
}

// FDsPerConn is the proxy's extra open files per connection.
func (r idleResult) FDsPerConn() float64 {
	return float64(r.FDsAfter-r.FDsBefore) / float64(r.Conns)
}

// sourceAddrs are the client addresses the connections come from, so no
// one address runs short of ephemeral ports.
func sourceAddrs(n int) []net.IP {
	out := make([]net.IP, n)
	for i := range out {
		out[i] = net.IPv4(127, 0, 0, byte(2+i))
	}
	return out
}

// openIdle opens n connections to addr, 64 at a time, each from one of
// srcs in turn; with request, each sends one GET and reads the answer
// before going idle.
func openIdle(ctx context.Context, addr string, n int, srcs []net.IP, request bool) ([]net.Conn, int, error) {
	conns := make([]net.Conn, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards firstErr
		firstErr error
		failed   int
	)
	next := make(chan int)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := range next {
				c, err := dialFrom(ctx, addr, srcs[i%len(srcs)])
				if err == nil && request {
					err = oneRequest(c, buf)
				}
				if err != nil {
					if c != nil {
						c.Close()
					}
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d to %s: %w", i, addr, err)
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return conns, failed, firstErr
}

func dialFrom(ctx context.Context, addr string, src net.IP) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	return d.DialContext(ctx, "tcp", addr)
}

var helloBody = []byte("hello from backend\n")

func oneRequest(c net.Conn, buf []byte) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")); err != nil {
		return err
	}
	got := 0
	for !bytes.Contains(buf[:got], helloBody) {
		if got == len(buf) {
			return fmt.Errorf("no body in %q", buf[:got])
		}
		n, err := c.Read(buf[got:])
		if err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		got += n
	}
	return nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// settle waits until pid's open files stop changing for a second (the
// proxy has accepted and connected everything), up to timeout.
func settle(ctx context.Context, pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n := fdCount(pid)
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= time.Second {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measureIdle reads pid's RSS, opens n idle connections to addr, waits for
// the proxy to take them all, and reads it again.
func measureIdle(ctx context.Context, name string, pid, backendPID int, addr string, n int, request bool) (idleResult, error) {
	r := idleResult{Target: name, Variant: "connected", Conns: n}
	if request {
		r.Variant = "after 1 request"
	}
	settle(ctx, pid, 5*time.Second)
	var err error
	if r.RSSBefore, err = rssKB(pid); err != nil {
		return r, err
	}
	r.FDsBefore = fdCount(pid)
	b0 := fdCount(backendPID)
	conns, failed, err := openIdle(ctx, addr, n, sourceAddrs(8), request)
	defer closeAll(conns)
	r.Failed = failed
	if err != nil {
		r.FirstError = err.Error()
	}
	settle(ctx, pid, 20*time.Second)
	if r.RSSAfter, err = rssKB(pid); err != nil {
		return r, err
	}
	r.FDsAfter = fdCount(pid)
	r.ThreadsAfter = threadCount(pid)
	r.BackendFDsGain = fdCount(backendPID) - b0
	var alive atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(300 * time.Millisecond)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(deadline)
			var one [1]byte
			if _, err := c.Read(one[:]); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					alive.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// A proxy that dropped connections would look cheap: count those
	// still open.
	r.Alive = int(alive.Load())
	return r, nil
}
