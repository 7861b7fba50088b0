package accept

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/tstest"
)

// flaky fails its first n Accepts with EMFILE, as a process out of file
// descriptors does.
type flaky struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (f *flaky) Accept() (net.Conn, error) {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return f.Listener.Accept()
}

func TestRetriesUntilAccepted(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs tstest.LockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ln := Retrying(&flaky{Listener: inner, n: 5}, "127.0.0.1:x", log)
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept after 5 EMFILE errors = %v, want the waiting connection", err)
	}
	c.Close()
	out := logs.String()
	if strings.Count(out, "accepting connections failed") != 1 || !strings.Contains(out, "too many open files") ||
		!strings.Contains(out, "accepting connections again") || !strings.Contains(out, "failedTries=5") {
		t.Errorf("log:\n%s\nwant one warning with the error, then one line when accepting works again", out)
	}
}

func TestClosedEndsAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Retrying(&flaky{Listener: inner, n: 3}, "x", slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(50 * time.Millisecond) // into the backoff
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept on a closed listener = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
