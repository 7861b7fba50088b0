package match

import (
	"slices"
	"strings"
	"testing"

	"corral/mesos"
)

// offerOn builds an offer from a hostname and attributes in agent syntax.
func offerOn(t *testing.T, host, attrs string) mesos.Offer {
	t.Helper()
	as, err := mesos.ParseAttributes(attrs)
	if err != nil {
		t.Fatalf("ParseAttributes(%q): %v", attrs, err)
	}
	return mesos.Offer{ID: "o-" + host, AgentID: "agent-" + host, Hostname: host, Attributes: as}
}

// on lists placed instances, each "host" or "host|attributes".
func on(t *testing.T, specs ...string) []Placed {
	t.Helper()
	var out []Placed
	for _, s := range specs {
		host, attrs, _ := strings.Cut(s, "|")
		o := offerOn(t, host, attrs)
		out = append(out, Placed{AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes})
	}
	return out
}

func mustParse(t *testing.T, c ...string) Constraint {
	t.Helper()
	out, err := ParseConstraint(c)
	if err != nil {
		t.Fatalf("ParseConstraint(%q): %v", c, err)
	}
	return out
}

func TestSatisfies(t *testing.T) {
	tests := []struct {
		name       string
		constraint []string
		host       string
		attrs      string
		placed     []string
		want       bool
		reason     string // substring of the reason when want is false
	}{
		// UNIQUE
		{"unique hostname, nothing placed", []string{"hostname", "UNIQUE"}, "a", "", nil, true, ""},
		{"unique hostname, placed elsewhere", []string{"hostname", "UNIQUE"}, "a", "", []string{"b", "c"}, true, ""},
		{"unique hostname, placed here", []string{"hostname", "UNIQUE"}, "a", "", []string{"b", "a"}, false, `an instance already runs where hostname is "a"`},
		{"unique @hostname, placed here", []string{"@hostname", "UNIQUE"}, "a", "", []string{"a"}, false, "already runs"},
		{"unique attribute, other values placed", []string{"rack", "UNIQUE"}, "a", "rack:r1", []string{"b|rack:r2"}, true, ""},
		{"unique attribute, value placed", []string{"rack", "UNIQUE"}, "a", "rack:r1", []string{"b|rack:r1"}, false, `attribute "rack" is "r1"`},
		{"unique attribute, placed without attribute", []string{"rack", "UNIQUE"}, "a", "rack:r1", []string{"b"}, true, ""},
		{"unique attribute missing", []string{"rack", "UNIQUE"}, "a", "", nil, false, `agent "a" has no attribute "rack"`},
		{"unique scalar attribute compares formatted", []string{"level", "UNIQUE"}, "a", "level:0.80", []string{"b|level:0.8"}, false, `"0.8"`},

		// CLUSTER
		{"cluster hostname value hit", []string{"hostname", "CLUSTER", "a"}, "a", "", nil, true, ""},
		{"cluster hostname value miss", []string{"hostname", "CLUSTER", "a"}, "b", "", nil, false, `hostname is "b"`},
		{"cluster hostname, first instance anywhere", []string{"hostname", "CLUSTER"}, "b", "", nil, true, ""},
		{"cluster hostname, with the others", []string{"hostname", "CLUSTER"}, "b", "", []string{"b", "b"}, true, ""},
		{"cluster hostname, away from the others", []string{"hostname", "CLUSTER"}, "c", "", []string{"b"}, false, `instances run where it is "b"`},
		{"cluster attribute value hit", []string{"rack", "CLUSTER", "r1"}, "a", "rack:r1", []string{"x|rack:r2"}, true, ""},
		{"cluster attribute value miss", []string{"rack", "CLUSTER", "r1"}, "a", "rack:r2", nil, false, `attribute "rack" is "r2"`},
		{"cluster attribute missing", []string{"rack", "CLUSTER", "r1"}, "a", "", nil, false, "has no attribute"},
		{"cluster attribute, follows first placed", []string{"rack", "CLUSTER"}, "a", "rack:r1", []string{"b|rack:r1"}, true, ""},
		{"cluster attribute, differs from first placed", []string{"rack", "CLUSTER"}, "a", "rack:r2", []string{"b|rack:r1"}, false, `instances run where it is "r1"`},
		{"cluster attribute, first placed lacks it", []string{"rack", "CLUSTER"}, "a", "rack:r2", []string{"b"}, false, "where it is unset"},
		{"cluster scalar value compares as text", []string{"level", "CLUSTER", "0.8"}, "a", "level:0.80", nil, true, ""},
		{"cluster scalar value is not normalised", []string{"level", "CLUSTER", "0.80"}, "a", "level:0.8", nil, false, `is "0.8"`},

		// GROUP_BY without a value
		{"group_by new value", []string{"rack", "GROUP_BY"}, "a", "rack:r3", []string{"b|rack:r1", "c|rack:r1"}, true, ""},
		{"group_by equal groups", []string{"rack", "GROUP_BY"}, "a", "rack:r1", []string{"b|rack:r1", "c|rack:r2"}, true, ""},
		{"group_by largest group", []string{"rack", "GROUP_BY"}, "a", "rack:r1", []string{"b|rack:r1", "c|rack:r1", "d|rack:r2"}, false, `"r1" has 2 instances, the smallest group has 1`},
		{"group_by smallest group", []string{"rack", "GROUP_BY"}, "a", "rack:r2", []string{"b|rack:r1", "c|rack:r1", "d|rack:r2"}, true, ""},
		{"group_by hostname", []string{"hostname", "GROUP_BY"}, "b", "", []string{"a", "b", "b"}, false, "smallest group"},
		{"group_by missing attribute", []string{"rack", "GROUP_BY"}, "a", "", nil, false, "has no attribute"},
		{"group_by, instances without the attribute form a group", []string{"rack", "GROUP_BY"}, "a", "rack:r1", []string{"b|rack:r1", "c"}, true, ""},
		{"group_by, instances without the attribute form a smaller group", []string{"rack", "GROUP_BY"}, "a", "rack:r1", []string{"b|rack:r1", "b|rack:r1", "c"}, false, "smallest group has 1"},

		// GROUP_BY with a value: wait for that many groups (constraints.md's scenario)
		{"group_by 3, two groups, known value", []string{"rack", "GROUP_BY", "3"}, "a", "rack:r1", []string{"b|rack:r1", "c|rack:r2"}, false, "only 2 of 3 groups are in use"},
		{"group_by 3, two groups, third value", []string{"rack", "GROUP_BY", "3"}, "a", "rack:r3", []string{"b|rack:r1", "c|rack:r2"}, true, ""},
		{"group_by 3, three groups", []string{"rack", "GROUP_BY", "3"}, "a", "rack:r1", []string{"b|rack:r1", "c|rack:r2", "d|rack:r3"}, true, ""},
		{"group_by 3, a fourth value still passes", []string{"rack", "GROUP_BY", "3"}, "a", "rack:r4", []string{"b|rack:r1", "c|rack:r2", "d|rack:r3"}, true, ""},

		// MAX_PER
		{"max_per hostname under the limit", []string{"hostname", "MAX_PER", "2"}, "a", "", []string{"a", "b"}, true, ""},
		{"max_per hostname at the limit", []string{"hostname", "MAX_PER", "2"}, "a", "", []string{"a", "a"}, false, `2 instances already run where hostname is "a", at most 2 allowed`},
		{"max_per attribute at the limit", []string{"rack", "MAX_PER", "1"}, "a", "rack:r1", []string{"b|rack:r1"}, false, "at most 1"},
		{"max_per attribute other value", []string{"rack", "MAX_PER", "1"}, "a", "rack:r2", []string{"b|rack:r1"}, true, ""},
		{"max_per missing attribute", []string{"rack", "MAX_PER", "1"}, "a", "", nil, false, "has no attribute"},
		{"max_per 0 admits a value with no instances, as Marathon", []string{"rack", "MAX_PER", "0"}, "a", "rack:r1", nil, true, ""},
		{"max_per 0 with an instance", []string{"rack", "MAX_PER", "0"}, "a", "rack:r1", []string{"b|rack:r1"}, false, "at most 0"},

		// LIKE
		{"like hostname hit", []string{"hostname", "LIKE", "web-[0-9]+"}, "web-12", "", nil, true, ""},
		{"like hostname anchored at the start", []string{"hostname", "LIKE", "web-[0-9]+"}, "xweb-1", "", nil, false, `hostname "xweb-1" does not match "web-[0-9]+"`},
		{"like hostname anchored at the end", []string{"hostname", "LIKE", "web-[0-9]+"}, "web-1x", "", nil, false, "does not match"},
		{"like alternation anchored as a whole", []string{"rack", "LIKE", "rack-1|rack-2"}, "a", "rack:rack-10", nil, false, "does not match"},
		{"like alternation hit", []string{"rack", "LIKE", "rack-1|rack-2"}, "a", "rack:rack-2", nil, true, ""},
		{"like attribute any", []string{"rack", "LIKE", ".*"}, "a", "rack:r9", nil, true, ""},
		{"like missing attribute", []string{"rack", "LIKE", ".*"}, "a", "", nil, false, "has no attribute"},
		{"like scalar formatted", []string{"level", "LIKE", `0\.8`}, "a", "level:0.800", nil, true, ""},

		// UNLIKE
		{"unlike hostname hit", []string{"hostname", "UNLIKE", "db-.*"}, "web-1", "", nil, true, ""},
		{"unlike hostname miss", []string{"hostname", "UNLIKE", "db-.*"}, "db-1", "", nil, false, `hostname "db-1" matches "db-.*"`},
		{"unlike anchored: a substring match is no match", []string{"rack", "UNLIKE", "rack"}, "a", "rack:rack-1", nil, true, ""},
		{"unlike attribute miss", []string{"rack", "UNLIKE", "rack-[7-9]"}, "a", "rack:rack-8", nil, false, "matches"},
		{"unlike missing attribute passes", []string{"rack", "UNLIKE", "rack-[7-9]"}, "a", "", nil, true, ""},

		// IS
		{"is hostname hit", []string{"hostname", "IS", "a"}, "a", "", nil, true, ""},
		{"is hostname miss", []string{"hostname", "IS", "a"}, "ab", "", nil, false, `hostname is "ab", not "a"`},
		{"is text hit", []string{"rack", "IS", "rack-1"}, "a", "rack:rack-1", nil, true, ""},
		{"is text is exact, not a prefix", []string{"rack", "IS", "rack"}, "a", "rack:rack-1", nil, false, "not"},
		{"is text is not a regex", []string{"rack", "IS", "rack-."}, "a", "rack:rack-1", nil, false, "not"},
		{"is scalar 0.8", []string{"level", "IS", "0.8"}, "a", "level:0.8", nil, true, ""},
		{"is scalar 0.80", []string{"level", "IS", "0.80"}, "a", "level:0.8", nil, true, ""},
		{"is scalar 0.8001 rounds to thousandths", []string{"level", "IS", "0.8001"}, "a", "level:0.8", nil, true, ""},
		{"is scalar 0.801", []string{"level", "IS", "0.801"}, "a", "level:0.8", nil, false, `is "0.8", not "0.801"`},
		{"is integer scalar", []string{"cores", "IS", "8"}, "a", "cores:8.0", nil, true, ""},
		{"is missing attribute", []string{"rack", "IS", "r1"}, "a", "", nil, false, "has no attribute"},
		{"is ranges attribute", []string{"band", "IS", "[1-2,5-6]"}, "a", "band:[5-6, 1-2]", nil, true, ""},
		{"is set attribute", []string{"disks", "IS", "{a,b}"}, "a", "disks:{b, a}", nil, true, ""},

		// Fault-domain fields, which Corral agents never have.
		{"@zone unique", []string{"@zone", "UNIQUE"}, "a", "zone:z1", nil, false, `agent "a" has no fault domain @zone`},
		{"@region unlike", []string{"@region", "UNLIKE", "r1"}, "a", "region:r1", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.constraint...)
			ok, reason := Satisfies([]Constraint{c}, offerOn(t, tt.host, tt.attrs), on(t, tt.placed...))
			if ok != tt.want {
				t.Fatalf("Satisfies(%s, %q %q, %q) = %v (%q), want %v", c, tt.host, tt.attrs, tt.placed, ok, reason, tt.want)
			}
			if ok && reason != "" {
				t.Errorf("Satisfies(%s) passed with reason %q, want none", c, reason)
			}
			if !ok && !strings.Contains(reason, tt.reason) {
				t.Errorf("Satisfies(%s) reason = %q, want it to contain %q", c, reason, tt.reason)
			}
			if !ok && !strings.Contains(reason, c.String()) {
				t.Errorf("Satisfies(%s) reason = %q, want it to name the constraint", c, reason)
			}
		})
	}
}

func TestSatisfiesSeveral(t *testing.T) {
	cs := []Constraint{
		mustParse(t, "hostname", "UNIQUE"),
		mustParse(t, "rack", "LIKE", "r[12]"),
		mustParse(t, "rack", "MAX_PER", "1"),
	}
	tests := []struct {
		name, host, attrs string
		placed            []string
		want              bool
		reason            string
	}{
		{"all met", "a", "rack:r1", []string{"b|rack:r2"}, true, ""},
		{"first fails", "b", "rack:r1", []string{"b|rack:r2"}, false, `["hostname","UNIQUE"]`},
		{"second fails", "c", "rack:r3", nil, false, `["rack","LIKE","r[12]"]`},
		{"third fails", "c", "rack:r2", []string{"b|rack:r2"}, false, `["rack","MAX_PER","1"]`},
		{"none", "a", "rack:r1", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Satisfies(cs, offerOn(t, tt.host, tt.attrs), on(t, tt.placed...))
			if ok != tt.want || !strings.Contains(reason, tt.reason) {
				t.Errorf("Satisfies(%q %q) = %v, %q; want %v with %q", tt.host, tt.attrs, ok, reason, tt.want, tt.reason)
			}
		})
	}
	if ok, reason := Satisfies(nil, mesos.Offer{}, nil); !ok {
		t.Errorf("Satisfies(no constraints) = false, %q; want true", reason)
	}
}

// Constraints built as literals are validated when used.
func TestSatisfiesLiteral(t *testing.T) {
	o := offerOn(t, "web-1", "rack:r1")
	if ok, reason := Satisfies([]Constraint{{Field: "hostname", Operator: Like, Value: "web-.*"}}, o, nil); !ok {
		t.Errorf("Satisfies(literal LIKE) = false, %q; want true", reason)
	}
	if ok, _ := Satisfies([]Constraint{{Field: "rack", Operator: MaxPer, Value: "1"}}, o, on(t, "x|rack:r1")); ok {
		t.Errorf("Satisfies(literal MAX_PER 1 at the limit) = true, want false")
	}
	ok, reason := Satisfies([]Constraint{{Field: "hostname", Operator: Like, Value: "("}}, o, nil)
	if ok || !strings.Contains(reason, "not a valid regular expression") {
		t.Errorf("Satisfies(literal LIKE \"(\") = %v, %q; want false naming the bad regex", ok, reason)
	}
}

func TestParseConstraint(t *testing.T) {
	tests := []struct {
		in   []string
		want Constraint
		n    int
	}{
		{[]string{"hostname", "UNIQUE"}, Constraint{Field: "hostname", Operator: Unique}, 0},
		{[]string{"hostname", "UNIQUE", ""}, Constraint{Field: "hostname", Operator: Unique}, 0},
		{[]string{"rack_id", "CLUSTER"}, Constraint{Field: "rack_id", Operator: Cluster}, 0},
		{[]string{"rack_id", "CLUSTER", "rack-1"}, Constraint{Field: "rack_id", Operator: Cluster, Value: "rack-1"}, 0},
		{[]string{"rack_id", "GROUP_BY"}, Constraint{Field: "rack_id", Operator: GroupBy}, 0},
		{[]string{"rack_id", "GROUP_BY", "3"}, Constraint{Field: "rack_id", Operator: GroupBy, Value: "3"}, 3},
		{[]string{"rack_id", "GROUP_BY", "-2"}, Constraint{Field: "rack_id", Operator: GroupBy, Value: "-2"}, 0},
		{[]string{"rack_id", "MAX_PER", "2"}, Constraint{Field: "rack_id", Operator: MaxPer, Value: "2"}, 2},
		{[]string{"rack_id", "MAX_PER", "+4"}, Constraint{Field: "rack_id", Operator: MaxPer, Value: "+4"}, 4},
		{[]string{"rack_id", "LIKE", "rack-[1-3]"}, Constraint{Field: "rack_id", Operator: Like, Value: "rack-[1-3]"}, 0},
		{[]string{"rack_id", "UNLIKE", "rack-[7-9]"}, Constraint{Field: "rack_id", Operator: Unlike, Value: "rack-[7-9]"}, 0},
		{[]string{"level", "IS", "0.8"}, Constraint{Field: "level", Operator: Is, Value: "0.8"}, 0},
		{[]string{"@hostname", "UNIQUE"}, Constraint{Field: "@hostname", Operator: Unique}, 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := ParseConstraint(tt.in)
			if err != nil {
				t.Fatalf("ParseConstraint(%q): %v", tt.in, err)
			}
			if got.Field != tt.want.Field || got.Operator != tt.want.Operator || got.Value != tt.want.Value || got.n != tt.n {
				t.Errorf("ParseConstraint(%q) = %s n=%d, want %s n=%d", tt.in, got, got.n, tt.want, tt.n)
			}
			if s := got.Strings(); len(tt.in) == 3 && tt.in[2] != "" && !slices.Equal(s, tt.in) {
				t.Errorf("ParseConstraint(%q).Strings() = %q, want the input back", tt.in, s)
			}
		})
	}
}

func TestParseConstraintErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string // substring of the error
	}{
		{"nothing", nil, "must have 2 or 3 elements"},
		{"field only", []string{"hostname"}, `invalid constraint ["hostname"], must have 2 or 3 elements`},
		{"four elements", []string{"hostname", "UNIQUE", "a", "b"}, "must have 2 or 3 elements"},
		{"empty field", []string{"", "UNIQUE"}, "the field is empty"},
		{"unknown operator", []string{"hostname", "SPREAD"}, `unknown operator "SPREAD", must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS`},
		{"lower-case operator", []string{"hostname", "unique"}, `unknown operator "unique"`},
		{"unique with a value", []string{"hostname", "UNIQUE", "x"}, "UNIQUE takes no value"},
		{"max_per without value", []string{"rack", "MAX_PER"}, "MAX_PER requires an integer value"},
		{"max_per empty value", []string{"rack", "MAX_PER", ""}, "MAX_PER requires an integer value"},
		{"max_per not a number", []string{"rack", "MAX_PER", "two"}, `MAX_PER value "two" is not an integer`},
		{"max_per fraction", []string{"rack", "MAX_PER", "1.5"}, `MAX_PER value "1.5" is not an integer`},
		{"max_per beyond a Java int", []string{"rack", "MAX_PER", "3000000000"}, "is not an integer"},
		{"group_by not a number", []string{"rack", "GROUP_BY", "x"}, `GROUP_BY value "x" is not an integer`},
		{"group_by inf", []string{"rack", "GROUP_BY", "inf"}, "is not an integer"},
		{"like without value", []string{"rack", "LIKE"}, "LIKE requires a regular expression value"},
		{"unlike without value", []string{"rack", "UNLIKE", ""}, "UNLIKE requires a regular expression value"},
		{"like bad regex", []string{"rack", "LIKE", "rack-[1-3"}, `"rack-[1-3" is not a valid regular expression`},
		{"unlike bad regex", []string{"rack", "UNLIKE", "*"}, `"*" is not a valid regular expression`},
		{"like backreference (Java only)", []string{"rack", "LIKE", `(a)\1`}, "is not a valid regular expression"},
		{"is without value", []string{"rack", "IS"}, "IS requires a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConstraint(tt.in)
			if err == nil {
				t.Fatalf("ParseConstraint(%q) = %s, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConstraint(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestAttributeValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rack-1", "rack-1"},
		{"0.8", "0.8"},
		{"0.80", "0.8"},
		{"0.8001", "0.8"},
		{"3", "3"},
		{"3.000", "3"},
		{"007", "7"},
		{"1e3", "1000"},
		{"1.0005", "1"},     // binary value just below the tie
		{"1.1005", "1.101"}, // binary value just above the tie
		{"2.0625", "2.062"}, // an exact tie rounds to even
		{"2.0635", "2.063"}, // binary value just below the tie
		{"-0.0001", "-0"},   // as DecimalFormat prints it
		{"1-2", "1-2"},
		{"inf", "inf"},
		{"[31000-32000]", "[31000-32000]"},
		{"[5-6, 1-2, 3-3]", "[1-3,5-6]"},
		{"[x]", "[x]"},
		{"{b, a,c}", "{a,b,c}"},
		{"{a", "{a"},
	}
	for _, tt := range tests {
		if got := AttributeValue(tt.in); got != tt.want {
			t.Errorf("AttributeValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
