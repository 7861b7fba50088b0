package resolver

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// newTestResolver is a resolver with the test records and no sockets, for
// driving handle directly.
func newTestResolver(t testing.TB, resolvers ...string) *Resolver {
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTPListen = "127.0.0.1:0", ""
	cfg.Records = testRecordsConfig()
	cfg.Resolvers = resolvers
	r, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Update(testRecords(t, cfg.Records), updatedAt)
	return r
}

func packQuery(t testing.TB, name string, qtype uint16, edns uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(edns, true)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzQuery feeds arbitrary bytes to the query path: every reply must be a
// well-formed DNS message for the request's ID within the transport's size,
// and nothing may panic.
func FuzzQuery(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  uint16
	}{
		{"web.marathon.mesos.", dns.TypeA, 0},
		{"_web._tcp.marathon.mesos.", dns.TypeSRV, 1232},
		{"big.bulk.mesos.", dns.TypeA, 0},
		{"_big._tcp.bulk.mesos.", dns.TypeSRV, 700},
		{"mesos.", dns.TypeANY, 4096},
		{"nope.mesos.", dns.TypeAAAA, 0},
		{"example.com.", dns.TypeA, 0},
	} {
		f.Add(packQuery(f, q.name, q.qtype, q.edns))
	}
	hdr := []byte{0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	seed := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	question := []byte{3, 'w', 'e', 'b', 8, 'm', 'a', 'r', 'a', 't', 'h', 'o', 'n', 5, 'm', 'e', 's', 'o', 's', 0, 0, 1, 0, 1}
	withAR := append([]byte(nil), hdr...)
	withAR[11] = 1
	// A question that is a compression pointer to itself, and one to the
	// pointer's own offset.
	f.Add(seed(hdr, []byte{0xC0, 0x0C, 0, 1, 0, 1}))
	f.Add(seed(hdr, []byte{3, 'w', 'e', 'b', 0xC0, 0x10, 0, 1, 0, 1}))
	// An additional record whose owner loops.
	f.Add(seed(withAR, question, []byte{0xC0, 36, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0}))
	// Names over 255 bytes and labels longer than the packet.
	long := strings.Repeat("\x3f"+strings.Repeat("a", 63), 5)
	f.Add(seed(hdr, []byte(long), []byte{0, 0, 1, 0, 1}))
	f.Add(seed(hdr, []byte{63, 'a', 'b'}))
	// A bare header, a response, another opcode, two questions, two OPTs,
	// an OPT in the answer section, EDNS version 1, a truncated OPT.
	f.Add(hdr)
	f.Add([]byte{0xAB, 0xCD, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add(seed([]byte{0xAB, 0xCD, 0x20, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, question))
	f.Add(seed([]byte{0xAB, 0xCD, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0}, question, question))
	opt := []byte{0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0}
	two := append([]byte(nil), withAR...)
	two[11] = 2
	f.Add(seed(two, question, opt, opt))
	inAN := append([]byte(nil), hdr...)
	inAN[7] = 1
	f.Add(seed(inAN, question, opt))
	f.Add(seed(withAR, question, []byte{0, 0, 41, 0x04, 0xD0, 0, 1, 0, 0, 0, 0}))
	f.Add(seed(withAR, question, []byte{0, 0, 41, 0x04}))

	r := newTestResolver(f)
	s := newScratch()
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, udp := range []bool{true, false} {
			resp, act := r.handle(msg, udp, s)
			switch act {
			case drop:
				if len(msg) >= headerLen && msg[2]&0x80 == 0 {
					t.Fatalf("query dropped: %x", msg)
				}
				continue
			case forward:
				continue
			}
			m := new(dns.Msg)
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("reply %x to %x does not unpack: %v", resp, msg, err)
			}
			if m.Id != binary.BigEndian.Uint16(msg) || !m.Response {
				t.Fatalf("reply header %v to %x", m.MsgHdr, msg)
			}
			limit := 65535
			if udp {
				limit = 512
				q := new(dns.Msg)
				if q.Unpack(msg) == nil {
					if o := q.IsEdns0(); o != nil && int(o.UDPSize()) > limit {
						limit = int(o.UDPSize())
					}
				}
			}
			if len(resp) > limit {
				t.Fatalf("reply of %d bytes over the limit %d", len(resp), limit)
			}
		}
	})
}

func BenchmarkQuery(b *testing.B) {
	r := newTestResolver(b)
	for _, q := range []struct {
		desc  string
		name  string
		qtype uint16
		edns  uint16
	}{
		{"A", "web.marathon.mesos.", dns.TypeA, 0},
		{"A 60 records EDNS0", "big.bulk.mesos.", dns.TypeA, 4096},
		{"SRV with additionals", "_apiserver._tcp.marathon.mesos.", dns.TypeSRV, 1232},
		{"NXDOMAIN", "nope.marathon.mesos.", dns.TypeA, 0},
	} {
		b.Run(q.desc, func(b *testing.B) {
			msg := packQuery(b, q.name, q.qtype, q.edns)
			s := newScratch()
			b.ReportAllocs()
			for b.Loop() {
				if _, act := r.handle(msg, true, s); act != reply {
					b.Fatal("no reply")
				}
			}
		})
	}
}
