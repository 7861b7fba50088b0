package match

import (
	"slices"
	"strings"
	"testing"
)

func TestServicePortsAssign(t *testing.T) {
	tests := []struct {
		name      string
		app       string
		requested []uint32
		used      map[uint32]string
		want      []uint32
	}{
		{"nothing", "/a", nil, nil, []uint32{}},
		{"zeros from the bottom", "/a", []uint32{0, 0}, nil, []uint32{10000, 10001}},
		{"zeros skip ports of other apps", "/b", []uint32{0, 0}, map[uint32]string{10000: "/a", 10002: "/c"}, []uint32{10001, 10003}},
		{"explicit ports kept", "/a", []uint32{12345, 80}, nil, []uint32{12345, 80}},
		{"zeros skip explicit ports", "/a", []uint32{0, 10000}, nil, []uint32{10001, 10000}},
		{"own ports kept", "/a", []uint32{10001, 10000}, map[uint32]string{10000: "/a", 10001: "/a", 10002: "/b"}, []uint32{10001, 10000}},
		{"zeros get own previous ports back", "/a", []uint32{0, 0}, map[uint32]string{10000: "/b", 10001: "/a", 10003: "/a"}, []uint32{10001, 10003}},
		{"an added zero gets a new port", "/a", []uint32{0, 0, 0}, map[uint32]string{10000: "/a", 10001: "/b"}, []uint32{10000, 10002, 10003}},
		{"own port named explicitly is not handed out again", "/a", []uint32{0, 10000}, map[uint32]string{10000: "/a", 10001: "/a"}, []uint32{10001, 10000}},
		{"own ports outside the range are not reused for zeros", "/a", []uint32{0}, map[uint32]string{80: "/a"}, []uint32{10000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultServicePorts().Assign(tt.app, tt.requested, tt.used)
			if err != nil {
				t.Fatalf("Assign(%s, %v, %v): %v", tt.app, tt.requested, tt.used, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Assign(%s, %v, %v) = %v, want %v", tt.app, tt.requested, tt.used, got, tt.want)
			}
		})
	}
}

func TestServicePortsLastOfRange(t *testing.T) {
	sp := ServicePorts{Min: 10000, Max: 10002}
	used := map[uint32]string{10000: "/a", 10001: "/a"}
	got, err := sp.Assign("/b", []uint32{0}, used)
	if err != nil || !slices.Equal(got, []uint32{10002}) {
		t.Errorf("%+v.Assign(/b, [0], %v) = %v, %v; want [10002]", sp, used, got, err)
	}
}

// Assigning, recording and assigning again with the result is a no-op, and
// so is re-sending the original zeros: ports survive updates.
func TestServicePortsStable(t *testing.T) {
	sp := DefaultServicePorts()
	used := map[uint32]string{10000: "/other"}
	first, err := sp.Assign("/app", []uint32{0, 0, 0}, used)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range first {
		used[p] = "/app"
	}
	used[10004] = "/late" // another app arrives in between
	for _, requested := range [][]uint32{first, {0, 0, 0}} {
		again, err := sp.Assign("/app", requested, used)
		if err != nil {
			t.Fatalf("Assign(/app, %v): %v", requested, err)
		}
		if !slices.Equal(again, first) {
			t.Errorf("Assign(/app, %v) = %v, want the first assignment %v", requested, again, first)
		}
	}
}

func TestServicePortsErrors(t *testing.T) {
	tests := []struct {
		name      string
		sp        ServicePorts
		app       string
		requested []uint32
		used      map[uint32]string
		want      string
	}{
		{"taken by another app", DefaultServicePorts(), "/b", []uint32{0, 10000}, map[uint32]string{10000: "/a"}, "service port 10000 requested by app /b is already used by app /a"},
		{"requested twice", DefaultServicePorts(), "/a", []uint32{9000, 9000}, nil, "service port 9000 is requested twice by app /a"},
		{"not a port", DefaultServicePorts(), "/a", []uint32{70000}, nil, "service port 70000 of app /a is not a valid port"},
		{"range exhausted", ServicePorts{Min: 10000, Max: 10002}, "/c", []uint32{0, 0}, map[uint32]string{10000: "/a", 10001: "/b"}, "no free service port in [10000, 10002] for app /c: all 3 are in use"},
		{"range exhausted by the app itself", ServicePorts{Min: 10000, Max: 10001}, "/a", []uint32{0, 0, 0}, nil, "no free service port in [10000, 10001]"},
		{"invalid range", ServicePorts{Min: 20000, Max: 10000}, "/a", []uint32{0}, nil, "invalid service port range [20000, 10000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sp.Assign(tt.app, tt.requested, tt.used)
			if err == nil {
				t.Fatalf("Assign(%s, %v) = %v, want an error containing %q", tt.app, tt.requested, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Assign(%s, %v) error = %q, want it to contain %q", tt.app, tt.requested, err, tt.want)
			}
		})
	}
}

func TestServicePortsValidate(t *testing.T) {
	tests := []struct {
		sp ServicePorts
		ok bool
	}{
		{DefaultServicePorts(), true},
		{ServicePorts{Min: 1, Max: 65535}, true},
		{ServicePorts{Min: 5, Max: 5}, true},
		{ServicePorts{Min: 0, Max: 10}, false},
		{ServicePorts{Min: 10, Max: 65536}, false},
		{ServicePorts{Min: 11, Max: 10}, false},
	}
	for _, tt := range tests {
		err := tt.sp.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.sp, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "must be within [1, 65535]") {
			t.Errorf("%+v.Validate() = %q, want it to state the rule", tt.sp, err)
		}
	}
}
