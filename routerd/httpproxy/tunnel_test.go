package httpproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestWebSocketTunnel upgrades through the edge to a backend that echoes
// upper-cased until the client half-closes, then says bye and closes.
func TestWebSocketTunnel(t *testing.T) {
	be := newBackend(t, "ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Forwarded-For") == "" {
			http.Error(w, "not an upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		b, _ := io.ReadAll(brw) // until the client's half-close arrives
		c.Write(bytes.ToUpper(b))
		c.Write([]byte(" bye"))
	})
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/ws", servicePort: 10001, labels: vhost("ws"), backends: []string{be.addr()}}))
	c, err := net.Dial("tcp", h.edge)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: ws\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade = %d, want 101", resp.StatusCode)
	}
	io.WriteString(c, "hello")
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "HELLO bye" {
		t.Errorf("after the half-close read %q, %v; want \"HELLO bye\" then EOF", rest, err)
	}
}
