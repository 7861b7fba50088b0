package resolver

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/miekg/dns"
)

// action says what to do with a query after handle.
type action int

const (
	drop    action = iota // send nothing
	reply                 // send the reply
	forward               // pass the query to an upstream server
)

const (
	headerLen = 12
	optLen    = 11 // an OPT record without options
	flagQR    = 1 << 15
	flagAA    = 1 << 10
	flagTC    = 1 << 9
	flagRD    = 1 << 8
	flagRA    = 1 << 7
	doBit     = 1 << 15 // in the OPT record's TTL
)

// scratch is one reader's reusable memory; the query path allocates nothing.
type scratch struct {
	out  []byte
	key  [255]byte
	perm []int
}

func newScratch() *scratch { return &scratch{out: make([]byte, 0, 65535)} }

// query is what handle reads from a request.
type query struct {
	id, flags     uint16
	qend          int // end of the question in the request
	qnameLen      int
	qtype, qclass uint16
	edns          bool
	ednsVersion   uint8
	udpSize       uint16
	do            bool
}

// handle answers the request msg. udp says which transport it came over,
// which limits the reply's size. The reply is built in s.out.
func (r *Resolver) handle(msg []byte, udp bool, s *scratch) ([]byte, action) {
	if len(msg) < headerLen {
		return nil, drop
	}
	var q query
	q.id = binary.BigEndian.Uint16(msg)
	q.flags = binary.BigEndian.Uint16(msg[2:])
	if q.flags&flagQR != 0 {
		return nil, drop // a response: answering it could loop
	}
	if opcode := int(q.flags>>11) & 0xF; opcode != dns.OpcodeQuery {
		return r.headerOnly(s, &q, dns.RcodeNotImplemented), reply
	}
	if binary.BigEndian.Uint16(msg[4:]) != 1 {
		return r.headerOnly(s, &q, dns.RcodeFormatError), reply
	}
	key, ok := parseQuestion(msg, &q, s)
	if !ok || !parseRest(msg, &q) {
		return r.headerOnly(s, &q, dns.RcodeFormatError), reply
	}
	if q.edns && q.ednsVersion != 0 {
		return r.finish(s, msg, &q, nil, nil, dns.RcodeBadVers, udp), reply
	}
	zone := r.zone
	inZone := q.qclass == dns.ClassINET || q.qclass == dns.ClassANY
	inZone = inZone && len(key) >= len(zone) && string(key[len(key)-len(zone):]) == string(zone) && labelStart(key, len(key)-len(zone))
	if !inZone {
		if len(r.upstreams) > 0 {
			return nil, forward
		}
		return r.finish(s, msg, &q, nil, nil, dns.RcodeRefused, udp), reply
	}
	t := r.table.Load()
	switch {
	case q.qtype == dns.TypeAXFR || q.qtype == dns.TypeIXFR:
		return r.finish(s, msg, &q, nil, nil, dns.RcodeRefused, udp), reply
	case t == nil:
		return r.finish(s, msg, &q, nil, nil, dns.RcodeServerFailure, udp), reply // no records yet
	}
	n := t.names[string(key)]
	switch {
	case n == nil:
		return r.finish(s, msg, &q, t, nil, dns.RcodeNameError, udp), reply
	default:
		if ans := n.lookup(q.qtype); ans != nil {
			return r.finish(s, msg, &q, t, ans, dns.RcodeSuccess, udp), reply
		}
		return r.finish(s, msg, &q, t, nil, dns.RcodeSuccess, udp), reply // NODATA
	}
}

// parseQuestion reads the one question, lowering its name into s.key.
func parseQuestion(msg []byte, q *query, s *scratch) ([]byte, bool) {
	off, n := headerLen, 0
	for {
		if off >= len(msg) {
			return nil, false
		}
		l := int(msg[off])
		if l == 0 {
			s.key[n] = 0
			n++
			off++
			break
		}
		if l&0xC0 != 0 || off+1+l > len(msg) || n+1+l >= len(s.key) {
			return nil, false // a pointer or extended label in a question, or too long
		}
		s.key[n] = byte(l)
		for i, c := range msg[off+1 : off+1+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			s.key[n+1+i] = c
		}
		n += 1 + l
		off += 1 + l
	}
	if off+4 > len(msg) {
		return nil, false
	}
	q.qnameLen = n
	q.qtype = binary.BigEndian.Uint16(msg[off:])
	q.qclass = binary.BigEndian.Uint16(msg[off+2:])
	q.qend = off + 4
	return s.key[:n], true
}

// parseRest walks the answer, authority and additional sections, which a
// query rarely has, for the EDNS0 OPT record.
func parseRest(msg []byte, q *query) bool {
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	off := q.qend
	for i := 0; i < an+ns+ar; i++ {
		start := off
		for { // the owner name, without following pointers
			if off >= len(msg) {
				return false
			}
			l := int(msg[off])
			if l&0xC0 == 0xC0 {
				off += 2
				break
			}
			if l&0xC0 != 0 {
				return false
			}
			off += 1 + l
			if l == 0 {
				break
			}
		}
		if off+10 > len(msg) {
			return false
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		if off+10+rdlen > len(msg) {
			return false
		}
		if typ == dns.TypeOPT {
			if i < an+ns || q.edns || off != start+1 {
				return false // OPT only once, in the additional section, owned by the root
			}
			q.edns = true
			q.udpSize = binary.BigEndian.Uint16(msg[off+2:])
			ttl := binary.BigEndian.Uint32(msg[off+4:])
			q.ednsVersion = uint8(ttl >> 16)
			q.do = ttl&doBit != 0
		}
		off += 10 + rdlen
	}
	return true
}

// headerOnly is a reply with no question, for requests whose question
// cannot be read.
func (r *Resolver) headerOnly(s *scratch, q *query, rcode int) []byte {
	out := s.out[:headerLen]
	binary.BigEndian.PutUint16(out, q.id)
	binary.BigEndian.PutUint16(out[2:], flagQR|q.flags&(0xF<<11|flagRD)|uint16(rcode))
	clear(out[4:])
	return out
}

// finish writes the reply: the request's question as it was asked (its
// case kept), then ans's records shuffled, the SOA for negative answers
// and errors of a loaded zone, and the OPT record. Whatever does not fit
// the client's size is left out and TC set, as miekg's Msg.Truncate does.
func (r *Resolver) finish(s *scratch, msg []byte, q *query, t *table, ans *answer, rcode int, udp bool) []byte {
	limit := 65535
	if udp {
		limit = dns.MinMsgSize
		if q.edns && int(q.udpSize) > limit {
			limit = int(q.udpSize)
		}
	}
	if q.edns {
		limit -= optLen
	}
	out := append(s.out[:0], msg[:headerLen]...)
	out = append(out, msg[headerLen:q.qend]...)
	flags := flagQR | q.flags&flagRD | uint16(rcode&0xF)
	if r.ra {
		flags |= flagRA
	}
	var an, ns, ar int
	full := false
	add := func(c []byte) bool {
		if full || len(out)+len(c) > limit {
			full = true
			return false
		}
		out = append(out, c...)
		return true
	}
	if t != nil {
		flags |= flagAA
		if ans != nil {
			s.perm = shuffle(s.perm, len(ans.an))
			for _, i := range s.perm {
				if add(ans.an[i]) {
					an++
				}
			}
			for _, c := range ans.ex {
				if add(c) {
					ar++
				}
			}
		} else if rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError {
			// The SOA's owner is the apex: the question name's suffix.
			ptr := headerLen + q.qnameLen - len(t.zone)
			if !full && len(out)+2+len(t.soaBody) <= limit {
				out = append(out, byte(0xC0|ptr>>8), byte(ptr))
				out = append(out, t.soaBody...)
				ns++
			} else {
				full = true
			}
		}
	}
	if full {
		flags |= flagTC
	}
	if q.edns {
		ext := uint32(rcode>>4) << 24
		if q.do {
			ext |= doBit
		}
		out = append(out, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT&0xFF), byte(r.cfg.EDNSSize>>8), byte(r.cfg.EDNSSize))
		out = binary.BigEndian.AppendUint32(out, ext)
		out = append(out, 0, 0)
		ar++
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], uint16(an))
	binary.BigEndian.PutUint16(out[8:], uint16(ns))
	binary.BigEndian.PutUint16(out[10:], uint16(ar))
	return out
}

// shuffle returns a random permutation of [0, n) in p's memory.
func shuffle(p []int, n int) []int {
	p = p[:0]
	for i := range n {
		p = append(p, i)
	}
	for i := n - 1; i > 0; i-- {
		j := rand.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
