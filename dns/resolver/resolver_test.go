package resolver

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAnswers(t *testing.T) {
	r := start(t, nil, false)
	soa := "ns1.mesos. root.ns1.mesos. 1700000000"
	for _, tc := range []struct {
		desc     string
		name     string
		qtype    uint16
		rcode    int
		answer   []string // sorted
		extra    []string // sorted
		soaInNs  bool
		ansOwner string
	}{
		{"A", "web.marathon.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"10.0.1.11", "10.0.1.12"}, nil, false, "web.marathon.mesos."},
		{"AAAA", "apiserver.marathon.mesos.", dns.TypeAAAA, dns.RcodeSuccess, []string{"fd01:b::2:8000:2"}, nil, false, ""},
		{"SRV with additionals", "_apiserver._tcp.marathon.mesos.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"0 1 8080 apiserver-7wr3h-s2.marathon.mesos.", "0 1 9090 apiserver-7wr3h-s2.marathon.mesos."},
			[]string{"9.0.0.5", "fd01:b::2:8000:2"}, false, ""},
		{"SRV to the agent", "_web._tcp.marathon.mesos.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"0 1 31000 web-mos5g-s1.marathon.slave.mesos.", "0 1 31001 web-mos5g-s1.marathon.slave.mesos.", "0 1 31002 web-uiqhf-s2.marathon.slave.mesos."},
			[]string{"10.0.1.11", "10.0.1.12"}, false, ""},
		{"case-insensitive", "WeB.MaRaThOn.MeSoS.", dns.TypeA, dns.RcodeSuccess, []string{"10.0.1.11", "10.0.1.12"}, nil, false, "WeB.MaRaThOn.MeSoS."},
		{"NXDOMAIN", "nope.marathon.mesos.", dns.TypeA, dns.RcodeNameError, nil, nil, true, ""},
		{"NXDOMAIN below a name", "x.web.marathon.mesos.", dns.TypeA, dns.RcodeNameError, nil, nil, true, ""},
		{"NODATA", "web.marathon.mesos.", dns.TypeTXT, dns.RcodeSuccess, nil, nil, true, ""},
		{"NODATA AAAA", "web.marathon.mesos.", dns.TypeAAAA, dns.RcodeSuccess, nil, nil, true, ""},
		{"empty non-terminal", "marathon.slave.mesos.", dns.TypeA, dns.RcodeSuccess, nil, nil, true, ""},
		{"apex SOA", "mesos.", dns.TypeSOA, dns.RcodeSuccess, []string{soa}, nil, false, "mesos."},
		{"apex NS", "MESOS.", dns.TypeNS, dns.RcodeSuccess, []string{"ns1.mesos."}, nil, false, "MESOS."},
		{"apex A", "mesos.", dns.TypeA, dns.RcodeSuccess, nil, nil, true, ""},
		{"leader", "leader.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"10.0.0.1"}, nil, false, ""},
		{"masters", "master.mesos.", dns.TypeA, dns.RcodeSuccess, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, nil, false, ""},
		{"_leader", "_leader._udp.mesos.", dns.TypeSRV, dns.RcodeSuccess, []string{"0 1 5050 leader.mesos."}, []string{"10.0.0.1"}, false, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				m := ask(t, r, network, tc.name, tc.qtype, nil)
				if m.Rcode != tc.rcode || !m.Authoritative || m.Truncated {
					t.Errorf("%s: rcode %s AA %v TC %v, want %s AA true TC false", network, dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated, dns.RcodeToString[tc.rcode])
				}
				if len(m.Question) != 1 || m.Question[0].Name != tc.name {
					t.Errorf("%s: question %v, want %s echoed", network, m.Question, tc.name)
				}
				got := answers(m.Answer, tc.qtype)
				slices.Sort(got)
				if len(got) != len(m.Answer) || !slices.Equal(got, tc.answer) {
					t.Errorf("%s: answer %v, want %v", network, m.Answer, tc.answer)
				}
				extra := append(answers(m.Extra, dns.TypeA), answers(m.Extra, dns.TypeAAAA)...)
				slices.Sort(extra)
				if !slices.Equal(extra, tc.extra) {
					t.Errorf("%s: additional %v, want %v", network, m.Extra, tc.extra)
				}
				if tc.soaInNs {
					if got := answers(m.Ns, dns.TypeSOA); len(m.Ns) != 1 || !slices.Equal(got, []string{soa}) || m.Ns[0].Header().Name != "mesos." {
						t.Errorf("%s: authority %v, want the zone's SOA", network, m.Ns)
					}
				} else if len(m.Ns) != 0 {
					t.Errorf("%s: authority %v, want none", network, m.Ns)
				}
				for _, rr := range m.Answer {
					if tc.ansOwner != "" && rr.Header().Name != tc.ansOwner {
						t.Errorf("%s: answer owner %q, want %q", network, rr.Header().Name, tc.ansOwner)
					}
					if rr.Header().Ttl != 60 {
						t.Errorf("%s: TTL %d, want 60", network, rr.Header().Ttl)
					}
				}
			}
		})
	}
}

func TestANY(t *testing.T) {
	r := start(t, nil, false)
	m := ask(t, r, "udp", "apiserver.marathon.mesos.", dns.TypeANY, nil)
	got := append(answers(m.Answer, dns.TypeA), answers(m.Answer, dns.TypeAAAA)...)
	slices.Sort(got)
	if want := []string{"9.0.0.5", "fd01:b::2:8000:2"}; !slices.Equal(got, want) {
		t.Errorf("ANY answer %v, want %v", m.Answer, want)
	}
}

func TestShuffle(t *testing.T) {
	r := start(t, nil, false)
	orders := map[string]bool{}
	for range 60 {
		m := ask(t, r, "udp", "master.mesos.", dns.TypeA, nil)
		orders[strings.Join(answers(m.Answer, dns.TypeA), ",")] = true
	}
	// Six orders of three records; 60 draws all equal has odds 6^-59.
	if len(orders) < 2 {
		t.Errorf("60 answers came in %d order(s), want them shuffled: %v", len(orders), orders)
	}
}

func TestTruncation(t *testing.T) {
	r := start(t, nil, false)
	const name = "big.bulk.mesos."
	for _, tc := range []struct {
		desc    string
		network string
		edns    uint16 // 0: none
		tc      bool
		all     bool
		max     int
	}{
		{"UDP without EDNS0", "udp", 0, true, false, 512},
		{"UDP with EDNS0 1000", "udp", 1000, true, false, 1000},
		{"UDP with EDNS0 4096", "udp", 4096, false, true, 4096},
		{"TCP", "tcp", 0, false, true, 65535},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			m, size := rawAsk(t, r, tc.network, name, dns.TypeA, tc.edns)
			n := len(m.Answer)
			if m.Truncated != tc.tc || (n == 60) != tc.all || n == 0 {
				t.Errorf("TC %v with %d answers, want TC %v and all 60: %v", m.Truncated, n, tc.tc, tc.all)
			}
			if size > tc.max {
				t.Errorf("reply of %d bytes, want at most %d", size, tc.max)
			}
			if tc.edns > 0 {
				o := m.IsEdns0()
				if o == nil || !o.Do() || o.UDPSize() != 1232 {
					t.Errorf("OPT %v, want one with DO echoed and size 1232", o)
				}
			}
		})
	}
	// An SRV answer that fits, its additionals not: TC as miekg's Truncate.
	m := ask(t, r, "udp", "_big._tcp.bulk.mesos.", dns.TypeSRV, nil)
	if !m.Truncated || len(m.Answer) == 0 {
		t.Errorf("SRV over UDP: TC %v with %d answers, want TC and some", m.Truncated, len(m.Answer))
	}
}

// rawAsk sends one query, EDNS0 with the DO bit if edns > 0, and returns the
// reply and its size on the wire.
func rawAsk(t *testing.T, r *Resolver, network, name string, qtype, edns uint16) (*dns.Msg, int) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if edns > 0 {
		q.SetEdns0(edns, true)
	}
	c, err := dns.Dial(network, r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.UDPSize = 65535
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return m, len(b)
}

func TestBadVersion(t *testing.T) {
	r := start(t, nil, false)
	m := ask(t, r, "udp", "web.marathon.mesos.", dns.TypeA, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
	})
	if m.Rcode != dns.RcodeBadVers || len(m.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %s with %d answers, want BADVERS", dns.RcodeToString[m.Rcode], len(m.Answer))
	}
}

func TestRefusedOutsideDomain(t *testing.T) {
	r := start(t, nil, false)
	for _, network := range []string{"udp", "tcp"} {
		m := ask(t, r, network, "example.com.", dns.TypeA, nil)
		if m.Rcode != dns.RcodeRefused || m.Authoritative || m.RecursionAvailable || len(m.Answer) != 0 {
			t.Errorf("%s: rcode %s AA %v RA %v, want REFUSED, not authoritative, no recursion", network, dns.RcodeToString[m.Rcode], m.Authoritative, m.RecursionAvailable)
		}
	}
	// A name that only ends like the domain is outside it.
	if m := ask(t, r, "udp", "xmesos.", dns.TypeA, nil); m.Rcode != dns.RcodeRefused {
		t.Errorf("xmesos.: rcode %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
}

func TestServFailBeforeUpdate(t *testing.T) {
	r := start(t, nil, true)
	if m := ask(t, r, "udp", "web.marathon.mesos.", dns.TypeA, nil); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("before the first update: rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	if !r.Updated().IsZero() || r.Age() != 0 {
		t.Errorf("Updated() = %v, Age() = %v before any update, want zero", r.Updated(), r.Age())
	}
	rc := testRecordsConfig()
	rc.Domain = "other"
	r.Update(testRecords(t, rc), updatedAt) // another domain: ignored
	if !r.Updated().IsZero() {
		t.Errorf("a record set for another domain was taken")
	}
	r.Update(testRecords(t, testRecordsConfig()), updatedAt)
	if m := ask(t, r, "udp", "web.marathon.mesos.", dns.TypeA, nil); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 2 {
		t.Errorf("after the update: rcode %s with %d answers, want 2", dns.RcodeToString[m.Rcode], len(m.Answer))
	}
	if !r.Updated().Equal(updatedAt) || r.Age() < time.Since(updatedAt)-time.Minute {
		t.Errorf("Updated() = %v, Age() = %v, want %v and its age", r.Updated(), r.Age(), updatedAt)
	}
}

func TestForwarding(t *testing.T) {
	up := upstreamServer(t)
	r := start(t, func(c *Config) { c.Resolvers = []string{"127.0.0.1:1", up}; c.ForwardTimeout = time.Second }, false)
	for _, network := range []string{"udp", "tcp"} {
		m := ask(t, r, network, "Example.COM.", dns.TypeA, nil)
		if m.Rcode != dns.RcodeSuccess || !m.RecursionAvailable || !slices.Equal(answers(m.Answer, dns.TypeA), []string{"192.0.2.1"}) {
			t.Errorf("%s forwarded: rcode %s RA %v answer %v, want 192.0.2.1", network, dns.RcodeToString[m.Rcode], m.RecursionAvailable, m.Answer)
		}
		m = ask(t, r, network, "web.marathon.mesos.", dns.TypeA, nil)
		if !m.Authoritative || !m.RecursionAvailable || len(m.Answer) != 2 {
			t.Errorf("%s in the domain: AA %v RA %v answers %d, want AA, RA and 2", network, m.Authoritative, m.RecursionAvailable, len(m.Answer))
		}
	}
	if m := ask(t, r, "udp", "fail.example.", dns.TypeA, nil); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("upstream SERVFAIL: rcode %s, want it passed on", dns.RcodeToString[m.Rcode])
	}
}

// upstreamServer runs a miekg server on loopback (UDP and TCP) that knows
// example.com and fails fail.example.
func upstreamServer(t *testing.T) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		switch strings.ToLower(q.Question[0].Name) {
		case "example.com.":
			rr, _ := dns.NewRR(q.Question[0].Name + " 300 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		default:
			m.Rcode = dns.RcodeServerFailure
		}
		w.WriteMsg(m)
	})
	// UDP takes any free port and TCP the same number, which another
	// process may hold for TCP: try again on a new port then, as the
	// resolver's own listenDNS does.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 1; ln == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if attempt == 5 {
				t.Fatal(err)
			}
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return pc.LocalAddr().String()
}

func TestMalformed(t *testing.T) {
	r := start(t, nil, false)
	c, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// read waits up to wait for a reply: long for one that must come, short
	// where none may.
	read := func(wait time.Duration) *dns.Msg {
		c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		return m
	}
	// A question whose name is a compression pointer to itself.
	c.Write([]byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1})
	if m := read(5 * time.Second); m == nil || m.Id != 0x1234 || m.Rcode != dns.RcodeFormatError {
		t.Errorf("pointer loop: reply %v, want FORMERR", m)
	}
	// A response (QR set) is never answered.
	c.Write([]byte{0x12, 0x35, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1})
	if m := read(300 * time.Millisecond); m != nil {
		t.Errorf("a response got a reply: %v", m)
	}
	// Still serving.
	if m := ask(t, r, "udp", "leader.mesos.", dns.TypeA, nil); len(m.Answer) != 1 {
		t.Errorf("after malformed packets: %v", m)
	}
}

// TestWildcardListen serves on all addresses, where replies must leave from
// the address each query reached (IP_PKTINFO), and over the dual-stack path.
func TestWildcardListen(t *testing.T) {
	r := start(t, func(c *Config) { c.Listen = ":0"; c.HTTPListen = "" }, false)
	_, port, _ := net.SplitHostPort(r.Addr().String())
	for _, host := range []string{"127.0.0.1", "::1"} {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		m := new(dns.Msg)
		m.SetQuestion("leader.mesos.", dns.TypeA)
		resp, _, err := c.Exchange(m, net.JoinHostPort(host, port))
		if err != nil {
			if host == "::1" {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatalf("query to %s: %v", host, err)
		}
		if len(resp.Answer) != 1 {
			t.Errorf("query to %s: %v", host, resp)
		}
	}
}
