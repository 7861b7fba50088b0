package marathon

// The rules of an app's ports, networks and container.

import (
	"fmt"
	"slices"
	"strings"
)

func (a *App) validatePorts(d *details) {
	var names []string
	var ports []int
	for i, pd := range a.PortDefinitions {
		path := idx("/portDefinitions", i)
		port(d, path+"/port", pd.Port)
		enum(d, path+"/protocol", pd.Protocol, portProtocols)
		if pd.Name != "" {
			if !portNameRE.MatchString(pd.Name) {
				d.add(path+"/name", mustMatch(portNamePattern))
			}
			names = append(names, pd.Name)
		}
		if pd.Port != 0 {
			ports = append(ports, pd.Port)
		}
	}
	if hasDuplicates(names) {
		d.add("/portDefinitions", msgPortNamesUnique)
	}
	if hasDuplicates(ports) {
		d.add("/portDefinitions", msgPortsUnique)
	}
}

func (a *App) validateNetworks(d *details, o Options) {
	var host, bridge, container, unnamed int
	var names []string
	for i, n := range a.Networks {
		path := idx("/networks", i)
		enum(d, path+"/mode", n.Mode, networkModes)
		switch n.Mode {
		case NetworkHost:
			host++
			if n.Name != "" || len(n.Labels) > 0 {
				d.add("/networks", msgHostNetNameLabels)
			}
		case NetworkBridge:
			bridge++
			if n.Name != "" {
				d.add("/networks", msgBridgeNetName)
			}
		case NetworkContainer:
			container++
			if n.Name == "" {
				unnamed++
				if o.DefaultNetworkName == "" {
					d.add("/networks", msgNetworkNameRequired)
				}
			}
		}
		if n.Name != "" {
			if len(n.Name) > 63 || !networkNameRE.MatchString(n.Name) {
				d.add(path+"/name", mustMatch(networkNamePattern))
			}
			names = append(names, n.Name)
		}
	}
	if unnamed > 1 || hasDuplicates(names) {
		d.add("/networks", msgDuplicateNetworks)
	}
	if !((host <= 1 && bridge == 0 && container == 0) ||
		(host == 0 && bridge <= 1 && container == 0) ||
		(host == 0 && bridge == 0 && container > 0)) {
		d.add("/networks", msgNetworkCombination)
	}
	if a.Container != nil && a.Container.Type == EngineDocker && container > 1 {
		d.add("/", msgDockerOneNetwork)
	}
	if host > 0 && a.Container != nil && len(a.Container.PortMappings) > 0 {
		d.add("/", msgPortMappingsOnHost)
	}
	if (bridge > 0 || container > 0) && len(a.PortDefinitions) > 0 {
		d.add("/", msgPortDefinitionsOffHost)
	}
}

func (a *App) validateContainer(d *details) {
	c := a.Container
	if c == nil {
		return
	}
	enum(d, "/container/type", c.Type, engines)
	var networkNames []string
	containerNetworks := 0
	for _, n := range a.Networks {
		if n.Name != "" {
			networkNames = append(networkNames, n.Name)
		}
		if n.Mode == NetworkContainer {
			containerNetworks++
		}
	}
	validatePortMappings(d, "/container/portMappings", c.PortMappings, func(path string, pm PortMapping) {
		if containerNetworks > 1 && pm.HostPort != nil && len(pm.NetworkNames) != 1 {
			d.add(path, msgNetworkNameForHostPort)
		}
		for j, name := range pm.NetworkNames {
			if !slices.Contains(networkNames, name) {
				d.add(idx(path+"/networkNames", j), notOneOf(networkNames))
			}
		}
	})
	if docker := c.Docker; docker != nil {
		if docker.Image == "" {
			d.add("/container/docker/image", msgMustNotBeEmpty)
		}
		for i, p := range docker.Parameters {
			if p.Key == "" {
				d.add(idx("/container/docker/parameters", i)+"/key", msgMustNotBeEmpty)
			}
		}
		if docker.PullConfig != nil {
			if c.Type == EngineDocker {
				d.add("/container/docker/pullConfig", msgPullConfigDocker)
			} else if _, ok := a.Secrets[docker.PullConfig.Secret]; !ok {
				d.add("/container/docker/pullConfig", msgPullConfigSecret)
			}
		}
	} else if c.Type == EngineDocker {
		d.add("/container/docker", msgNotDefined)
	}
	for i, v := range c.Volumes {
		path := idx("/container/volumes", i)
		if v.ContainerPath == "" {
			d.add(path+"/containerPath", msgMustNotBeEmpty)
		}
		switch {
		case v.Persistent != nil:
			if v.ContainerPath == "." || v.ContainerPath == ".." {
				d.add(path+"/containerPath", "can not be one of (.,..)")
			}
			if strings.Contains(v.ContainerPath, "/") {
				d.add(path+"/containerPath", `value must not contain "/"`)
			}
			if v.Mode != "" && v.Mode != "RW" {
				d.add(path+"/mode", "does not equal RW")
			}
			if v.Persistent.Size <= 0 {
				d.add(path+"/persistent/size", fmt.Sprintf("got %d, expected more than 0", v.Persistent.Size))
			}
		case len(v.External) > 0 && string(v.External) != "null":
			// external volumes need a volume driver; they are kept as given
		case v.Secret != "":
			if _, ok := a.Secrets[v.Secret]; !ok {
				d.add(path, msgVolumeSecret)
			}
		default:
			if v.HostPath == "" {
				d.add(path+"/hostPath", msgMustNotBeEmpty)
			}
			enum(d, path+"/mode", v.Mode, volumeModes)
		}
	}
}

// validatePortMappings checks the rules of port mappings that hold
// whatever the networks; more adds the ones that depend on them.
func validatePortMappings(d *details, path string, pms []PortMapping, more func(string, PortMapping)) {
	var names []string
	for i, pm := range pms {
		p := idx(path, i)
		port(d, p+"/containerPort", pm.ContainerPort)
		if pm.HostPort != nil {
			port(d, p+"/hostPort", *pm.HostPort)
		}
		port(d, p+"/servicePort", pm.ServicePort)
		enum(d, p+"/protocol", pm.Protocol, portProtocols)
		if pm.Name != "" {
			if !portNameRE.MatchString(pm.Name) {
				d.add(p+"/name", mustMatch(portNamePattern))
			}
			names = append(names, pm.Name)
		}
		if more != nil {
			more(p, pm)
		}
	}
	if hasDuplicates(names) {
		d.add(path, msgPortNamesUnique)
	}
}
