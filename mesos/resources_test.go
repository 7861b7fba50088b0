package mesos

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sameResources reports whether a and b hold exactly the same entries, with
// nil and empty maps alike; unlike Equal it does not round or ignore zeros.
func sameResources(a, b Resources) bool {
	return maps.Equal(a.Scalars, b.Scalars) &&
		maps.EqualFunc(a.Ranges, b.Ranges, func(x, y Ranges) bool { return slices.Equal(x, y) })
}

func mustResources(t testing.TB, s string) Resources {
	t.Helper()
	r, err := ParseResources(s)
	if err != nil {
		t.Fatalf("ParseResources(%q): %v", s, err)
	}
	return r
}

func TestParseResources(t *testing.T) {
	tests := []struct {
		in   string
		want Resources
	}{
		{"", Resources{}},
		{"   ", Resources{}},
		{";;", Resources{}},
		{"cpus:4", Resources{Scalars: map[string]float64{CPUs: 4}}},
		{
			"cpus:4;mem:8192;ports:[31000-32000]",
			Resources{
				Scalars: map[string]float64{CPUs: 4, Mem: 8192},
				Ranges:  map[string]Ranges{Ports: {{31000, 32000}}},
			},
		},
		{
			" cpus : 0.5 ; mem : 256 ; disk:10000; gpus:1 ; ",
			Resources{Scalars: map[string]float64{CPUs: 0.5, Mem: 256, Disk: 10000, GPUs: 1}},
		},
		{
			"ports:[31000-31005, 31010-31010]",
			Resources{Ranges: map[string]Ranges{Ports: {{31000, 31005}, {31010, 31010}}}},
		},
		{
			"ports:[31006-31010, 31000-31005]",
			Resources{Ranges: map[string]Ranges{Ports: {{31000, 31010}}}},
		},
		{"ports:[]", Resources{Ranges: map[string]Ranges{Ports: nil}}},
		{"cpus(*):2;mem(*):64", Resources{Scalars: map[string]float64{CPUs: 2, Mem: 64}}},
		{"ports(*):[80-81]", Resources{Ranges: map[string]Ranges{Ports: {{80, 81}}}}},
		{"disk:0", Resources{Scalars: map[string]float64{Disk: 0}}},
		{"bandwidth:100;ephemeral_ports:[40000-40010]", Resources{
			Scalars: map[string]float64{"bandwidth": 100},
			Ranges:  map[string]Ranges{"ephemeral_ports": {{40000, 40010}}},
		}},
		// Scalars keep three decimals, as Mesos's fixed point does.
		{"cpus:0.0004", Resources{Scalars: map[string]float64{CPUs: 0}}},
		{"cpus:0.1235", Resources{Scalars: map[string]float64{CPUs: 0.124}}},
		{"cpus:1e1", Resources{Scalars: map[string]float64{CPUs: 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseResources(tt.in)
			if err != nil {
				t.Fatalf("ParseResources(%q) error: %v", tt.in, err)
			}
			if !sameResources(got, tt.want) {
				t.Errorf("ParseResources(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseResourcesErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // the offending text the message must name
	}{
		{"cpus", `"cpus"`},
		{"cpus:4;mem", `"mem"`},
		{"cpus:", `"cpus:"`},
		{"cpus:abc", `"cpus:abc"`},
		{"cpus:-1", `"cpus:-1"`},
		{"mem:-0.5", `"mem:-0.5"`},
		{"cpus:NaN", `"cpus:NaN"`},
		{"cpus:Inf", `"cpus:Inf"`},
		{"cpus:+Inf", `"cpus:+Inf"`},
		{"cpus:1e400", `"cpus:1e400"`},
		{"cpus:4 cores", `"cpus:4 cores"`},
		{"cpus:1_0", `"cpus:1_0"`},
		{"mem:0x1p10", `"mem:0x1p10"`},
		{":4", `":4"`},
		{"(*):4", `"(*):4"`},
		// Only the default role; Corral has no static reservations.
		{"cpus(web):4", `"web"`},
		{"cpus(web):4", `"cpus(web):4"`},
		{"mem(slave_public):64", `"slave_public"`},
		{"cpus():4", `"cpus():4"`},
		{"cpus(*:4", `"cpus(*:4"`},
		{"cpus(*)x:4", `"cpus(*)x:4"`},
		// Duplicates, also through the role suffix.
		{"cpus:1;cpus:2", `"cpus"`},
		{"cpus:1;mem:2;cpus(*):2", `"cpus"`},
		{"ports:[1-2];ports:[3-4]", `"ports"`},
		{"ports:1;ports:[3-4]", `"ports"`},
		// Set values are not supported.
		{"zones:{a,b}", `"zones:{a,b}"`},
		{"cpus:1;zones:{}", `"zones:{}"`},
		// Bad ranges name both the resource and the range.
		{"ports:[31000-x]", `"31000-x"`},
		{"ports:[32000-31000]", `"32000-31000"`},
		{"ports:[31000-32000", `"ports"`},
		{"ports:[31000-32000", `"[31000-32000"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseResources(tt.in)
			if err == nil {
				t.Fatalf("ParseResources(%q) = %v, want error naming %s", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseResources(%q) error = %q, want it to name %s", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestMustParseResourcesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("MustParseResources(%q) did not panic", "cpus:x")
		}
	}()
	MustParseResources("cpus:x")
}

func TestResourcesString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"cpus:4;mem:8192;ports:[31000-32000]", "cpus:4;mem:8192;ports:[31000-32000]"},
		{"ports:[31010, 31000-31005];mem:8192;cpus:0.5;disk:100;gpus:1", "cpus:0.5;disk:100;gpus:1;mem:8192;ports:[31000-31005, 31010-31010]"},
		{"cpus:0;mem:32;ports:[]", "mem:32"},
		{"cpus(*):1.25", "cpus:1.25"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := mustResources(t, tt.in)
			if got := r.String(); got != tt.want {
				t.Errorf("ParseResources(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			if back := mustResources(t, tt.want); !back.Equal(r) {
				t.Errorf("ParseResources(%q) = %v, want %v", tt.want, back, r)
			}
		})
	}
}

func TestResourcesAdd(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{"", "", ""},
		{"cpus:1", "", "cpus:1"},
		{"", "cpus:1", "cpus:1"},
		{"cpus:1;mem:128", "cpus:0.5;disk:10", "cpus:1.5;mem:128;disk:10"},
		{"ports:[31000-31005]", "ports:[31006-31010]", "ports:[31000-31010]"},
		{"ports:[31000-31005]", "ports:[31010]", "ports:[31000-31005, 31010-31010]"},
		{"cpus:0.1", "cpus:0.2", "cpus:0.3"},
		{"cpus:0.001", "cpus:0.0004", "cpus:0.001"},
	}
	for _, tt := range tests {
		t.Run(tt.a+"+"+tt.b, func(t *testing.T) {
			a, b, want := mustResources(t, tt.a), mustResources(t, tt.b), mustResources(t, tt.want)
			aStr, bStr := a.String(), b.String()
			got := a.Add(b)
			if !sameResources(got, want) {
				t.Errorf("%v.Add(%v) = %v, want %v", a, b, got, want)
			}
			if a.String() != aStr || b.String() != bStr {
				t.Errorf("Add modified its inputs: %q, %q became %v, %v", aStr, bStr, a, b)
			}
		})
	}
}

func TestResourcesFixedPoint(t *testing.T) {
	tenth := Resources{Scalars: map[string]float64{CPUs: 0.1}}
	var sum Resources
	for range 10 {
		sum = sum.Add(tenth)
	}
	if got := sum.Scalar(CPUs); got != 1 {
		t.Errorf("0.1 cpus added ten times = %v, want exactly 1", got)
	}
	if !sum.Equal(Resources{Scalars: map[string]float64{CPUs: 1}}) {
		t.Errorf("%v.Equal(cpus:1) = false, want true", sum)
	}

	one := Resources{Scalars: map[string]float64{CPUs: 1}}
	for i := range 10 {
		if !one.Contains(tenth) {
			t.Fatalf("after %d subtractions, %v.Contains(%v) = false, want true", i, one, tenth)
		}
		one = one.Sub(tenth)
	}
	if got := one.Scalar(CPUs); got != 0 {
		t.Errorf("1 cpu less 0.1 ten times = %v, want exactly 0", got)
	}
	if !one.IsEmpty() {
		t.Errorf("1 cpu less 0.1 ten times = %v, want empty", one)
	}

	// 0.1+0.2 is 0.30000000000000004 in float64; in fixed point it is 0.3.
	r := mustResources(t, "cpus:0.1").Add(mustResources(t, "cpus:0.2"))
	if got := r.Scalar(CPUs); got != 0.3 {
		t.Errorf("0.1 + 0.2 cpus = %v, want 0.3", got)
	}
	if want := mustResources(t, "cpus:0.3"); !r.Contains(want) || !want.Contains(r) {
		t.Errorf("%v and %v do not contain each other", r, want)
	}
}

func TestResourcesSub(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{"", "", ""},
		{"cpus:4;mem:1024", "", "cpus:4;mem:1024"},
		{"cpus:4;mem:1024", "cpus:1;mem:24", "cpus:3;mem:1000"},
		{"cpus:4;mem:1024", "cpus:4", "mem:1024"},
		// Never below zero.
		{"cpus:4;mem:1024", "cpus:5", "mem:1024"},
		{"cpus:4", "cpus:4.0001", ""},
		{"cpus:4", "gpus:1", "cpus:4"},
		{"", "cpus:1;ports:[80]", ""},
		{"ports:[31000-32000]", "ports:[31500]", "ports:[31000-31499, 31501-32000]"},
		{"ports:[31000-32000]", "ports:[31000]", "ports:[31001-32000]"},
		{"ports:[31000-32000]", "ports:[32000]", "ports:[31000-31999]"},
		{"ports:[31000-32000]", "ports:[31000-32000]", ""},
		{"ports:[31000-32000]", "ports:[1-65535]", ""},
		{"ports:[31000-31001]", "ports:[40000]", "ports:[31000-31001]"},
		{"cpus:2;mem:64;ports:[31000-31002]", "cpus:0.5;mem:64;ports:[31001]", "cpus:1.5;ports:[31000-31000, 31002-31002]"},
	}
	for _, tt := range tests {
		t.Run(tt.a+"-"+tt.b, func(t *testing.T) {
			a, b, want := mustResources(t, tt.a), mustResources(t, tt.b), mustResources(t, tt.want)
			aStr, bStr := a.String(), b.String()
			got := a.Sub(b)
			if !sameResources(got, want) {
				t.Errorf("%v.Sub(%v) = %v, want %v", a, b, got, want)
			}
			for n, v := range got.Scalars {
				if v <= 0 {
					t.Errorf("%v.Sub(%v) has %s = %v, want only positive quantities", a, b, n, v)
				}
			}
			for n, rs := range got.Ranges {
				if len(rs) == 0 {
					t.Errorf("%v.Sub(%v) keeps empty ranges %q", a, b, n)
				}
			}
			if a.String() != aStr || b.String() != bStr {
				t.Errorf("Sub modified its inputs: %q, %q became %v, %v", aStr, bStr, a, b)
			}
		})
	}
}

func TestResourcesContains(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"cpus:1", "", true},
		{"", "cpus:1", false},
		{"", "cpus:0", true},
		{"cpus:4;mem:1024", "cpus:4;mem:1024", true},
		{"cpus:4;mem:1024", "cpus:1", true},
		{"cpus:4;mem:1024", "cpus:4.001", false},
		{"cpus:4;mem:1024", "cpus:1;mem:2048", false},
		{"cpus:4;mem:1024", "cpus:1;gpus:1", false},
		{"cpus:4;ports:[31000-32000]", "cpus:1;ports:[31000-31001]", true},
		{"cpus:4;ports:[31000-32000]", "cpus:1;ports:[30000]", false},
		{"cpus:4", "ports:[31000]", false},
		{"cpus:4", "ports:[]", true},
	}
	for _, tt := range tests {
		t.Run(tt.a+"⊇"+tt.b, func(t *testing.T) {
			a, b := mustResources(t, tt.a), mustResources(t, tt.b)
			if got := a.Contains(b); got != tt.want {
				t.Errorf("%v.Contains(%v) = %v, want %v", a, b, got, tt.want)
			}
		})
	}
}

func TestResourcesQuantity(t *testing.T) {
	r := mustResources(t, "cpus:2.5;mem:64;ports:[31000-31005, 31010]")
	tests := []struct {
		name string
		want float64
	}{
		{CPUs, 2.5},
		{Mem, 64},
		{Ports, 7},
		{GPUs, 0},
	}
	for _, tt := range tests {
		if got := r.Quantity(tt.name); got != tt.want {
			t.Errorf("%v.Quantity(%q) = %v, want %v", r, tt.name, got, tt.want)
		}
	}
	if got, want := r.PortRanges(), (Ranges{{31000, 31005}, {31010, 31010}}); !slices.Equal(got, want) {
		t.Errorf("%v.PortRanges() = %v, want %v", r, got, want)
	}
}

func TestResourcesIsEmpty(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"cpus:0;ports:[]", true},
		{"cpus:0.001", false},
		{"ports:[80]", false},
	}
	for _, tt := range tests {
		if got := mustResources(t, tt.in).IsEmpty(); got != tt.want {
			t.Errorf("ParseResources(%q).IsEmpty() = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestResourcesClone(t *testing.T) {
	r := mustResources(t, "cpus:1;ports:[31000-31005]")
	c := r.Clone()
	c.Scalars[CPUs] = 9
	c.Ranges[Ports][0].End = 40000
	if got, want := r.String(), "cpus:1;ports:[31000-31005]"; got != want {
		t.Errorf("after changing the clone, original = %q, want %q", got, want)
	}
}

func TestResourcesJSONRoundTrip(t *testing.T) {
	tests := []string{
		"",
		"cpus:4",
		"cpus:4;mem:8192;disk:10000;gpus:1;ports:[31000-32000]",
		"cpus:0.125;ports:[31000-31005, 31010-31010];ephemeral_ports:[40000-40100]",
		"cpus:0;ports:[]",
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			r := mustResources(t, in)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("json.Marshal(%v): %v", r, err)
			}
			var got Resources
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", b, err)
			}
			if !sameResources(got, r) {
				t.Errorf("json.Unmarshal(%s) = %v, want %v", b, got, r)
			}
		})
	}
}

func TestResourcesMarshalJSON(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `[]`},
		{
			"cpus:4;mem:8192;ports:[31000-31005, 31010]",
			`[{"name":"cpus","type":"SCALAR","scalar":{"value":4}},` +
				`{"name":"mem","type":"SCALAR","scalar":{"value":8192}},` +
				`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31005},{"begin":31010,"end":31010}]}}]`,
		},
		{"ports:[]", `[{"name":"ports","type":"RANGES","ranges":{"range":[]}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := mustResources(t, tt.in)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("json.Marshal(%v): %v", r, err)
			}
			if string(b) != tt.want {
				t.Errorf("json.Marshal(%v) = %s, want %s", r, b, tt.want)
			}
		})
	}
}

func TestResourcesUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // in agent syntax
	}{
		{"null", `null`, ""},
		{"empty", `[]`, ""},
		{"scalar", `[{"name":"cpus","type":"SCALAR","scalar":{"value":2.5}}]`, "cpus:2.5"},
		{"zero scalar", `[{"name":"gpus","type":"SCALAR","scalar":{"value":0}}]`, "gpus:0"},
		{
			"unsorted ranges",
			`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31010,"end":31010},{"begin":31000,"end":31009}]}}]`,
			"ports:[31000-31010]",
		},
		{"null ranges", `[{"name":"ports","type":"RANGES","ranges":{"range":null}}]`, "ports:[]"},
		{
			"repeated names add up",
			`[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}]`,
			"cpus:1.5",
		},
		{
			"unknown fields ignored",
			`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{}}]`,
			"cpus:1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Resources
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", tt.in, err)
			}
			if want := mustResources(t, tt.want); !sameResources(got, want) {
				t.Errorf("json.Unmarshal(%s) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestResourcesUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // the offending text the message must name; "" for decoder errors
	}{
		{"negative scalar", `[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, `"cpus"`},
		{"missing scalar", `[{"name":"mem","type":"SCALAR"}]`, `"mem"`},
		{"unknown type", `[{"name":"zones","type":"SET","set":{"item":["a"]}}]`, `"SET"`},
		{"missing type", `[{"name":"cpus","scalar":{"value":1}}]`, `"cpus"`},
		{"lower-case type", `[{"name":"cpus","type":"scalar","scalar":{"value":1}}]`, `"scalar"`},
		{"begin after end", `[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":32000,"end":31000}]}}]`, "32000-31000"},
		{"missing ranges", `[{"name":"ports","type":"RANGES"}]`, `"ports"`},
		{"no name", `[{"type":"SCALAR","scalar":{"value":1}}]`, "name"},
		{"negative begin", `[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":-1,"end":5}]}}]`, ""},
		{"scalar as string", `[{"name":"cpus","type":"SCALAR","scalar":{"value":"1"}}]`, ""},
		{"object, not list", `{"cpus":1}`, ""},
		{"truncated", `[{"name":"cpus"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := mustResources(t, "disk:1")
			got := before
			err := json.Unmarshal([]byte(tt.in), &got)
			if err == nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("json.Unmarshal(%s) error = %q, want it to name %s", tt.in, err, tt.wantErr)
			}
			if !sameResources(got, before) {
				t.Errorf("failed json.Unmarshal(%s) changed the target to %v", tt.in, got)
			}
		})
	}
}

func TestResourcesStateJSON(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]any
		json string
	}{
		{
			"",
			map[string]any{CPUs: 0.0, Mem: 0.0, Disk: 0.0, GPUs: 0.0},
			`{"cpus":0,"disk":0,"gpus":0,"mem":0}`,
		},
		{
			"cpus:4;mem:8192;ports:[31000-31005, 31010]",
			map[string]any{CPUs: 4.0, Mem: 8192.0, Disk: 0.0, GPUs: 0.0, Ports: "[31000-31005, 31010-31010]"},
			`{"cpus":4,"disk":0,"gpus":0,"mem":8192,"ports":"[31000-31005, 31010-31010]"}`,
		},
		{
			"cpus:0.5;disk:100;gpus:2;bandwidth:10",
			map[string]any{CPUs: 0.5, Mem: 0.0, Disk: 100.0, GPUs: 2.0, "bandwidth": 10.0},
			`{"bandwidth":10,"cpus":0.5,"disk":100,"gpus":2,"mem":0}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := mustResources(t, tt.in)
			got := r.StateJSON()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%v.StateJSON() = %v, want %v", r, got, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("json.Marshal(%v): %v", got, err)
			}
			if string(b) != tt.json {
				t.Errorf("json.Marshal(%v.StateJSON()) = %s, want %s", r, b, tt.json)
			}
		})
	}
}

func TestParseMinAllocatable(t *testing.T) {
	tests := []struct {
		in   string
		want []map[string]float64
	}{
		{"", nil},
		{"|", nil},
		{"cpus:0.01|mem:32", []map[string]float64{{CPUs: 0.01}, {Mem: 32}}},
		{"cpus:0.01;mem:32", []map[string]float64{{CPUs: 0.01, Mem: 32}}},
		{"cpus:1;mem:32|disk:100|ports:1", []map[string]float64{{CPUs: 1, Mem: 32}, {Disk: 100}, {Ports: 1}}},
		{" cpus : 0.1 ; mem : 32 | gpus:1 ", []map[string]float64{{CPUs: 0.1, Mem: 32}, {GPUs: 1}}},
		{"cpus:1;|mem:32;", []map[string]float64{{CPUs: 1}, {Mem: 32}}},
		{"cpus:0", []map[string]float64{{CPUs: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMinAllocatable(tt.in)
			if err != nil {
				t.Fatalf("ParseMinAllocatable(%q) error: %v", tt.in, err)
			}
			if !slices.EqualFunc(got, tt.want, maps.Equal) {
				t.Errorf("ParseMinAllocatable(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMinAllocatableErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // the offending text the message must name
	}{
		{"cpus", `"cpus"`},
		{"cpus:0.01|mem", `"mem"`},
		{"cpus:x", `"cpus:x"`},
		{"cpus:", `"cpus:"`},
		{":1", `":1"`},
		{"cpus:-1", `"cpus:-1"`},
		{"cpus:NaN", `"cpus:NaN"`},
		{"mem:Inf", `"mem:Inf"`},
		{"mem:1_024", `"mem:1_024"`},
		{"ports:[31000-32000]", `"ports:[31000-32000]"`},
		{"cpus:1;cpus:2", `"cpus"`},
		{"mem:32|cpus:1;mem:1;cpus:2", `"cpus"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMinAllocatable(tt.in)
			if err == nil {
				t.Fatalf("ParseMinAllocatable(%q) = %v, want error naming %s", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMinAllocatable(%q) error = %q, want it to name %s", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestResourcesHugeScalars(t *testing.T) {
	// Rounding multiplies by 1000; a finite value must not become Inf, which
	// neither the v1 JSON nor /master/state can encode.
	r := mustResources(t, "mem:1e306;disk:1.7e308")
	if got := r.Scalar(Mem); got != 1e306 {
		t.Errorf("ParseResources(%q).Scalar(mem) = %v, want 1e306", "mem:1e306", got)
	}
	if got := r.Add(r).Scalar(Mem); got != 2e306 {
		t.Errorf("1e306 + 1e306 mem = %v, want 2e306", got)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("json.Marshal(%v): %v", r, err)
	}
	if _, err := json.Marshal(r.StateJSON()); err != nil {
		t.Errorf("json.Marshal(%v.StateJSON()): %v", r, err)
	}
	if !r.Contains(r) || !r.Sub(r).IsEmpty() {
		t.Errorf("%v does not contain itself or leaves %v when taken from itself", r, r.Sub(r))
	}
}
