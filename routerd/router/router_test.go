package router

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corral/marathon"
	"corral/routerd/metrics"
	"corral/routerd/route"
	"corral/tstest"
)

func app(id string, port int) marathon.AppInfo {
	a := marathon.NewApp(id)
	a.PortDefinitions = []marathon.PortDefinition{{Port: port, Protocol: "tcp"}}
	return marathon.AppInfo{App: a}
}

// acceptAndClose serves a port by closing every connection.
func acceptAndClose(ln net.Listener, _ string) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		c.Close()
	}
}

// newRouter routes every group on 127.0.0.1 with serve for both modes.
func newRouter(serve Server) *Router {
	return New(route.Config{ServiceBind: "127.0.0.1", Groups: []string{"*"}}, serve, serve, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func freePort(t *testing.T) (int, net.Listener) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().(*net.TCPAddr).Port, ln
}

// A port that cannot be bound (another process holds it) is skipped with
// the reason; the other ports open; a later update binds it once free, and
// a port that goes away closes while the others stay open.
func TestListenersOneByOne(t *testing.T) {
	serve := ServerFunc(acceptAndClose)
	r := newRouter(serve)
	defer r.Close()
	taken, holder := freePort(t)
	a, la := freePort(t)
	la.Close()
	b, lb := freePort(t)
	lb.Close()

	tab := r.Update([]marathon.AppInfo{app("/a", a), app("/b", b), app("/taken", taken)})
	if len(tab.Skipped) != 1 || tab.Skipped[0].AppID != "/taken" || !strings.Contains(tab.Skipped[0].Reason, "cannot listen on 127.0.0.1:"+strconv.Itoa(taken)) {
		t.Fatalf("skipped = %+v, want /taken with the bind error", tab.Skipped)
	}
	if tab.Listener("127.0.0.1:"+strconv.Itoa(a)) == nil || tab.Listener("127.0.0.1:"+strconv.Itoa(b)) == nil {
		t.Errorf("the other apps are not routed")
	}
	if n := len(r.Listening()); n != 2 {
		t.Errorf("%d listeners open, want 2", n)
	}
	// A connection to /a stays usable across the next updates.
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(a))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()

	holder.Close()
	tab = r.Update([]marathon.AppInfo{app("/a", a), app("/taken", taken)})
	if len(tab.Skipped) != 0 || tab.Listener("127.0.0.1:"+strconv.Itoa(taken)) == nil {
		t.Errorf("once free, /taken is not routed: skipped %+v", tab.Skipped)
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b)); err == nil {
		t.Errorf("/b's port still accepts after /b went away")
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(a)); err != nil {
		t.Errorf("/a's port stopped accepting: %v", err)
	} else {
		c.Close()
	}
}

// A service port whose server stops with an error is closed, so clients
// are refused rather than left hanging in its backlog, and the next
// update opens it again.
func TestStoppedServerReopens(t *testing.T) {
	var calls atomic.Int32
	serve := ServerFunc(func(ln net.Listener, addr string) error {
		if calls.Add(1) == 1 {
			return errors.New("accept4: too many open files")
		}
		return acceptAndClose(ln, addr)
	})
	r := newRouter(serve)
	defer r.Close()
	p, l := freePort(t)
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(p)
	apps := []marathon.AppInfo{app("/a", p)}
	r.Update(apps)
	tstest.WaitFor(t, 5*time.Second, "the stopped port to be closed", func() bool { return len(r.Listening()) == 0 })
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("the stopped port still accepts connections into its backlog")
	}
	r.Update(apps)
	if got := r.Listening(); len(got) != 1 || got[0] != addr {
		t.Fatalf("after the next update, listening on %v, want %s", got, addr)
	}
	tstest.WaitFor(t, 5*time.Second, "the reopened port to be served", func() bool { return calls.Load() == 2 })
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Errorf("the reopened port refuses connections: %v", err)
	} else {
		c.Close()
	}
}
