package mesos

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseAttributes(t *testing.T) {
	tests := []struct {
		in   string
		want Attributes
	}{
		{"", nil},
		{" ; ", nil},
		{"rack:r1", Attributes{{"rack", "r1"}}},
		{"rack:r1;zone:a", Attributes{{"rack", "r1"}, {"zone", "a"}}},
		// Order is the operator's, not sorted.
		{"zone:a;rack:r1", Attributes{{"zone", "a"}, {"rack", "r1"}}},
		{" rack : r1 ; zone : a ; ", Attributes{{"rack", "r1"}, {"zone", "a"}}},
		{"cores:8;weight:1.5", Attributes{{"cores", "8"}, {"weight", "1.5"}}},
		// Only the first colon separates; the value keeps the rest.
		{"endpoint:10.0.0.1:5051", Attributes{{"endpoint", "10.0.0.1:5051"}}},
		{"dc:eu west", Attributes{{"dc", "eu west"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAttributes(tt.in)
			if err != nil {
				t.Fatalf("ParseAttributes(%q) error: %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseAttributes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAttributesErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // the offending text the message must name
	}{
		{"rack", `"rack"`},
		{"rack:r1;zone", `"zone"`},
		{"rack:", `"rack:"`},
		{"rack: ", `"rack:"`},
		{":r1", `":r1"`},
		{"rack:r1;:a", `":a"`},
		{"rack:r1;rack:r2", `"rack"`},
		{"rack:r1;zone:a; rack : r1", `"rack"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAttributes(tt.in)
			if err == nil {
				t.Fatalf("ParseAttributes(%q) = %v, want error naming %s", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAttributes(%q) error = %q, want it to name %s", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestAttributesGet(t *testing.T) {
	as := Attributes{{"rack", "r1"}, {"zone", "a"}}
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"rack", "r1", true},
		{"zone", "a", true},
		{"host", "", false},
		{"Rack", "", false},
	}
	for _, tt := range tests {
		if got, ok := as.Get(tt.name); got != tt.want || ok != tt.wantOK {
			t.Errorf("%v.Get(%q) = %q, %v, want %q, %v", as, tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestAttributesString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"rack:r1", "rack:r1"},
		{" zone : a ; rack : r1 ", "zone:a;rack:r1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			as, err := ParseAttributes(tt.in)
			if err != nil {
				t.Fatalf("ParseAttributes(%q) error: %v", tt.in, err)
			}
			if got := as.String(); got != tt.want {
				t.Errorf("ParseAttributes(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			back, err := ParseAttributes(tt.want)
			if err != nil || !slices.Equal(back, as) {
				t.Errorf("ParseAttributes(%q) = %v, %v, want %v", tt.want, back, err, as)
			}
		})
	}
}

func TestAttributesStateJSON(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]any
		json string
	}{
		{"", map[string]any{}, `{}`},
		{
			"rack:r1;zone:a",
			map[string]any{"rack": "r1", "zone": "a"},
			`{"rack":"r1","zone":"a"}`,
		},
		// Numeric values render as numbers, as Mesos does for scalar attributes.
		{
			"cores:8;weight:1.5;rack:r1",
			map[string]any{"cores": 8.0, "weight": 1.5, "rack": "r1"},
			`{"cores":8,"rack":"r1","weight":1.5}`,
		},
		// Inf and NaN parse as floats but are not JSON numbers; they stay text.
		{
			"a:inf;b:NaN;c:-Infinity",
			map[string]any{"a": "inf", "b": "NaN", "c": "-Infinity"},
			`{"a":"inf","b":"NaN","c":"-Infinity"}`,
		},
		// Labels that only Go's float syntax reads as numbers stay text.
		{
			"row:1_2;code:0x1p3;neg:-2;exp:1e3",
			map[string]any{"row": "1_2", "code": "0x1p3", "neg": -2.0, "exp": 1000.0},
			`{"code":"0x1p3","exp":1000,"neg":-2,"row":"1_2"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			as, err := ParseAttributes(tt.in)
			if err != nil {
				t.Fatalf("ParseAttributes(%q) error: %v", tt.in, err)
			}
			got := as.StateJSON()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%v.StateJSON() = %v, want %v", as, got, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("json.Marshal(%v.StateJSON()): %v", as, err)
			}
			if string(b) != tt.json {
				t.Errorf("json.Marshal(%v.StateJSON()) = %s, want %s", as, b, tt.json)
			}
		})
	}
}
