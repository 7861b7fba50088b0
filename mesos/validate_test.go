package mesos

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDecodeAgentCall(t *testing.T) {
	cpus := `{"name":"cpus","type":"SCALAR","scalar":{"value":1}}`
	port := func(p int) string {
		return fmt.Sprintf(`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":%d,"end":%d}]}}`, p, p)
	}
	subscribe := func(info string) string { return `{"type":"SUBSCRIBE","subscribe":{"agent_info":` + info + `}}` }
	big := `{"hostname":"h","resources":[` + cpus + `],"attributes":[{"name":"a","value":"` + strings.Repeat("x", MaxAgentInfoBytes) + `"}]}`
	for _, tc := range []struct {
		name, body string
		want       string // an error containing this, or "" for none
		tooLarge   bool
	}{
		{"heartbeat", `{"type":"HEARTBEAT","agent_id":"a"}`, "", false},
		{"subscribe", subscribe(`{"hostname":"h","resources":[` + cpus + "," + port(31000) + `]}`), "", false},
		{"subscribe with tasks", `{"type":"SUBSCRIBE","subscribe":{"agent_info":{"hostname":"h"},"tasks":[{"framework_id":"f"}]}}`, "", false},
		{"subscribe null", `{"type":"SUBSCRIBE","subscribe":null}`, "", false},
		{"not JSON", `{"type":`, "unexpected end of JSON input", false},
		{"resource twice", subscribe(`{"hostname":"h","resources":[` + cpus + "," + cpus + `]}`), `agent_info.resources lists "cpus" twice`, false},
		{"ranges twice", subscribe(`{"hostname":"h","resources":[` + port(1) + "," + port(2) + `]}`), `agent_info.resources lists "ports" twice`, false},
		{"attribute twice", subscribe(`{"hostname":"h","attributes":[{"name":"a","value":"1"},{"name":"a","value":"2"}]}`), `agent_info.attributes lists "a" twice`, false},
		{"agent_info too large", subscribe(big), fmt.Sprintf("agent_info is %d bytes, must be at most %d", len(big), MaxAgentInfoBytes), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call, err := DecodeAgentCall([]byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("DecodeAgentCall(%.100s) = %v, want no error", tc.body, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("DecodeAgentCall(%.100s) = %v, want an error containing %q", tc.body, err, tc.want)
			case errors.Is(err, ErrTooLarge) != tc.tooLarge:
				t.Fatalf("DecodeAgentCall(%.100s) = %v, too large %v, want %v", tc.body, err, errors.Is(err, ErrTooLarge), tc.tooLarge)
			}
			if tc.name == "subscribe" && (call.Subscribe == nil || call.Subscribe.AgentInfo.Hostname != "h" ||
				call.Subscribe.AgentInfo.Resources.String() != "cpus:1;ports:[31000-31000]") {
				t.Errorf("decoded %+v, want the agent h with cpus:1;ports:[31000-31000]", call.Subscribe)
			}
			if tc.name == "subscribe with tasks" && (call.Subscribe == nil || len(call.Subscribe.Tasks) != 1) {
				t.Errorf("decoded %+v, want one task", call.Subscribe)
			}
		})
	}
}

func TestAgentInfoValidate(t *testing.T) {
	valid := func() AgentInfo {
		return AgentInfo{Hostname: "node-1.example", Port: 5051, Resources: MustParseResources("cpus:4;mem:1024;ports:[31000-32000]"),
			Attributes: Attributes{{Name: "rack", Value: "a"}}}
	}
	for _, tc := range []struct {
		name   string
		change func(*AgentInfo)
		want   string
	}{
		{"valid", func(*AgentInfo) {}, ""},
		{"IPv4 hostname", func(i *AgentInfo) { i.Hostname = "10.0.0.1" }, ""},
		{"IPv6 hostname", func(i *AgentInfo) { i.Hostname = "fd00::1" }, ""},
		{"253-byte hostname", func(i *AgentInfo) { i.Hostname = strings.Repeat("h", 253) }, ""},
		{"largest scalar", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1000000000000000") }, ""},
		{"every port", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1;ports:[1-65535]") }, ""},
		{"no hostname", func(i *AgentInfo) { i.Hostname = "" }, "agent_info.hostname is empty"},
		{"254-byte hostname", func(i *AgentInfo) { i.Hostname = strings.Repeat("h", 254) }, "agent_info.hostname is 254 bytes, must be at most 253"},
		{"hostname with a slash", func(i *AgentInfo) { i.Hostname = "a/b" }, `agent_info.hostname "a/b" is not a host name or an IP address`},
		{"port", func(i *AgentInfo) { i.Port = 70000 }, "agent_info.port 70000 is out of range, must be in [0, 65535]"},
		{"ip", func(i *AgentInfo) { i.IP = "nowhere" }, `agent_info.ip "nowhere" is not an IP address`},
		{"no resources", func(i *AgentInfo) { i.Resources = Resources{} }, "agent_info.resources is empty"},
		{"cpus 1e308", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1e308") }, "agent_info.resources: cpus 1e+308 is out of range, must be in [0, 1e+15]"},
		{"mem over the bound", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1;mem:1000000000000001") }, "agent_info.resources: mem 1.000000000000001e+15 is out of range"},
		{"port 0", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1;ports:[0-10]") }, "agent_info.resources: ports [0-10] are out of range, must be in [1-65535]"},
		{"ports beyond 65535", func(i *AgentInfo) { i.Resources = MustParseResources("cpus:1;ports:[31000-32000,65000-70000]") },
			"agent_info.resources: ports [31000-32000, 65000-70000] are out of range, must be in [1-65535]"},
		{"attribute without a name", func(i *AgentInfo) { i.Attributes = Attributes{{Value: "x"}} }, "agent_info.attributes[0] has no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := valid()
			tc.change(&info)
			err := info.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
