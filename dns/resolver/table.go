package resolver

import (
	"bytes"
	"strings"
	"time"

	"github.com/miekg/dns"

	"corral/dns/records"
)

// table is an immutable, pre-packed form of one record set: for every name
// in the zone, the answer sections of every query type it can answer, as
// wire-format records whose owner names point into the question (offset 12
// of the reply). Answering is then a map lookup, a shuffle, and copying.
type table struct {
	rs      records.RecordSet
	at      time.Time
	zone    []byte           // lower-case wire form of the apex
	names   map[string]*node // lower-case wire name → node; empty non-terminals included
	soaBody []byte           // the negative-answer SOA after its owner name
}

// node is one name of the zone. A name with no answer for a query type
// gets NODATA.
type node struct {
	answers []typedAnswer
}

type typedAnswer struct {
	qtype uint16
	ans   *answer
}

// answer is the pre-packed answer and additional sections for one name
// and type. Every answer record's owner is the question name.
type answer struct {
	an [][]byte
	ex [][]byte
}

func (n *node) lookup(qtype uint16) *answer {
	for _, t := range n.answers {
		if t.qtype == qtype {
			return t.ans
		}
	}
	return nil
}

// buildTable packs rs. Names that do not fit the wire format, and names
// outside the zone, are left out and counted in skipped.
func buildTable(rs records.RecordSet, at time.Time) (t *table, skipped int) {
	zoneName := rs.Domain()
	zone, err := wireName(zoneName)
	if err != nil {
		return nil, 0
	}
	ttl := rs.TTL()
	soa := rs.SOA()
	soaRR := &dns.SOA{
		Hdr: dns.RR_Header{Name: zoneName, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  soa.Mname, Mbox: soa.Rname, Serial: uint32(at.Unix()),
		Refresh: soa.Refresh, Retry: soa.Retry, Expire: soa.Expire, Minttl: soa.Minttl,
	}
	// RFC 2308: a negative answer is cached for the smaller of the SOA's TTL
	// and its MINIMUM.
	neg := *soaRR
	neg.Hdr.Ttl = min(ttl, soa.Minttl)
	negChunk, err := packRR(&neg, zone, zone)
	if err != nil {
		return nil, 0
	}
	t = &table{rs: rs, at: at, zone: zone, names: map[string]*node{}, soaBody: negChunk[2:]}

	b := builder{t: t, rs: rs, ttl: ttl}
	apex := b.node(string(zone))
	for _, name := range rs.Names() {
		w, err := wireName(name)
		if err != nil || !inZone(w, zone) {
			skipped++
			continue
		}
		if !b.add(name, w) {
			skipped++
		}
	}
	// The apex: SOA, NS with the name server's addresses, and ANY.
	soaChunk, _ := packRR(soaRR, zone, zone)
	nsRR := &dns.NS{Hdr: dns.RR_Header{Name: zoneName, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: soa.Mname}
	nsChunk, err := packRR(nsRR, zone, zone)
	if err == nil && soaChunk != nil {
		ex := b.addresses(soa.Mname, zone)
		any := apex.lookup(dns.TypeANY)
		if any == nil {
			any = &answer{}
			apex.answers = append(apex.answers, typedAnswer{dns.TypeANY, any})
		}
		any.an = append(any.an, soaChunk, nsChunk)
		apex.answers = append(apex.answers,
			typedAnswer{dns.TypeSOA, &answer{an: [][]byte{soaChunk}}},
			typedAnswer{dns.TypeNS, &answer{an: [][]byte{nsChunk}, ex: ex}})
	}
	return t, skipped
}

type builder struct {
	t   *table
	rs  records.RecordSet
	ttl uint32
}

// node returns the node of wire name w, making it and the empty
// non-terminals between it and the apex.
func (b *builder) node(w string) *node {
	n := b.t.names[w]
	if n != nil {
		return n
	}
	n = &node{}
	b.t.names[w] = n
	for p := w; len(p) > len(b.t.zone); {
		p = p[1+int(p[0]):]
		if _, ok := b.t.names[p]; ok {
			break
		}
		b.t.names[p] = &node{}
	}
	return n
}

// add packs the records of name (wire form w). It reports false if any
// record could not be packed.
func (b *builder) add(name string, w []byte) bool {
	ok := true
	var a, aaaa, srv, ex [][]byte
	targets := map[string]bool{}
	for _, r := range b.rs.Lookup(name) {
		hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: b.ttl}
		var rr dns.RR
		switch r.Type {
		case records.TypeA:
			hdr.Rrtype = dns.TypeA
			rr = &dns.A{Hdr: hdr, A: r.Addr.AsSlice()}
		case records.TypeAAAA:
			hdr.Rrtype = dns.TypeAAAA
			rr = &dns.AAAA{Hdr: hdr, AAAA: r.Addr.AsSlice()}
		case records.TypeSRV:
			hdr.Rrtype = dns.TypeSRV
			rr = &dns.SRV{Hdr: hdr, Priority: r.SRV.Priority, Weight: r.SRV.Weight, Port: r.SRV.Port, Target: r.SRV.Target}
		default:
			continue
		}
		c, err := packRR(rr, w, w)
		if err != nil {
			ok = false
			continue
		}
		switch r.Type {
		case records.TypeA:
			a = append(a, c)
		case records.TypeAAAA:
			aaaa = append(aaaa, c)
		case records.TypeSRV:
			srv = append(srv, c)
			if !targets[r.SRV.Target] {
				targets[r.SRV.Target] = true
				ex = append(ex, b.addresses(r.SRV.Target, w)...)
			}
		}
	}
	n := b.node(string(w))
	all := &answer{ex: ex}
	for _, s := range []struct {
		qtype uint16
		an    [][]byte
	}{{dns.TypeA, a}, {dns.TypeAAAA, aaaa}, {dns.TypeSRV, srv}} {
		if len(s.an) == 0 {
			continue
		}
		an := &answer{an: s.an}
		if s.qtype == dns.TypeSRV {
			an.ex = ex
		}
		n.answers = append(n.answers, typedAnswer{s.qtype, an})
		all.an = append(all.an, s.an...)
	}
	if len(all.an) > 0 {
		n.answers = append(n.answers, typedAnswer{dns.TypeANY, all})
	}
	return ok
}

// addresses packs the first A and the first AAAA record of target, as
// Mesos-DNS adds them to the additional section, for a question named q.
func (b *builder) addresses(target string, q []byte) [][]byte {
	w, err := wireName(target)
	if err != nil {
		return nil
	}
	var out [][]byte
	var haveA, haveAAAA bool
	for _, r := range b.rs.Lookup(target) {
		hdr := dns.RR_Header{Name: target, Class: dns.ClassINET, Ttl: b.ttl}
		var rr dns.RR
		switch {
		case r.Type == records.TypeA && !haveA:
			haveA = true
			hdr.Rrtype = dns.TypeA
			rr = &dns.A{Hdr: hdr, A: r.Addr.AsSlice()}
		case r.Type == records.TypeAAAA && !haveAAAA:
			haveAAAA = true
			hdr.Rrtype = dns.TypeAAAA
			rr = &dns.AAAA{Hdr: hdr, AAAA: r.Addr.AsSlice()}
		default:
			continue
		}
		if c, err := packRR(rr, w, q); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// packRR packs rr without compression, then replaces its owner name (wire
// form owner) with a reference into the question q at offset 12.
func packRR(rr dns.RR, owner, q []byte) ([]byte, error) {
	buf := make([]byte, dns.Len(rr))
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	ref := ownerRef(owner, q)
	return append(ref[:len(ref):len(ref)], buf[len(owner):n]...), nil
}

// ownerRef compresses owner against the question name q, which a reply
// holds at offset 12: the labels owner does not share with q, then a
// pointer to the longest suffix they share.
func ownerRef(owner, q []byte) []byte {
	for i := 0; owner[i] != 0; i += 1 + int(owner[i]) {
		suffix := owner[i:]
		j := len(q) - len(suffix)
		if j >= 0 && bytes.Equal(q[j:], suffix) && labelStart(q, j) {
			ptr := 12 + j
			return append(owner[:i:i], byte(0xC0|ptr>>8), byte(ptr))
		}
	}
	return owner
}

// labelStart reports whether offset j of wire name w starts a label.
func labelStart(w []byte, j int) bool {
	i := 0
	for i < j && w[i] != 0 {
		i += 1 + int(w[i])
	}
	return i == j
}

// inZone reports whether wire name w is zone or below it.
func inZone(w, zone []byte) bool {
	j := len(w) - len(zone)
	return j >= 0 && bytes.Equal(w[j:], zone) && labelStart(w, j)
}

// wireName is the lower-case wire form of a fully qualified name.
func wireName(name string) ([]byte, error) {
	name = dns.Fqdn(strings.ToLower(name))
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
