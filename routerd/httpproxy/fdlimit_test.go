package httpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestServesAfterRunningOutOfFileDescriptors: a process out of file
// descriptors fails accept with EMFILE. The edge and the HTTP service
// ports back off and accept again once descriptors are free, as net/http
// does; before, fasthttp's Serve returned, which left a service port
// bound but never accepting and stopped routerd over its edge.
func TestServesAfterRunningOutOfFileDescriptors(t *testing.T) {
	be := newBackend(t, "svc", nil)
	h := newHarness(t, DefaultConfig(), nil)
	addr, _, port := h.serveService(t)
	h.tables.set(buildTable(t, 1, appSpec{id: "/svc", servicePort: port,
		labels: withLabels(vhost("svc"), "HAPROXY_0_MODE", "http"), backends: []string{be.addr()}}))

	// Use up this process's descriptors under a soft limit lowered for
	// the test, keeping one free for each client connection. The limit is
	// the whole process's: no test of this package runs in parallel.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = min(lim.Cur, 4096)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	var fill []*os.File
	release := func() {
		for _, f := range fill {
			f.Close()
		}
		fill = nil
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		fill = append(fill, f)
	}
	// Each client takes the descriptor just freed; the proxy's accept
	// then finds none.
	dial := func(target, host string) *bufio.Reader {
		fill[len(fill)-1].Close()
		fill = fill[:len(fill)-1]
		c, err := net.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return bufio.NewReader(c)
	}
	service := dial(addr, "x")
	edge := dial(h.edge, "svc")
	time.Sleep(200 * time.Millisecond) // accept fails, and fails again
	release()
	for name, r := range map[string]*bufio.Reader{"service port": service, "edge": edge} {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Errorf("%s: no answer once descriptors were free: %v", name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "svc" {
			t.Errorf("%s: %d %q, want 200 svc", name, resp.StatusCode, body)
		}
	}
	// And the ports go on accepting.
	if code, body := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); code != 200 || body != "svc" {
		t.Errorf("service port afterwards: %d %q, want 200 svc", code, body)
	}
}
