// Package records turns a Mesos /master/state document into the DNS records
// Mesos-DNS would serve for it: A and AAAA records for tasks, agents,
// frameworks and masters, SRV records for task ports, and the zone's SOA and
// NS. It is pure: Generate takes values and returns an immutable RecordSet,
// which the resolver package serves.
package records

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
)

// Type is a record type the set holds.
type Type uint16

// Record types, numbered as on the wire.
const (
	TypeA    Type = 1
	TypeNS   Type = 2
	TypeSOA  Type = 6
	TypeAAAA Type = 28
	TypeSRV  Type = 33
)

func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeSOA:
		return "SOA"
	case TypeAAAA:
		return "AAAA"
	case TypeSRV:
		return "SRV"
	}
	return fmt.Sprintf("TYPE%d", uint16(t))
}

// Record is one A, AAAA or SRV record. Names are lower case and fully
// qualified, with the trailing dot.
type Record struct {
	Name string
	Type Type
	Addr netip.Addr // A and AAAA
	SRV  SRV        // SRV
}

// SRV is the data of an SRV record.
type SRV struct {
	Priority, Weight, Port uint16
	Target                 string
}

// Host renders the record's data as Mesos-DNS's HTTP API does: the address,
// or "target:port" for SRV.
func (r Record) Host() string {
	if r.Type == TypeSRV {
		return fmt.Sprintf("%s:%d", r.SRV.Target, r.SRV.Port)
	}
	return r.Addr.String()
}

// SOA is the zone's start of authority, without its serial, which the
// server stamps with the time of the update.
type SOA struct {
	Mname, Rname                   string
	Refresh, Retry, Expire, Minttl uint32
}

// Framework, Task and EnumRecord are the enumeration Mesos-DNS serves at
// /v1/enumerate: every framework, its running tasks and the task records
// each added first.
type Framework struct {
	Tasks []Task `json:"tasks"`
	Name  string `json:"name"`
}

// Task is one task of an enumerated framework.
type Task struct {
	Name    string       `json:"name"`
	ID      string       `json:"id"`
	Records []EnumRecord `json:"records"`
}

// EnumRecord is one record of an enumerated task.
type EnumRecord struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	Rtype string `json:"rtype"`
}

// RecordSet is an immutable set of records for one zone. The zero value is
// empty. Slices it returns are shared: callers must not modify them.
type RecordSet struct{ s *set }

type set struct {
	domain string // fully qualified, lower case
	ttl    uint32
	soa    SOA
	names  map[string][]Record // by name, in the order generated
	enum   []Framework
}

// Domain is the zone, fully qualified ("mesos.").
func (rs RecordSet) Domain() string {
	if rs.s == nil {
		return ""
	}
	return rs.s.domain
}

// TTL is the time to live of every record, in seconds.
func (rs RecordSet) TTL() uint32 {
	if rs.s == nil {
		return 0
	}
	return rs.s.ttl
}

// SOA is the zone's SOA record data; the zone's one NS record names
// SOA().Mname.
func (rs RecordSet) SOA() SOA {
	if rs.s == nil {
		return SOA{}
	}
	return rs.s.soa
}

// Lookup returns the A, AAAA and SRV records of name (lower case, fully
// qualified), in the order they were generated.
func (rs RecordSet) Lookup(name string) []Record {
	if rs.s == nil {
		return nil
	}
	return rs.s.names[name]
}

// Names returns every name that holds records, sorted.
func (rs RecordSet) Names() []string {
	if rs.s == nil {
		return nil
	}
	out := make([]string, 0, len(rs.s.names))
	for n := range rs.s.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Len is the number of A, AAAA and SRV records.
func (rs RecordSet) Len() int {
	if rs.s == nil {
		return 0
	}
	n := 0
	for _, r := range rs.s.names {
		n += len(r)
	}
	return n
}

// Enumerate returns the frameworks and their task records, as /v1/enumerate
// shows them.
func (rs RecordSet) Enumerate() []Framework {
	if rs.s == nil {
		return nil
	}
	return rs.s.enum
}

// WriteTo writes the whole zone in zone-file syntax, one record a line,
// sorted by name, type and data; the SOA serial is written as 0. It is the
// form of the golden conformance test.
func (rs RecordSet) WriteTo(w io.Writer) (int64, error) {
	if rs.s == nil {
		return 0, nil
	}
	var lines []string
	soa := rs.s.soa
	lines = append(lines,
		fmt.Sprintf("%s\t%d\tIN\tSOA\t%s %s 0 %d %d %d %d", rs.s.domain, rs.s.ttl, soa.Mname, soa.Rname, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl),
		fmt.Sprintf("%s\t%d\tIN\tNS\t%s", rs.s.domain, rs.s.ttl, soa.Mname))
	for _, recs := range rs.s.names {
		for _, r := range recs {
			lines = append(lines, r.line(rs.s.ttl))
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lineLess(lines[i], lines[j]) })
	var n int64
	for _, l := range lines {
		m, err := io.WriteString(w, l+"\n")
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r Record) line(ttl uint32) string {
	switch r.Type {
	case TypeSRV:
		return fmt.Sprintf("%s\t%d\tIN\tSRV\t%d %d %d %s", r.Name, ttl, r.SRV.Priority, r.SRV.Weight, r.SRV.Port, r.SRV.Target)
	default:
		return fmt.Sprintf("%s\t%d\tIN\t%s\t%s", r.Name, ttl, r.Type, r.Addr)
	}
}

// lineLess orders zone lines by name, then by the rest of the line.
func lineLess(a, b string) bool {
	an, ar, _ := strings.Cut(a, "\t")
	bn, br, _ := strings.Cut(b, "\t")
	if an != bn {
		return an < bn
	}
	return ar < br
}
