package mesos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Bounds on what an agent may advertise when it registers. The master
// stores an agent's description whole in one registry record and shows it
// in /master/state; the allocator adds agents' resources together.
const (
	// MaxAgentInfoBytes bounds the JSON of an agent_info: a few KiB in
	// practice, and far below what one etcd request may carry.
	MaxAgentInfoBytes = 256 << 10
	// MaxHostnameLength is the longest DNS name.
	MaxHostnameLength = 253
	// MaxScalar bounds a scalar resource. Mesos keeps scalars as int64
	// thousandths, so it cannot hold more than about 9.2e15; 1e15 also
	// keeps the sums over thousands of agents exact to the thousandth.
	MaxScalar = 1e15
	// MaxPort is the highest port an agent may offer; port 0 cannot be
	// offered either, since to a task it means "any port".
	MaxPort = 65535
)

// ErrTooLarge marks a call, or a part of one, over its size bound; the
// master answers it with 413.
var ErrTooLarge = errors.New("request entity too large")

// DecodeAgentCall decodes an agent call as the master receives it. Beyond
// the JSON it checks what only the encoding shows: that a SUBSCRIBE's
// agent_info is at most MaxAgentInfoBytes (else the error wraps
// ErrTooLarge), and that it lists each resource and attribute once, where
// decoding would add up or keep both. AgentInfo.Validate checks the rest.
func DecodeAgentCall(body []byte) (AgentCall, error) {
	var wire struct {
		AgentCall
		Subscribe json.RawMessage `json:"subscribe"` // shadows AgentCall.Subscribe
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return AgentCall{}, err
	}
	call := wire.AgentCall
	if len(wire.Subscribe) == 0 || string(wire.Subscribe) == "null" {
		return call, nil
	}
	var sub struct {
		AgentInfo json.RawMessage `json:"agent_info"`
		Tasks     []Task          `json:"tasks,omitempty"`
	}
	if err := json.Unmarshal(wire.Subscribe, &sub); err != nil {
		return AgentCall{}, err
	}
	if n := len(sub.AgentInfo); n > MaxAgentInfoBytes {
		return AgentCall{}, fmt.Errorf("agent_info is %d bytes, must be at most %d: %w", n, MaxAgentInfoBytes, ErrTooLarge)
	}
	call.Subscribe = &AgentSubscribe{Tasks: sub.Tasks}
	if len(sub.AgentInfo) == 0 || string(sub.AgentInfo) == "null" {
		return call, nil
	}
	if err := json.Unmarshal(sub.AgentInfo, &call.Subscribe.AgentInfo); err != nil {
		return AgentCall{}, err
	}
	var names struct {
		Resources  []struct{ Name string } `json:"resources"`
		Attributes []struct{ Name string } `json:"attributes"`
	}
	if err := json.Unmarshal(sub.AgentInfo, &names); err != nil {
		return AgentCall{}, err
	}
	if name, ok := repeated(names.Resources, func(r struct{ Name string }) string { return r.Name }); ok {
		return AgentCall{}, fmt.Errorf("agent_info.resources lists %q twice, must list each resource once", name)
	}
	if name, ok := repeated(names.Attributes, func(a struct{ Name string }) string { return a.Name }); ok {
		return AgentCall{}, fmt.Errorf("agent_info.attributes lists %q twice, must list each attribute once", name)
	}
	return call, nil
}

// repeated returns the first key that two elements of list share.
func repeated[T any](list []T, key func(T) string) (string, bool) {
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		k := key(e)
		if seen[k] {
			return k, true
		}
		seen[k] = true
	}
	return "", false
}

// Validate checks an agent's description before the master records it:
// a host name or IP address of at most MaxHostnameLength bytes, a port
// and IP that can be dialled, at least one resource, scalars in [0,
// MaxScalar], ports in [1, MaxPort], and attributes with names.
func (info AgentInfo) Validate() error {
	switch {
	case info.Hostname == "":
		return errors.New("agent_info.hostname is empty")
	case len(info.Hostname) > MaxHostnameLength:
		return fmt.Errorf("agent_info.hostname is %d bytes, must be at most %d", len(info.Hostname), MaxHostnameLength)
	case !isHostname(info.Hostname) && net.ParseIP(info.Hostname) == nil:
		return fmt.Errorf("agent_info.hostname %q is not a host name or an IP address", info.Hostname)
	case info.Port < 0 || info.Port > MaxPort:
		return fmt.Errorf("agent_info.port %d is out of range, must be in [0, %d]", info.Port, MaxPort)
	case info.IP != "" && net.ParseIP(info.IP) == nil:
		return fmt.Errorf("agent_info.ip %q is not an IP address", info.IP)
	case info.Resources.IsEmpty():
		return errors.New("agent_info.resources is empty, an agent must offer at least one resource")
	}
	for _, name := range info.Resources.names() {
		if v, ok := info.Resources.Scalars[name]; ok && !(v >= 0 && v <= MaxScalar) {
			return fmt.Errorf("agent_info.resources: %s %s is out of range, must be in [0, %s]",
				name, strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(MaxScalar, 'g', -1, 64))
		}
	}
	if rs := info.Resources.PortRanges(); len(rs) > 0 && (rs[0].Begin < 1 || rs[len(rs)-1].End > MaxPort) {
		return fmt.Errorf("agent_info.resources: ports %s are out of range, must be in [1-%d]", rs, MaxPort)
	}
	for i, a := range info.Attributes {
		if a.Name == "" {
			return fmt.Errorf("agent_info.attributes[%d] has no name", i)
		}
	}
	return nil
}

// isHostname reports whether s is made of the characters of host names:
// letters, digits, '-', '.' and '_' (which some hosts' names hold).
func isHostname(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
