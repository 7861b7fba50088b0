package mesos

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Range is an inclusive interval of integers, such as ports 31000-32000.
type Range struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

// Ranges is a sorted list of disjoint, non-adjacent ranges. The zero value is
// empty. Operations return new values and never modify their inputs.
type Ranges []Range

// ParseRanges parses Mesos range syntax: "[31000-32000]" or
// "[31000-31005, 31010-31010]". A bare "[]" is the empty set.
func ParseRanges(s string) (Ranges, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("invalid ranges %q, must look like [31000-32000]", s)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return nil, nil
	}
	var rs []Range
	for _, part := range strings.Split(body, ",") {
		part = strings.TrimSpace(part)
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("invalid range %q in %q, must be begin-end with non-negative integers", part, s)
		}
		if b > e {
			return nil, fmt.Errorf("invalid range %q in %q, begin must not exceed end", part, s)
		}
		rs = append(rs, Range{b, e})
	}
	return normalize(rs), nil
}

// normalize sorts rs and merges overlapping or adjacent ranges, in place.
func normalize(rs []Range) Ranges {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Begin < rs[j].Begin })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		// last.End+1 would wrap to 0 at the top of the uint64 space.
		if r.Begin <= last.End || r.Begin-1 == last.End {
			if r.End > last.End {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// String formats rs as Mesos does in /master/state: "[31000-31005, 31010-31010]".
func (rs Ranges) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(r.Begin, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(r.End, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// Size is the number of integers in rs, the quantity Mesos uses for ranges.
// It saturates at math.MaxUint64: [0-18446744073709551615] holds one more
// integer than a uint64 can count, and wrapping to 0 would make it look empty.
func (rs Ranges) Size() uint64 {
	var n uint64
	for _, r := range rs {
		d := r.End - r.Begin + 1
		if d == 0 || n+d < n {
			return math.MaxUint64
		}
		n += d
	}
	return n
}

// Add returns the union of rs and o.
func (rs Ranges) Add(o Ranges) Ranges {
	if len(o) == 0 {
		return rs.clone()
	}
	all := make([]Range, 0, len(rs)+len(o))
	all = append(all, rs...)
	all = append(all, o...)
	return normalize(all)
}

// Sub returns the integers of rs that are not in o.
func (rs Ranges) Sub(o Ranges) Ranges {
	if len(o) == 0 {
		return rs.clone()
	}
	var out []Range
	j := 0
	for _, r := range rs {
		cur, consumed := r, false
		for j < len(o) && o[j].End < cur.Begin {
			j++
		}
		k := j
		for k < len(o) && o[k].Begin <= cur.End {
			if o[k].Begin > cur.Begin {
				out = append(out, Range{cur.Begin, o[k].Begin - 1})
			}
			if o[k].End >= cur.End {
				consumed = true // cur.End+1 could wrap, so no sentinel Begin
				break
			}
			cur.Begin = o[k].End + 1
			k++
		}
		if !consumed {
			out = append(out, cur)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Contains reports whether every integer of o is in rs.
func (rs Ranges) Contains(o Ranges) bool {
	i := 0
	for _, r := range o {
		for i < len(rs) && rs[i].End < r.Begin {
			i++
		}
		if i == len(rs) || rs[i].Begin > r.Begin || rs[i].End < r.End {
			return false
		}
	}
	return true
}

// ContainsValue reports whether v is in rs.
func (rs Ranges) ContainsValue(v uint64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End >= v })
	return i < len(rs) && rs[i].Begin <= v
}

// Values returns up to n integers of rs in ascending order.
func (rs Ranges) Values(n int) []uint64 {
	var out []uint64
	for _, r := range rs {
		for v := r.Begin; len(out) < n; v++ {
			out = append(out, v)
			if v == r.End { // v++ would wrap at the top of the uint64 space
				break
			}
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// RangesOf builds Ranges from single values.
func RangesOf(values ...uint64) Ranges {
	rs := make([]Range, len(values))
	for i, v := range values {
		rs[i] = Range{v, v}
	}
	return normalize(rs)
}

func (rs Ranges) clone() Ranges {
	if len(rs) == 0 {
		return nil
	}
	return append(Ranges(nil), rs...)
}
