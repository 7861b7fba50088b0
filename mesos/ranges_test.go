package mesos

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// mustRanges parses s or fails the test; table cases write ranges in Mesos
// syntax so that a failure reads the way an operator would type it.
func mustRanges(t testing.TB, s string) Ranges {
	t.Helper()
	rs, err := ParseRanges(s)
	if err != nil {
		t.Fatalf("ParseRanges(%q): %v", s, err)
	}
	return rs
}

// checkNormalized fails unless rs is sorted, disjoint and non-adjacent, the
// invariant every Ranges operation promises.
func checkNormalized(t testing.TB, what string, rs Ranges) {
	t.Helper()
	for i, r := range rs {
		if r.Begin > r.End {
			t.Fatalf("%s = %v: range %d has begin after end", what, rs, i)
		}
		if i > 0 && rs[i-1].End != math.MaxUint64 && r.Begin <= rs[i-1].End+1 {
			t.Fatalf("%s = %v: ranges %d and %d overlap or touch", what, rs, i-1, i)
		}
		if i > 0 && rs[i-1].End == math.MaxUint64 {
			t.Fatalf("%s = %v: range %d follows one ending at the maximum", what, rs, i)
		}
	}
}

func TestParseRanges(t *testing.T) {
	tests := []struct {
		in   string
		want Ranges
	}{
		{"[]", nil},
		{"  [ ]  ", nil},
		{"[31000-32000]", Ranges{{31000, 32000}}},
		{"[31000-31005, 31010-31010]", Ranges{{31000, 31005}, {31010, 31010}}},
		{"[31000-31005,31010-31010]", Ranges{{31000, 31005}, {31010, 31010}}},
		{"[ 1 - 2 , 4 - 5 ]", Ranges{{1, 2}, {4, 5}}},
		{"[0-0]", Ranges{{0, 0}}},
		{"[80]", Ranges{{80, 80}}},
		{"[80, 443]", Ranges{{80, 80}, {443, 443}}},
		// Normalization: sorted, overlapping and adjacent ranges merged.
		{"[10-20, 1-5]", Ranges{{1, 5}, {10, 20}}},
		{"[1-3, 4-6]", Ranges{{1, 6}}},
		{"[4-6, 1-3]", Ranges{{1, 6}}},
		{"[1-10, 5-15]", Ranges{{1, 15}}},
		{"[1-10, 2-3]", Ranges{{1, 10}}},
		{"[1-5, 1-5]", Ranges{{1, 5}}},
		{"[1-2, 3-4, 5-6, 8-9]", Ranges{{1, 6}, {8, 9}}},
		{"[5, 3, 4]", Ranges{{3, 5}}},
		// The top of the uint64 space, where End+1 wraps.
		{"[18446744073709551615]", Ranges{{math.MaxUint64, math.MaxUint64}}},
		{"[0-18446744073709551615]", Ranges{{0, math.MaxUint64}}},
		{"[0-18446744073709551615, 18446744073709551615]", Ranges{{0, math.MaxUint64}}},
		{"[10-18446744073709551615, 20-30]", Ranges{{10, math.MaxUint64}}},
		{"[18446744073709551614, 18446744073709551615]", Ranges{{math.MaxUint64 - 1, math.MaxUint64}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRanges(tt.in)
			if err != nil {
				t.Fatalf("ParseRanges(%q) error: %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseRanges(%q) = %v, want %v", tt.in, got, tt.want)
			}
			checkNormalized(t, "ParseRanges("+tt.in+")", got)
		})
	}
}

func TestParseRangesErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // the offending text the message must name
	}{
		{"", `""`},
		{"31000-32000", "31000-32000"},
		{"[31000-32000", "[31000-32000"},
		{"31000-32000]", "31000-32000]"},
		{"(31000-32000)", "(31000-32000)"},
		{"[", `"["`},
		{"[a-b]", `"a-b"`},
		{"[1-b]", `"1-b"`},
		{"[32000-31000]", `"32000-31000"`},
		{"[1-5, 9-7]", `"9-7"`},
		{"[1-2, x]", `"x"`},
		{"[-1-5]", `"-1-5"`},
		{"[1-2-3]", `"1-2-3"`},
		{"[1--2]", `"1--2"`},
		{"[1-]", `"1-"`},
		{"[-]", `"-"`},
		{"[1-2,]", `"[1-2,]"`},
		{"[,]", `"[,]"`},
		{"[+1-2]", `"+1-2"`},
		{"[1.5-2]", `"1.5-2"`},
		{"[18446744073709551616]", `"18446744073709551616"`},
		{"[1 2]", `"1 2"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRanges(tt.in)
			if err == nil {
				t.Fatalf("ParseRanges(%q) = %v, want error naming %s", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRanges(%q) error = %q, want it to name %s", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestRangesString(t *testing.T) {
	tests := []struct {
		in   Ranges
		want string
	}{
		{nil, "[]"},
		{Ranges{}, "[]"},
		{Ranges{{31000, 32000}}, "[31000-32000]"},
		{Ranges{{31000, 31005}, {31010, 31010}}, "[31000-31005, 31010-31010]"},
		{Ranges{{0, 0}, {2, 3}, {math.MaxUint64, math.MaxUint64}}, "[0-0, 2-3, 18446744073709551615-18446744073709551615]"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.in, got, tt.want)
			}
			if back := mustRanges(t, tt.want); !slices.Equal(back, tt.in) {
				t.Errorf("ParseRanges(%q) = %v, want %v", tt.want, back, tt.in)
			}
		})
	}
}

func TestRangesAdd(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{"[]", "[]", "[]"},
		{"[1-5]", "[]", "[1-5]"},
		{"[]", "[1-5]", "[1-5]"},
		{"[1-5]", "[1-5]", "[1-5]"},
		{"[1-5]", "[6-10]", "[1-10]"},
		{"[6-10]", "[1-5]", "[1-10]"},
		{"[1-5]", "[7-10]", "[1-5, 7-10]"},
		{"[1-5]", "[3-8]", "[1-8]"},
		{"[1-10]", "[3-4]", "[1-10]"},
		{"[1-2, 5-6, 9-10]", "[3-4, 7-8]", "[1-10]"},
		{"[1-2, 9-10]", "[5]", "[1-2, 5-5, 9-10]"},
		{"[31000-31005]", "[31010]", "[31000-31005, 31010-31010]"},
		{"[18446744073709551615]", "[0-18446744073709551614]", "[0-18446744073709551615]"},
		{"[10-18446744073709551615]", "[5-20]", "[5-18446744073709551615]"},
	}
	for _, tt := range tests {
		t.Run(tt.a+"+"+tt.b, func(t *testing.T) {
			a, b := mustRanges(t, tt.a), mustRanges(t, tt.b)
			aCopy, bCopy := slices.Clone(a), slices.Clone(b)
			got := a.Add(b)
			if want := mustRanges(t, tt.want); !slices.Equal(got, want) {
				t.Errorf("%v.Add(%v) = %v, want %v", a, b, got, want)
			}
			checkNormalized(t, "Add", got)
			if !slices.Equal(a, aCopy) || !slices.Equal(b, bCopy) {
				t.Errorf("%v.Add(%v) modified its inputs to %v and %v", aCopy, bCopy, a, b)
			}
		})
	}
}

func TestRangesSub(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"nothing from nothing", "[]", "[]", "[]"},
		{"from nothing", "[]", "[1-5]", "[]"},
		{"nothing", "[1-5]", "[]", "[1-5]"},
		{"middle", "[31000-32000]", "[31500]", "[31000-31499, 31501-32000]"},
		{"middle span", "[1-10]", "[4-6]", "[1-3, 7-10]"},
		{"left edge", "[1-10]", "[1]", "[2-10]"},
		{"left part", "[1-10]", "[1-3]", "[4-10]"},
		{"right edge", "[1-10]", "[10]", "[1-9]"},
		{"right part", "[1-10]", "[8-10]", "[1-7]"},
		{"whole", "[1-10]", "[1-10]", "[]"},
		{"superset", "[3-7]", "[1-10]", "[]"},
		{"overlap left", "[5-10]", "[1-6]", "[7-10]"},
		{"overlap right", "[5-10]", "[9-20]", "[5-8]"},
		{"disjoint", "[5-10]", "[1-3, 12-20]", "[5-10]"},
		{"several holes", "[1-20]", "[2, 5-6, 10-12, 20]", "[1-1, 3-4, 7-9, 13-19]"},
		{"one hole across ranges", "[1-5, 10-15]", "[4-11]", "[1-3, 12-15]"},
		{"one range removes two", "[1-2, 4-5]", "[1-5]", "[]"},
		{"leaves middle range", "[1-2, 4-5, 7-8]", "[1-2, 7-8]", "[4-5]"},
		{"single value", "[80]", "[80]", "[]"},
		{"top whole", "[18446744073709551615]", "[18446744073709551615]", "[]"},
		{"top edge", "[10-18446744073709551615]", "[18446744073709551615]", "[10-18446744073709551614]"},
		{"top superset", "[10-18446744073709551615]", "[0-18446744073709551615]", "[]"},
		{"top tail", "[0-18446744073709551615]", "[5-18446744073709551615]", "[0-4]"},
		{"top middle", "[0-18446744073709551615]", "[5-6]", "[0-4, 7-18446744073709551615]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustRanges(t, tt.a), mustRanges(t, tt.b)
			aCopy, bCopy := slices.Clone(a), slices.Clone(b)
			got := a.Sub(b)
			if want := mustRanges(t, tt.want); !slices.Equal(got, want) {
				t.Errorf("%v.Sub(%v) = %v, want %v", a, b, got, want)
			}
			checkNormalized(t, "Sub", got)
			if !slices.Equal(a, aCopy) || !slices.Equal(b, bCopy) {
				t.Errorf("%v.Sub(%v) modified its inputs to %v and %v", aCopy, bCopy, a, b)
			}
			// The result lies within a and shares nothing with b, and
			// adding back the part of a in b restores a.
			if !a.Contains(got) {
				t.Errorf("%v.Sub(%v) = %v, not within %v", a, b, got, a)
			}
			if left := got.Sub(b); !slices.Equal(left, got) {
				t.Errorf("%v.Sub(%v) = %v, which still overlaps %v", a, b, got, b)
			}
			if back := got.Add(a.Sub(a.Sub(b))); !slices.Equal(back, a) {
				t.Errorf("%v.Sub(%v) = %v, plus the removed part = %v, want %v", a, b, got, back, a)
			}
		})
	}
}

func TestRangesContains(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"[]", "[]", true},
		{"[1-5]", "[]", true},
		{"[]", "[1]", false},
		{"[31000-32000]", "[31000-32000]", true},
		{"[31000-32000]", "[31000]", true},
		{"[31000-32000]", "[32000]", true},
		{"[31000-32000]", "[31500-31600]", true},
		{"[31000-32000]", "[30999]", false},
		{"[31000-32000]", "[32001]", false},
		{"[31000-32000]", "[30000-31000]", false},
		{"[31000-32000]", "[31999-32001]", false},
		{"[1-5, 10-15]", "[2, 11-12, 15]", true},
		{"[1-5, 10-15]", "[4-11]", false},
		{"[1-5, 10-15]", "[7]", false},
		{"[1-5, 10-15]", "[1-5, 10-15]", true},
		{"[1-5]", "[1-5, 10]", false},
		{"[0-18446744073709551615]", "[18446744073709551615]", true},
	}
	for _, tt := range tests {
		t.Run(tt.a+"⊇"+tt.b, func(t *testing.T) {
			a, b := mustRanges(t, tt.a), mustRanges(t, tt.b)
			if got := a.Contains(b); got != tt.want {
				t.Errorf("%v.Contains(%v) = %v, want %v", a, b, got, tt.want)
			}
		})
	}
}

func TestRangesContainsValue(t *testing.T) {
	rs := mustRanges(t, "[1-5, 10-10, 20-30, 18446744073709551615]")
	tests := []struct {
		v    uint64
		want bool
	}{
		{0, false}, {1, true}, {3, true}, {5, true}, {6, false}, {9, false},
		{10, true}, {11, false}, {20, true}, {30, true}, {31, false},
		{math.MaxUint64 - 1, false}, {math.MaxUint64, true},
	}
	for _, tt := range tests {
		if got := rs.ContainsValue(tt.v); got != tt.want {
			t.Errorf("%v.ContainsValue(%d) = %v, want %v", rs, tt.v, got, tt.want)
		}
	}
	if Ranges(nil).ContainsValue(0) {
		t.Errorf("Ranges(nil).ContainsValue(0) = true, want false")
	}
}

func TestRangesSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"[]", 0},
		{"[80]", 1},
		{"[31000-32000]", 1001},
		{"[31000-31005, 31010-31010]", 7},
		{"[18446744073709551615]", 1},
		{"[1-18446744073709551615]", math.MaxUint64},
		{"[0-18446744073709551614]", math.MaxUint64},
		// 2^64 integers do not fit; Size saturates rather than wrapping to 0.
		{"[0-18446744073709551615]", math.MaxUint64},
		{"[0-5, 7-18446744073709551615]", math.MaxUint64},
	}
	for _, tt := range tests {
		if got := mustRanges(t, tt.in).Size(); got != tt.want {
			t.Errorf("ParseRanges(%q).Size() = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestRangesValues(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []uint64
	}{
		{"[]", 3, nil},
		{"[1-5]", 0, nil},
		{"[1-5]", -1, nil},
		{"[1-5]", 3, []uint64{1, 2, 3}},
		{"[1-2, 7-9]", 4, []uint64{1, 2, 7, 8}},
		{"[1-2, 7-9]", 10, []uint64{1, 2, 7, 8, 9}},
		{"[18446744073709551614-18446744073709551615]", 5, []uint64{math.MaxUint64 - 1, math.MaxUint64}},
	}
	for _, tt := range tests {
		rs := mustRanges(t, tt.in)
		if got := rs.Values(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("%v.Values(%d) = %v, want %v", rs, tt.n, got, tt.want)
		}
	}
}

func TestRangesOf(t *testing.T) {
	tests := []struct {
		in   []uint64
		want string
	}{
		{nil, "[]"},
		{[]uint64{80}, "[80-80]"},
		{[]uint64{3, 1, 2, 2, 7}, "[1-3, 7-7]"},
	}
	for _, tt := range tests {
		if got := RangesOf(tt.in...); got.String() != tt.want {
			t.Errorf("RangesOf(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRanges(f *testing.F) {
	for _, s := range []string{
		"[]",
		"[31000-32000]",
		"[31000-31005, 31010-31010]",
		"[10-20, 1-5, 6-9]",
		"[80, 443]",
		"[0-18446744073709551615, 18446744073709551615]",
		"[18446744073709551614, 18446744073709551615]",
		"[5-1]",
		"[1-2,]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRanges(s)
		if err != nil {
			return
		}
		checkNormalized(t, "ParseRanges", rs)
		formatted := rs.String()
		again, err := ParseRanges(formatted)
		if err != nil {
			t.Fatalf("ParseRanges(%q) = %v, whose String %q does not parse: %v", s, rs, formatted, err)
		}
		if !slices.Equal(again, rs) {
			t.Fatalf("ParseRanges(%q) = %v, want %v (re-parsed from %q)", formatted, again, rs, s)
		}
		if again.String() != formatted {
			t.Fatalf("ParseRanges(%q).String() = %q, want %q", formatted, again.String(), formatted)
		}
	})
}
