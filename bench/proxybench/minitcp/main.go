// Command minitcp is a bare TCP proxy, one goroutine per direction as in
// routerd's tcpproxy, with three ways to copy bytes: "splice" (io.Copy
// between TCP connections, which Go turns into splice(2) through a pair of
// pipes held for the connection's life: what routerd does), "copy" (a
// read/write loop with a 16 KiB buffer held for the connection's life) and
// "pooled" (read/write through the connection's RawConn, taking a 16 KiB
// buffer from a pool only once data is there, as HAProxy allocates its
// buffers). proxybench runs it beside routerd to show what each way costs
// in CPU per request and in memory per idle connection; it is an
// experiment, not a router.
//
//	minitcp -listen 127.0.0.1:18095 -backend 127.0.0.1:18080 -mode pooled
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18095", "address to accept on")
	backend := flag.String("backend", "127.0.0.1:18080", "address to connect each client to")
	mode := flag.String("mode", "splice", "splice, copy or pooled")
	flag.Parse()
	var cp func(dst, src *net.TCPConn) error
	switch *mode {
	case "splice":
		cp = func(dst, src *net.TCPConn) error { _, err := io.Copy(dst, src); return err }
	case "copy":
		cp = copyHeld
	case "pooled":
		cp = copyPooled
	default:
		fmt.Fprintf(os.Stderr, "minitcp: invalid -mode %q, must be splice, copy or pooled\n", *mode)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "minitcp:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "minitcp: accept:", err)
			continue
		}
		go handle(c.(*net.TCPConn), *backend, cp)
	}
}

func handle(client *net.TCPConn, backend string, cp func(dst, src *net.TCPConn) error) {
	defer client.Close()
	c, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	b := c.(*net.TCPConn)
	defer b.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cp(b, client)
		b.CloseWrite()
	}()
	cp(client, b)
	client.CloseWrite()
	wg.Wait()
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readerOnly and writerOnly hide ReadFrom and WriteTo, so io.CopyBuffer
// reads and writes instead of splicing.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

func copyHeld(dst, src *net.TCPConn) error {
	b := bufs.Get().(*[]byte)
	defer bufs.Put(b)
	_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *b)
	return err
}

// copyPooled reads only when the socket has data (RawConn.Read calls the
// function, and again after each readiness while it returns false), so an
// idle connection holds no buffer.
func copyPooled(dst, src *net.TCPConn) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var (
			buf  *[]byte
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			b := bufs.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *b)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				bufs.Put(b)
				return false
			}
			buf = b
			return true
		})
		if err != nil {
			return err
		}
		if rerr != nil || n <= 0 {
			bufs.Put(buf)
			if n == 0 && rerr == nil {
				return nil // EOF
			}
			return errors.Join(rerr, io.ErrUnexpectedEOF)
		}
		_, werr := dst.Write((*buf)[:n])
		bufs.Put(buf)
		if werr != nil {
			return werr
		}
	}
}
