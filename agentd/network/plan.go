package network

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"corral/mesos"
)

// ErrInvalid marks a task whose networks cannot be honoured as asked: the
// task is in error (TASK_ERROR), not a failed launch.
var ErrInvalid = errors.New("invalid task networks")

// plan is what a task's NetworkInfos ask for: the host's network (neither
// field set), the bridge, or CNI networks.
type plan struct {
	bridge *bridgePlan
	cni    []cniPlan
}

type bridgePlan struct {
	ports []portMapping
}

type cniPlan struct {
	network string
	ifName  string // eth0, eth1, … in the order the task lists its networks
	ports   []portMapping
}

// portMapping is one forwarded port of one protocol.
type portMapping struct {
	HostPort      uint16 `json:"host_port"`
	ContainerPort uint16 `json:"container_port"`
	Protocol      string `json:"protocol"` // tcp or udp
}

func (p plan) host() bool { return p.bridge == nil && len(p.cni) == 0 }

// Wants reports whether a task asks for a network of its own (bridge or CNI)
// rather than the host's.
func Wants(info mesos.TaskInfo) bool {
	c := info.Container
	if c == nil {
		return false
	}
	for _, n := range c.NetworkInfos {
		if n.Name != "" {
			return true
		}
	}
	return false
}

// makePlan reads a task's networks, as Marathon sends them: none (or only
// unnamed ones) for host networking; one named bridgeNetwork for
// container/bridge; otherwise each named one is a CNI network. Host ports
// must come from the task's port resources, so that a task forwards only
// ports the master gave it.
func makePlan(bridgeNetwork string, info mesos.TaskInfo) (plan, error) {
	var p plan
	if info.Container == nil {
		return p, nil
	}
	nets := info.Container.NetworkInfos
	named := 0
	for _, n := range nets {
		if n.Name != "" {
			named++
		}
	}
	if named == 0 {
		for i, n := range nets {
			if len(n.PortMappings) > 0 {
				return plan{}, fmt.Errorf("%w: network_infos[%d] has port_mappings but no name; the host network needs none", ErrInvalid, i)
			}
		}
		return p, nil
	}
	owned := info.Resources.PortRanges()
	seenNet := map[string]bool{}
	seenPort := map[string]int{} // "tcp/31000" → network index
	for i, n := range nets {
		if n.Name == "" {
			return plan{}, fmt.Errorf("%w: network_infos[%d] has no name, must name a network like the others", ErrInvalid, i)
		}
		if seenNet[n.Name] {
			return plan{}, fmt.Errorf("%w: network %q joined twice", ErrInvalid, n.Name)
		}
		seenNet[n.Name] = true
		var ports []portMapping
		for j, pm := range n.PortMappings {
			what := fmt.Sprintf("network_infos[%d].port_mappings[%d]", i, j)
			if pm.HostPort == 0 || pm.HostPort > 65535 || pm.ContainerPort == 0 || pm.ContainerPort > 65535 {
				return plan{}, fmt.Errorf("%w: %s maps %d to %d, ports must be in [1, 65535]", ErrInvalid, what, pm.HostPort, pm.ContainerPort)
			}
			if !owned.ContainsValue(uint64(pm.HostPort)) {
				return plan{}, fmt.Errorf("%w: %s host_port %d is not among the task's port resources %s", ErrInvalid, what, pm.HostPort, owned)
			}
			protos, err := protocols(pm.Protocol)
			if err != nil {
				return plan{}, fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
			}
			for _, proto := range protos {
				k := fmt.Sprintf("%s/%d", proto, pm.HostPort)
				if _, dup := seenPort[k]; dup {
					return plan{}, fmt.Errorf("%w: %s: host port %s mapped twice", ErrInvalid, what, k)
				}
				seenPort[k] = i
				ports = append(ports, portMapping{HostPort: uint16(pm.HostPort), ContainerPort: uint16(pm.ContainerPort), Protocol: proto})
			}
		}
		if n.Name == bridgeNetwork {
			p.bridge = &bridgePlan{ports: ports}
			continue
		}
		p.cni = append(p.cni, cniPlan{network: n.Name, ifName: fmt.Sprintf("eth%d", len(p.cni)), ports: ports})
	}
	if p.bridge != nil && len(p.cni) > 0 {
		return plan{}, fmt.Errorf("%w: the bridge network %q cannot be combined with other networks", ErrInvalid, bridgeNetwork)
	}
	return p, nil
}

// protocols parses a port mapping's protocol: tcp (the default), udp, or
// both as Marathon writes them ("udp,tcp").
func protocols(s string) ([]string, error) {
	if s == "" {
		return []string{"tcp"}, nil
	}
	var out []string
	for _, p := range strings.Split(strings.ToLower(s), ",") {
		switch p = strings.TrimSpace(p); p {
		case "tcp", "udp":
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		default:
			return nil, fmt.Errorf("invalid protocol %q, must be tcp, udp or both separated by a comma", s)
		}
	}
	return out, nil
}
