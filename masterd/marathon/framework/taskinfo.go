package framework

import (
	"sort"
	"strconv"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/match"
	"corral/mesos"
)

// taskInfo builds what the agent runs for one instance, as Marathon's
// TaskBuilder does: the command (or the image's entrypoint with args), the
// environment Marathon adds, artifacts, the container and its networks,
// the first health check (Mesos runs one per task), the kill grace period,
// labels and the discovery info Mesos-DNS reads.
func (f *Framework) taskInfo(app *marathon.App, in *instance, m match.Match, agentID string) mesos.TaskInfo {
	info := mesos.TaskInfo{
		Name:      marathon.IDHostname(app.ID),
		TaskID:    in.TaskID,
		AgentID:   agentID,
		Resources: m.Resources,
		Command:   command(app, f.cfg.User),
	}
	info.Command.Environment = environment(app)
	if app.Container != nil {
		c := &mesos.ContainerInfo{Type: app.Container.Type}
		if app.Container.Docker != nil {
			c.Image = app.Container.Docker.Image
		}
		c.NetworkInfos = f.networkInfos(app, in.Ports)
		info.Container = c
	} else if app.HasNonHostNetworks() {
		info.Container = &mesos.ContainerInfo{Type: marathon.EngineMesos, NetworkInfos: f.networkInfos(app, in.Ports)}
	}
	if len(app.HealthChecks) > 0 {
		info.HealthCheck = healthCheck(app, app.HealthChecks[0], in.Ports)
	}
	if app.TaskKillGracePeriodSeconds != nil {
		info.KillPolicy = &mesos.KillPolicy{GracePeriodSeconds: float64(*app.TaskKillGracePeriodSeconds)}
	}
	if len(app.Labels) > 0 {
		info.Labels = labels(app.Labels)
	}
	info.Discovery = discovery(app, in.Ports)
	return info
}

// command is the task's command: cmd under a shell, or args without one.
func command(app *marathon.App, defaultUser string) *mesos.CommandInfo {
	c := &mesos.CommandInfo{User: app.User}
	if c.User == "" {
		c.User = defaultUser
	}
	switch {
	case app.Cmd != "":
		c.Value = app.Cmd
	case len(app.Args) > 0:
		no := false
		c.Shell = &no
		c.Arguments = app.Args
		if app.Container == nil || app.Container.Docker == nil || app.Container.Docker.Image == "" {
			c.Value = app.Args[0]
		}
	default:
		no := false
		c.Shell = &no
	}
	for _, a := range app.Fetch {
		c.URIs = append(c.URIs, mesos.CommandURI{Value: a.URI, Executable: a.Executable, Extract: a.Extract, Cache: a.Cache})
	}
	return c
}

// environment is the app's env plus what Marathon adds.
func environment(app *marathon.App) []mesos.EnvVar {
	env := map[string]string{
		"MARATHON_APP_ID":            app.ID,
		"MARATHON_APP_VERSION":       app.Version,
		"MARATHON_APP_RESOURCE_CPUS": strconv.FormatFloat(app.Cpus, 'f', -1, 64),
		"MARATHON_APP_RESOURCE_MEM":  strconv.FormatFloat(app.Mem, 'f', 1, 64),
		"MARATHON_APP_RESOURCE_DISK": strconv.FormatFloat(app.Disk, 'f', 1, 64),
		"MARATHON_APP_RESOURCE_GPUS": strconv.Itoa(app.Gpus),
	}
	if app.Container != nil && app.Container.Docker != nil {
		env["MARATHON_APP_DOCKER_IMAGE"] = app.Container.Docker.Image
	}
	for k, v := range app.Env {
		if v.Secret == "" {
			env[k] = v.Value
		}
	}
	out := make([]mesos.EnvVar, 0, len(env))
	for k, v := range env {
		out = append(out, mesos.EnvVar{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// networkInfos maps Marathon's networks onto Mesos's: container/bridge is
// the agent's bridge network with port mappings from the offered host
// ports; a named container network is a CNI network.
func (f *Framework) networkInfos(app *marathon.App, hostPorts []int) []mesos.NetworkInfo {
	var out []mesos.NetworkInfo
	for _, n := range app.Networks {
		var ni mesos.NetworkInfo
		switch n.Mode {
		case marathon.NetworkBridge:
			ni.Name = f.cfg.BridgeNetwork
		case marathon.NetworkContainer:
			ni.Name = n.Name
		default:
			continue
		}
		if len(n.Labels) > 0 {
			ni.Labels = labels(n.Labels)
		}
		ni.PortMappings = portMappings(app, n, hostPorts)
		out = append(out, ni)
	}
	return out
}

// portMappings pairs the app's port mappings that have host ports with the
// host ports the offer gave, in order.
func portMappings(app *marathon.App, n marathon.Network, hostPorts []int) []mesos.PortMapping {
	if app.Container == nil {
		return nil
	}
	var out []mesos.PortMapping
	i := 0
	for _, pm := range app.Container.PortMappings {
		if pm.HostPort == nil {
			continue
		}
		hp := 0
		if i < len(hostPorts) {
			hp = hostPorts[i]
		}
		i++
		if len(pm.NetworkNames) > 0 && n.Mode == marathon.NetworkContainer && !contains(pm.NetworkNames, n.Name) {
			continue
		}
		for _, proto := range strings.Split(pm.Protocol, ",") {
			if proto == "" {
				proto = marathon.ProtocolTCP
			}
			out = append(out, mesos.PortMapping{HostPort: uint32(hp), ContainerPort: uint32(pm.ContainerPort), Protocol: proto})
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// healthCheck maps a Marathon health check onto the agent's: HTTP(S) and
// MESOS_HTTP(S) checks probe HTTP, TCP and MESOS_TCP connect, COMMAND runs
// in the container. The port is the host port of portIndex, or port.
func healthCheck(app *marathon.App, hc marathon.HealthCheck, hostPorts []int) *mesos.HealthCheck {
	c := &mesos.HealthCheck{
		DelaySeconds:        float64(hc.DelaySeconds),
		IntervalSeconds:     float64(hc.IntervalSeconds),
		TimeoutSeconds:      float64(hc.TimeoutSeconds),
		ConsecutiveFailures: uint32(hc.MaxConsecutiveFailures),
		GracePeriodSeconds:  float64(hc.GracePeriodSeconds),
		HTTPPath:            hc.Path,
	}
	switch hc.Protocol {
	case marathon.HealthHTTP, marathon.HealthHTTPS, marathon.HealthTCP:
		// Marathon runs these itself, from the first interval on: it has
		// no use for delaySeconds, which only Mesos-level checks honour.
		c.DelaySeconds = 0
		c.Type = "HTTP"
		if hc.Protocol == marathon.HealthTCP {
			c.Type = "TCP"
		}
	case marathon.HealthMesosHTTP, marathon.HealthMesosHTTPS:
		c.Type = "HTTP"
	case marathon.HealthMesosTCP:
		c.Type = "TCP"
	case marathon.HealthCommand:
		c.Type = "COMMAND"
		if hc.Command != nil {
			c.Command = &mesos.CommandInfo{Value: hc.Command.Value}
		}
	}
	if hc.Protocol == marathon.HealthHTTPS || hc.Protocol == marathon.HealthMesosHTTPS {
		c.Scheme = "https"
	}
	// The agent reads an absent (zero) delay or grace period as Mesos's
	// default; an app that asks for none gets the shortest one instead.
	if c.DelaySeconds == 0 {
		c.DelaySeconds = minSeconds
	}
	if c.GracePeriodSeconds == 0 {
		c.GracePeriodSeconds = minSeconds
	}
	switch {
	case hc.Port != nil:
		c.Port = uint32(*hc.Port)
	case hc.PortIndex != nil:
		c.Port = uint32(portOfIndex(app, *hc.PortIndex, hostPorts))
	}
	return c
}

// portOfIndex resolves a health check's portIndex: the host port of that
// port definition or port mapping, or the container port of a mapping
// without one. portIndex counts every mapping; hostPorts only those with
// a host port.
func portOfIndex(app *marathon.App, idx int, hostPorts []int) int {
	if app.Container != nil && len(app.Container.PortMappings) > 0 {
		h := 0
		for i, pm := range app.Container.PortMappings {
			if pm.HostPort == nil {
				if i == idx {
					return pm.ContainerPort
				}
				continue
			}
			if i == idx && h < len(hostPorts) {
				return hostPorts[h]
			}
			h++
		}
		return 0
	}
	if idx < len(hostPorts) {
		return hostPorts[idx]
	}
	return 0
}

// minSeconds stands for zero seconds in the agent's health check fields.
const minSeconds = 0.001

func labels(m map[string]string) *mesos.Labels {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	l := &mesos.Labels{}
	for _, k := range keys {
		l.Labels = append(l.Labels, mesos.Label{Key: k, Value: m[k]})
	}
	return l
}

// discovery is the task's DiscoveryInfo: its name and ports with names and
// protocols, which Mesos-DNS turns into SRV records.
func discovery(app *marathon.App, hostPorts []int) *mesos.DiscoveryInfo {
	d := &mesos.DiscoveryInfo{Visibility: "FRAMEWORK", Name: marathon.IDHostname(app.ID), Ports: &mesos.DiscoveryPorts{Ports: []mesos.Port{}}}
	add := func(number int, name, protocol string, ls map[string]string) {
		for _, proto := range strings.Split(protocol, ",") {
			if proto == "" {
				proto = marathon.ProtocolTCP
			}
			p := mesos.Port{Number: uint32(number), Name: name, Protocol: proto}
			if len(ls) > 0 {
				p.Labels = labels(ls)
			}
			d.Ports.Ports = append(d.Ports.Ports, p)
		}
	}
	if app.HasNonHostNetworks() {
		if app.Container == nil {
			return d
		}
		i := 0
		for _, pm := range app.Container.PortMappings {
			n := pm.ContainerPort
			if pm.HostPort != nil {
				if i < len(hostPorts) {
					n = hostPorts[i]
				}
				i++
			}
			add(n, pm.Name, pm.Protocol, pm.Labels)
		}
		return d
	}
	for i, pd := range app.PortDefinitions {
		if i < len(hostPorts) {
			add(hostPorts[i], pd.Name, pd.Protocol, pd.Labels)
		}
	}
	return d
}
