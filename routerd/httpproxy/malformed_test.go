package httpproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// malformed are requests the proxy must refuse before anything reaches a
// backend, with the status it must answer.
var malformed = []struct {
	name string
	raw  string
	code int
}{
	{"length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"chunked and length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
	{"length and identity", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello", 400},
	{"lower-case framing", "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"duplicate length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
	{"conflicting lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
	{"length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
	{"signed length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400},
	{"hex length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400},
	{"unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
	{"duplicate coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"chunked on 1.0", "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n", 400},
	{"no host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	{"huge headers", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 20<<10) + "\r\n\r\n", 431},
	{"huge URI", "GET /" + strings.Repeat("x", 20<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 431},
	{"method only", "GET\r\nHost: a\r\n\r\n", 400},
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400},
	{"extra token", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"relative target", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"unknown version", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505},
	{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
}

func TestMalformedNeverReachBackend(t *testing.T) {
	be := newBackend(t, "be", nil)
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, appSpec{id: "/any", servicePort: 10001,
		labels: map[string]string{"HAPROXY_0_MODE": "http", "HAPROXY_0_PATH": "/"}, backends: []string{be.addr()}}))
	if code, body := rawRequest(t, h.edge, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); code != 200 || body != "be" {
		t.Fatalf("a well-formed request = %d %q, want 200 be", code, body)
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			before := be.hits.Load()
			code, body := rawRequest(t, h.edge, tc.raw)
			if code != tc.code {
				t.Errorf("%q = %d %q, want %d", tc.raw[:min(len(tc.raw), 80)], code, body, tc.code)
			}
			if n := be.hits.Load() - before; n != 0 {
				t.Errorf("backend saw %d requests, want none", n)
			}
		})
	}
}

// FuzzRequest sends arbitrary bytes to the edge: the proxy must not panic,
// and every request the backend saw must be one whose answer came from
// the backend (a refused request never reaches it).
func FuzzRequest(f *testing.F) {
	for _, tc := range malformed {
		f.Add([]byte(tc.raw[:min(len(tc.raw), 4096)]))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("GET http://a/x HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n"))
	be := newBackend(f, "be", nil)
	h := newHarness(f, DefaultConfig(), buildTable(f, 1, appSpec{id: "/any", servicePort: 10001,
		labels: map[string]string{"HAPROXY_0_MODE": "http", "HAPROXY_0_PATH": "/"}, backends: []string{be.addr()}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(bytes.ToLower(data), []byte("upgrade")) {
			return // a tunnel passes bytes unparsed: nothing to count
		}
		before := be.hits.Load()
		c, err := net.Dial("tcp", h.edge)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		fromBackend := int64(0)
		br := bufio.NewReader(c)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("X-Backend") == "be" {
				fromBackend++
			}
		}
		if got := be.hits.Load() - before; got != fromBackend {
			t.Fatalf("backend saw %d requests, %d answers came from it; input %q", got, fromBackend, data)
		}
	})
}
