package tcpproxy

import (
	"bufio"
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

// echoBackend answers each line with "name:line" and, at the client's
// half-close, "name:bye" before it closes.
func echoBackend(t *testing.T, name string) (port int, conns *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					io.WriteString(c, name+":"+sc.Text()+"\n")
				}
				io.WriteString(c, name+":bye\n")
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, conns
}

func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

type fixture struct {
	t      *testing.T
	table  atomic.Pointer[route.Table]
	proxy  *Proxy
	listen string
	ver    uint64
}

func newFixture(t *testing.T, balance string) *fixture {
	f := &fixture{t: t}
	p, err := New(DefaultConfig(), func() *route.Table { return f.table.Load() }, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.proxy = p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.listen = ln.Addr().String()
	f.setBackends(balance)
	done := make(chan struct{})
	go func() { p.Serve(ln, f.listen); close(done) }()
	t.Cleanup(func() { ln.Close(); <-done; p.Close() })
	return f
}

// setBackends routes the service port to tasks on the given ports.
func (f *fixture) setBackends(balance string, ports ...int) {
	_, port, _ := net.SplitHostPort(f.listen)
	sp, _ := strconv.Atoi(port)
	a := marathon.NewApp("/svc")
	a.PortDefinitions = []marathon.PortDefinition{{Port: sp, Protocol: "tcp"}}
	if balance != "" {
		a.Labels = map[string]string{"HAPROXY_0_BALANCE": balance}
	}
	var tasks []marathon.Task
	for i, p := range ports {
		tasks = append(tasks, marathon.Task{ID: "t" + strconv.Itoa(i), Host: "127.0.0.1", Ports: []int{p}, State: "TASK_RUNNING"})
	}
	f.ver++
	f.table.Store(route.Build(route.Config{ServiceBind: "127.0.0.1", Groups: []string{"*"}}, []marathon.AppInfo{{App: a, Tasks: tasks}}, f.table.Load(), f.ver, time.Now()))
}

func (f *fixture) dial() (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", f.listen)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func (f *fixture) ask(c net.Conn, r *bufio.Reader, line string) string {
	f.t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		f.t.Fatal(err)
	}
	s, err := r.ReadString('\n')
	if err != nil {
		f.t.Fatalf("reading answer to %q: %v", line, err)
	}
	return strings.TrimSpace(s)
}

func TestRoundRobinAndFailover(t *testing.T) {
	f := newFixture(t, "")
	a, _ := echoBackend(t, "a")
	b, _ := echoBackend(t, "b")
	f.setBackends("", a, deadPort(t), b)
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		c, r := f.dial()
		ans := f.ask(c, r, "hi")
		seen[strings.Split(ans, ":")[0]]++
		c.Close()
	}
	// The dead backend's turns move on to the next one within the same
	// connection: every connection is answered.
	if seen["a"]+seen["b"] != 6 || seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("answers by backend = %v, want all 6 answered by both a and b", seen)
	}
}

func TestHalfClose(t *testing.T) {
	f := newFixture(t, "")
	a, _ := echoBackend(t, "a")
	f.setBackends("", a)
	c, r := f.dial()
	if got := f.ask(c, r, "x"); got != "a:x" {
		t.Fatalf("answer %q, want a:x", got)
	}
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != "a:bye\n" {
		t.Errorf("after the client's half-close got %q, want the backend's last words %q", rest, "a:bye\n")
	}
}

// A backend removed from the table keeps its open connections (drain);
// new connections go to the new backends; the swap fails nothing.
func TestDrainOnSwap(t *testing.T) {
	f := newFixture(t, "")
	a, _ := echoBackend(t, "a")
	b, _ := echoBackend(t, "b")
	f.setBackends("", a)
	old, oldR := f.dial()
	if got := f.ask(old, oldR, "1"); got != "a:1" {
		t.Fatalf("answer %q", got)
	}
	f.setBackends("", b)
	if got := f.ask(old, oldR, "2"); got != "a:2" {
		t.Errorf("open connection after the swap answered %q, want a:2", got)
	}
	c, r := f.dial()
	if got := f.ask(c, r, "3"); got != "b:3" {
		t.Errorf("new connection answered %q, want b:3", got)
	}
}

func TestLeastConn(t *testing.T) {
	f := newFixture(t, "leastconn")
	a, _ := echoBackend(t, "a")
	b, _ := echoBackend(t, "b")
	f.setBackends("leastconn", a, b)
	c1, r1 := f.dial()
	first := strings.Split(f.ask(c1, r1, "x"), ":")[0]
	for i := 0; i < 3; i++ {
		c, r := f.dial()
		if got := strings.Split(f.ask(c, r, "x"), ":")[0]; got == first {
			t.Fatalf("connection %d went to %s, which holds a connection while the other holds none", i, got)
		}
		c.Close()
		tstest.WaitFor(t, 5*time.Second, "the proxy to count the closed connection out", func() bool {
			return f.open() == 1
		})
	}
}

// open is how many connections the proxy counts as open, over all backends.
func (f *fixture) open() int64 {
	var n int64
	f.proxy.pick.active.Range(func(_, v any) bool {
		n += v.(*atomic.Int64).Load()
		return true
	})
	return n
}

func TestNoBackendCloses(t *testing.T) {
	f := newFixture(t, "")
	c, _ := f.dial()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a service without backends, want the connection closed", n)
	}
}
