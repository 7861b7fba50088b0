package resolver

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dialUDP is a client socket connected to r's DNS port.
func dialUDP(t *testing.T, r *Resolver) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, r.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUDPBatches sends more queries than one batch holds before reading any
// reply: each must be answered once, to its own ID.
func TestUDPBatches(t *testing.T) {
	r := start(t, func(c *Config) { c.UDPSockets = 1 }, false)
	c := dialUDP(t, r)
	const n = 3*batchSize + 5
	q := packQuery(t, "web.marathon.mesos.", dns.TypeA, 1232)
	for i := range n {
		binary.BigEndian.PutUint16(q, uint16(i))
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(seen) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d replies: %v", len(seen), n, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if seen[m.Id] || m.Id >= n {
			t.Fatalf("reply for ID %d: twice or never asked", m.Id)
		}
		seen[m.Id] = true
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 2 {
			t.Errorf("reply %d: %v", m.Id, m)
		}
	}
}

// TestUDPTooLong: a request longer than the read buffer is answered
// FORMERR, unless it is a response.
func TestUDPTooLong(t *testing.T) {
	r := start(t, nil, false)
	c := dialUDP(t, r)
	long := append(packQuery(t, "web.marathon.mesos.", dns.TypeA, 0), make([]byte, reqSize)...)
	binary.BigEndian.PutUint16(long, 0x4242)
	c.Write(long)
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	k, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:k]); err != nil || m.Id != 0x4242 || m.Rcode != dns.RcodeFormatError {
		t.Errorf("reply to a %d-byte request: %v, %v; want FORMERR", len(long), m, err)
	}
	long[2] |= 0x80 // QR
	c.Write(long)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(buf); err == nil {
		t.Error("a long response got a reply")
	}
}

// TestUDPAllocs: a query over the socket costs the server no allocation
// (the client's connected Write and Read allocate nothing either).
func TestUDPAllocs(t *testing.T) {
	r := start(t, nil, false)
	c := dialUDP(t, r)
	q := packQuery(t, "_apiserver._tcp.marathon.mesos.", dns.TypeSRV, 1232)
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	exchange := func() {
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	exchange() // the first shuffle allocates the scratch permutation
	if a := testing.AllocsPerRun(200, exchange); a > 0 {
		t.Errorf("%.2f allocations per query, want 0", a)
	}
}

// TestUDPReplySource: on a wildcard listen each reply of a batch leaves from
// the address its query reached; a connected client drops any other.
func TestUDPReplySource(t *testing.T) {
	r := start(t, func(c *Config) { c.Listen = ":0"; c.HTTPListen = ""; c.UDPSockets = 1 }, false)
	port := r.Addr().(*net.UDPAddr).Port
	q := packQuery(t, "leader.mesos.", dns.TypeA, 0)
	var conns []*net.UDPConn
	for _, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(host), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		c.Write(q) // all sent before any is read: they may share a batch
	}
	buf := make([]byte, 512)
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("query to %s: %v", c.RemoteAddr(), err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil || len(m.Answer) != 1 {
			t.Errorf("reply %d from %s: %v, %v", i, c.RemoteAddr(), m, err)
		}
	}
}
