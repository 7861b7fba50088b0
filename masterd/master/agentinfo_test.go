package master

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAgentInfoBounds registers agents that advertise what no agent has
// and checks that each is refused with a 4xx naming what is wrong, and
// that none of them is admitted.
func TestAgentInfoBounds(t *testing.T) {
	c := newCluster(t, nil)
	cpus := `{"name":"cpus","type":"SCALAR","scalar":{"value":1}}`
	subscribe := func(info string) string {
		return `{"type":"SUBSCRIBE","subscribe":{"agent_info":` + info + `}}`
	}
	info := func(hostname, resources, more string) string {
		return fmt.Sprintf(`{"hostname":%q,"port":5051,"resources":[%s]%s}`, hostname, resources, more)
	}
	agent := func(hostname, resources, more string) string { return subscribe(info(hostname, resources, more)) }
	bigHost := info(strings.Repeat("h", 1<<20), cpus, "")
	bigInfo := info("h", cpus, `,"attributes":[{"name":"blob","value":"`+strings.Repeat("x", 20<<20)+`"}]`)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"cpus 1e308", agent("h", `{"name":"cpus","type":"SCALAR","scalar":{"value":1e308}}`, ""),
			http.StatusBadRequest, "agent_info.resources: cpus 1e+308 is out of range, must be in [0, 1e+15]"},
		{"ports beyond 65535", agent("h", cpus+`,{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":0,"end":70000}]}}`, ""),
			http.StatusBadRequest, "agent_info.resources: ports [0-70000] are out of range, must be in [1-65535]"},
		{"cpus twice", agent("h", cpus+","+cpus, ""),
			http.StatusBadRequest, `agent_info.resources lists "cpus" twice`},
		{"ports twice", agent("h", cpus+`,{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31000}]}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31001,"end":31001}]}}`, ""),
			http.StatusBadRequest, `agent_info.resources lists "ports" twice`},
		{"300-byte hostname", agent(strings.Repeat("h", 300), cpus, ""),
			http.StatusBadRequest, "agent_info.hostname is 300 bytes, must be at most 253"},
		{"hostname with a space", agent("a b", cpus, ""),
			http.StatusBadRequest, `agent_info.hostname "a b" is not a host name or an IP address`},
		{"attribute twice", agent("h", cpus, `,"attributes":[{"name":"rack","value":"a"},{"name":"rack","value":"b"}]`),
			http.StatusBadRequest, `agent_info.attributes lists "rack" twice`},
		{"1 MB hostname", subscribe(bigHost),
			http.StatusRequestEntityTooLarge, fmt.Sprintf("agent_info is %d bytes, must be at most 262144", len(bigHost))},
		{"20 MB agent_info", subscribe(bigInfo),
			http.StatusRequestEntityTooLarge, fmt.Sprintf("agent_info is %d bytes, must be at most 262144", len(bigInfo))},
		{"call over 32 MiB", `{"type":"SUBSCRIBE","subscribe":{"agent_info":` + info("h", cpus, "") +
			`,"tasks":[{"framework_id":"f","state":"TASK_RUNNING","info":{"task_id":"t","name":"` + strings.Repeat("x", 32<<20) + `"}}]}}`,
			http.StatusRequestEntityTooLarge, "agent call is over 33554432 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postCall(t, c.srv.URL, tc.body, nil)
			if resp.StatusCode == http.StatusOK {
				resp.Body.Close()
			}
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("POST %.200s… = %d %.300q, want %d containing %q", tc.body, resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
	if n := len(c.master().State(nil).Slaves); n != 0 {
		t.Errorf("state lists %d agents after refused registrations, want 0", n)
	}

	// Within the bounds an agent registers.
	resp, body := postCall(t, c.srv.URL, agent("node-1.example", cpus+`,{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":65535}]}}`, `,"attributes":[{"name":"rack","value":"a"}]`), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST of a sane agent = %d %q, want 200", resp.StatusCode, body)
	}
	resp.Body.Close()
}
