package netconf

import (
	"errors"
	"net"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestInvalid(t *testing.T) {
	cases := []struct {
		field string
		value any
		rule  string
		want  string
	}{
		{"mtu", 9001, "in [0, 1500]", "invalid mtu 9001, must be in [0, 1500]"},
		{"mode", "bridged", `one of "bridge", "private"`, `invalid mode "bridged", must be one of "bridge", "private"`},
		{"master", "", "the name of the parent link", `invalid master "", must be the name of the parent link`},
		{"gateway", net.ParseIP("10.0.0.1"), "in the subnet", `invalid gateway "10.0.0.1", must be in the subnet`},
	}
	for _, tc := range cases {
		e := Invalid(tc.field, tc.value, tc.rule)
		if e.Code != types.ErrInvalidNetworkConfig || e.Msg != tc.want {
			t.Errorf("Invalid(%q, %v, %q) = %d %q, want 7 %q", tc.field, tc.value, tc.rule, e.Code, e.Msg, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	type conf struct {
		types.NetConf
		MTU  int  `json:"mtu"`
		Flag bool `json:"flag"`
	}
	cases := []struct {
		in       string
		wantCode uint // 0: success
		wantMsg  string
	}{
		{in: `{"cniVersion":"1.1.0","mtu":1500}`},
		{in: `{"mtu":`, wantCode: 6},
		{in: `[1,2]`, wantCode: 6},
		{in: `{"mtu":"1500"}`, wantCode: 7, wantMsg: "invalid mtu (a JSON string), must be an integer"},
		{in: `{"mtu":1500.5}`, wantCode: 7, wantMsg: "invalid mtu (a JSON number 1500.5), must be an integer"},
		{in: `{"flag":1}`, wantCode: 7, wantMsg: "invalid flag (a JSON number), must be a boolean"},
		{in: `{"ipam":{"type":5}}`, wantCode: 7, wantMsg: "invalid ipam.type (a JSON number), must be a string"},
	}
	for _, tc := range cases {
		var c conf
		err := Decode([]byte(tc.in), &c)
		if tc.wantCode == 0 {
			if err != nil {
				t.Errorf("Decode(%s) = %v, want success", tc.in, err)
			}
			continue
		}
		var e *types.Error
		if !errors.As(err, &e) || e.Code != tc.wantCode || (tc.wantMsg != "" && e.Msg != tc.wantMsg) {
			t.Errorf("Decode(%s) = %v, want code %d %q", tc.in, err, tc.wantCode, tc.wantMsg)
		}
	}
}

func TestCNIVersion(t *testing.T) {
	for in, want := range map[string]string{
		`{"cniVersion":"1.1.0","name":"n"}`: "1.1.0",
		`{"name":"n"}`:                      "",
		`{"cniVersion":`:                    "",
		`{"cniVersion":7}`:                  "",
	} {
		if got := CNIVersion([]byte(in)); got != want {
			t.Errorf("CNIVersion(%s) = %q, want %q", in, got, want)
		}
	}
}
