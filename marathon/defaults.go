package marathon

import (
	"slices"
	"strings"
)

// Marathon's defaults for apps, from its RAML (types/app.raml and friends).
// maxLaunchDelaySeconds is 300 as in the RAML; Marathon 1.4 and 1.5 used
// 3600 (the reference's example payloads show it).
const (
	DefaultCpus                  = 1.0
	DefaultMem                   = 128.0
	DefaultDisk                  = 0.0
	DefaultGpus                  = 0
	DefaultInstances             = 1
	DefaultBackoffSeconds        = 1
	DefaultBackoffFactor         = 1.15
	DefaultMaxLaunchDelaySeconds = 300
	DefaultKillSelection         = KillYoungestFirst
	DefaultPortName              = "default" // name of the default port definition and mapping
	DefaultBridgeName            = "mesos-bridge"
)

// Health check defaults (types/healthCheck.raml, health-checks.md).
const (
	DefaultHealthGracePeriodSeconds     = 300
	DefaultHealthIntervalSeconds        = 60
	DefaultHealthTimeoutSeconds         = 20
	DefaultHealthMaxConsecutiveFailures = 3
	DefaultHealthDelaySeconds           = 15
	DefaultHealthPath                   = "/"
	DefaultIPProtocol                   = "IPv4"
)

// NewApp returns an app with id and Marathon's scalar defaults: cpus 1,
// mem 128, disk 0, gpus 0, one instance, backoff 1 s × 1.15 up to 300 s,
// executor "", requirePorts false, killSelection YOUNGEST_FIRST. Decoding
// starts from it; ApplyDefaults adds the rest.
func NewApp(id string) App {
	return App{
		ID:                    id,
		Cpus:                  DefaultCpus,
		Mem:                   DefaultMem,
		Disk:                  DefaultDisk,
		Gpus:                  DefaultGpus,
		Instances:             DefaultInstances,
		BackoffSeconds:        DefaultBackoffSeconds,
		BackoffFactor:         DefaultBackoffFactor,
		MaxLaunchDelaySeconds: DefaultMaxLaunchDelaySeconds,
		KillSelection:         DefaultKillSelection,
	}
}

func defaultHealthCheck() HealthCheck {
	return HealthCheck{
		Protocol:               HealthHTTP,
		GracePeriodSeconds:     DefaultHealthGracePeriodSeconds,
		IntervalSeconds:        DefaultHealthIntervalSeconds,
		TimeoutSeconds:         DefaultHealthTimeoutSeconds,
		MaxConsecutiveFailures: DefaultHealthMaxConsecutiveFailures,
		DelaySeconds:           DefaultHealthDelaySeconds,
		IPProtocol:             DefaultIPProtocol,
	}
}

func defaultResidency() Residency {
	return Residency{RelaunchEscalationTimeoutSeconds: 3600, TaskLostBehavior: "WAIT_FOREVER"}
}

// DefaultUpgradeStrategy is {1, 1}: never below full strength, up to twice
// the instances during an upgrade.
func DefaultUpgradeStrategy() UpgradeStrategy {
	return UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}
}

// residentUpgradeStrategy is the default for apps with persistent volumes,
// which cannot be over-provisioned.
func residentUpgradeStrategy() UpgradeStrategy {
	return UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0}
}

// DefaultUnreachableStrategy is the RAML's {0, 0}: replace and expunge an
// unreachable instance at once. Apps with persistent volumes get "disabled".
func DefaultUnreachableStrategy() UnreachableStrategy { return UnreachableStrategy{} }

// DefaultHTTPStatusCodesForReady is what a readiness check treats as ready
// when it lists no codes.
func DefaultHTTPStatusCodesForReady() []int { return []int{200} }

// Options are operator settings that Marathon reads from flags while
// normalising apps.
type Options struct {
	// DefaultNetworkName names a container network given without a name
	// (--default_network_name). Empty: such networks are invalid.
	DefaultNetworkName string
	// BridgeName is the deprecated ipAddress.networkName that means the
	// bridge (--mesos_bridge_name); empty means "mesos-bridge".
	BridgeName string
}

// ApplyDefaults normalises the app as Marathon does before storing it,
// with default Options. See ApplyDefaultsWith.
func (a *App) ApplyDefaults() { a.ApplyDefaultsWith(Options{}) }

// ApplyDefaultsWith normalises the app as Marathon 1.5+ does (its
// AppNormalization): it migrates the deprecated API and fills the defaults
// that depend on other fields. Scalar defaults (cpus, mem, …) are not its
// business: decoding applies them, because only the decoder can tell a
// missing field from an explicit zero.
//
//   - uris become fetch entries (extract set for archives).
//   - ipAddress and container.docker.network become networks:
//     HOST → host, BRIDGE → container/bridge, USER → container (named by
//     ipAddress.networkName); an ipAddress alone asks for a container
//     network, or the bridge if it names the bridge.
//   - networks default to [{mode: host}]; a container network without a
//     name gets Options.DefaultNetworkName.
//   - ports become portDefinitions; on host networking an app that declares
//     neither gets [{port: 0, protocol: tcp, name: default}], on other
//     networks portDefinitions are dropped (Marathon ignores them there).
//   - container.docker.portMappings and ipAddress.discovery.ports become
//     container.portMappings; on host networking portMappings are dropped;
//     elsewhere a container without them gets [{containerPort: 0,
//     name: default}], one mapping per port definition at least, and on the
//     bridge a missing hostPort becomes 0. An app on a non-host network
//     without a container gets a MESOS container.
//   - health checks other than COMMAND that give neither port nor portIndex
//     get portIndex 0 when the app has ports; HTTP-like checks get path "/".
//   - readiness checks without status codes get [200].
//   - unreachableStrategy defaults to {0, 0} ("disabled" for resident
//     apps), upgradeStrategy to {1, 1} ({0.5, 0} for resident apps), and
//     resident apps get a residency.
//   - requirePorts is false off host networking; killSelection defaults to
//     YOUNGEST_FIRST, a container's type to DOCKER, labels and env to {}.
//
// Conflicts between deprecated and current fields are left for Validate to
// report; ParseApp validates the deprecated API before normalising.
func (a *App) ApplyDefaultsWith(o Options) {
	a.unshare()
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.Env == nil {
		a.Env = Env{}
	}
	if a.KillSelection == "" {
		a.KillSelection = DefaultKillSelection
	}
	a.normalizeFetch()
	a.normalizeNetworks(o)
	declared := a.normalizePortDefinitions()
	a.normalizeContainer(declared)
	a.IPAddress = nil
	if a.HasNonHostNetworks() {
		a.RequirePorts = false
	}
	a.normalizeChecks()
	a.normalizeStrategies()
}

// unshare copies what normalising changes in place and what a copy of
// the app shares with its original (its container, networks, port
// definitions and checks), so that ApplyDefaults on a copy leaves the
// original as it was: routerd normalises copies of the apps its watcher
// keeps, publishes and saves.
func (a *App) unshare() {
	a.Networks = slices.Clone(a.Networks)
	a.PortDefinitions = slices.Clone(a.PortDefinitions)
	a.HealthChecks = slices.Clone(a.HealthChecks)
	a.ReadinessChecks = slices.Clone(a.ReadinessChecks)
	if c := a.Container; c != nil {
		cc := *c
		cc.PortMappings = slices.Clone(c.PortMappings)
		if d := c.Docker; d != nil {
			dc := *d
			dc.PortMappings = slices.Clone(d.PortMappings)
			cc.Docker = &dc
		}
		a.Container = &cc
	}
}

func (a *App) normalizeFetch() {
	if len(a.URIs) > 0 && len(a.Fetch) == 0 {
		for _, u := range a.URIs {
			a.Fetch = append(a.Fetch, Artifact{URI: u, Extract: isArchive(u)})
		}
		a.URIs = nil
	} else if a.URIs != nil && len(a.URIs) == 0 {
		a.URIs = nil
	}
}

func (a *App) normalizeNetworks(o Options) {
	bridge := o.BridgeName
	if bridge == "" {
		bridge = DefaultBridgeName
	}
	a.migrateNetworks(bridge)
	if len(a.Networks) == 0 {
		a.Networks = []Network{{Mode: NetworkHost}}
	}
	for i := range a.Networks {
		n := &a.Networks[i]
		if n.Mode == "" {
			n.Mode = NetworkContainer
		}
		if n.Mode == NetworkContainer && n.Name == "" {
			n.Name = o.DefaultNetworkName
		}
	}
}

// normalizePortDefinitions moves the deprecated ports into port
// definitions and applies the default port on host networking. It returns
// the port definitions the app declared (nil if none), which on other
// networks size the port mappings.
func (a *App) normalizePortDefinitions() (declared []PortDefinition) {
	declared = a.PortDefinitions
	if declared == nil && a.Ports != nil {
		declared = make([]PortDefinition, len(a.Ports))
		for i, p := range a.Ports {
			declared[i] = PortDefinition{Port: p, Protocol: ProtocolTCP}
		}
	}
	a.Ports = nil
	switch {
	case a.HasNonHostNetworks():
		a.PortDefinitions = nil
	case declared == nil:
		a.PortDefinitions = []PortDefinition{{Port: 0, Protocol: ProtocolTCP, Name: DefaultPortName}}
	default:
		a.PortDefinitions = declared
	}
	for i := range a.PortDefinitions {
		if a.PortDefinitions[i].Protocol == "" {
			a.PortDefinitions[i].Protocol = ProtocolTCP
		}
	}
	return declared
}

func (a *App) normalizeContainer(declared []PortDefinition) {
	nonHost := a.HasNonHostNetworks()
	given := a.Container != nil
	if a.Container == nil && (nonHost || a.IPAddress != nil) {
		a.Container = &Container{Type: EngineMesos}
	}
	c := a.Container
	if c == nil {
		return
	}
	if c.Type == "" {
		c.Type = EngineDocker
	}
	if d := c.Docker; d != nil {
		if c.PortMappings == nil {
			c.PortMappings = d.PortMappings
		}
		d.PortMappings = nil
		d.Network = ""
	}
	if ip := a.IPAddress; ip != nil && ip.Discovery != nil && len(ip.Discovery.Ports) > 0 &&
		c.Type == EngineMesos && c.PortMappings == nil {
		for _, p := range ip.Discovery.Ports {
			c.PortMappings = append(c.PortMappings, PortMapping{
				ContainerPort: p.Number, Name: p.Name, Protocol: p.Protocol, Labels: p.Labels,
			})
		}
	}
	if !nonHost {
		c.PortMappings = nil
		return
	}
	if c.PortMappings == nil {
		c.PortMappings = []PortMapping{{Name: DefaultPortName, Protocol: ProtocolTCP}}
	}
	// Marathon adds a mapping per port definition beyond the mappings
	// given, but only to a container the app declared.
	for given && len(c.PortMappings) < len(declared) {
		c.PortMappings = append(c.PortMappings, PortMapping{Protocol: ProtocolTCP})
	}
	bridged := a.HasBridgeNetwork()
	for i := range c.PortMappings {
		pm := &c.PortMappings[i]
		if pm.Protocol == "" {
			pm.Protocol = ProtocolTCP
		}
		if bridged && pm.HostPort == nil {
			zero := 0
			pm.HostPort = &zero
		}
	}
}

func (a *App) normalizeChecks() {
	hasPorts := a.PortCount() > 0
	for i := range a.HealthChecks {
		h := &a.HealthChecks[i]
		if h.Protocol == "" {
			h.Protocol = HealthHTTP
		}
		if h.IPProtocol == "" {
			h.IPProtocol = DefaultIPProtocol
		}
		if h.Protocol != HealthCommand && h.Port == nil && h.PortIndex == nil && hasPorts {
			zero := 0
			h.PortIndex = &zero
		}
		switch h.Protocol {
		case HealthHTTP, HealthHTTPS, HealthMesosHTTP, HealthMesosHTTPS:
			if h.Path == "" && h.Command == nil {
				h.Path = DefaultHealthPath
			}
		}
	}
	for i := range a.ReadinessChecks {
		if len(a.ReadinessChecks[i].HTTPStatusCodesForReady) == 0 {
			a.ReadinessChecks[i].HTTPStatusCodesForReady = DefaultHTTPStatusCodesForReady()
		}
	}
}

func (a *App) normalizeStrategies() {
	resident := a.IsResident()
	if resident && a.Residency == nil {
		r := defaultResidency()
		a.Residency = &r
	}
	if a.UpgradeStrategy == nil {
		u := DefaultUpgradeStrategy()
		if resident {
			u = residentUpgradeStrategy()
		}
		a.UpgradeStrategy = &u
	}
	if a.UnreachableStrategy == nil {
		u := DefaultUnreachableStrategy()
		u.Disabled = resident
		a.UnreachableStrategy = &u
	}
}

// migrateNetworks translates the deprecated ipAddress and
// container.docker.network into networks, as Marathon's
// NetworkTranslation. When networks are also given (which Validate
// rejects) they win.
func (a *App) migrateNetworks(bridge string) {
	dockerNetwork := ""
	if a.Container != nil && a.Container.Docker != nil {
		dockerNetwork = a.Container.Docker.Network
	}
	if len(a.Networks) > 0 || (a.IPAddress == nil && dockerNetwork == "") {
		return
	}
	var labels map[string]string
	name := ""
	if ip := a.IPAddress; ip != nil {
		labels, name = ip.Labels, ip.NetworkName
	}
	switch dockerNetwork {
	case DockerNetworkHost:
		a.Networks = []Network{{Mode: NetworkHost}}
	case DockerNetworkBridge:
		a.Networks = []Network{{Mode: NetworkBridge, Labels: labels}}
	case DockerNetworkUser:
		a.Networks = []Network{{Mode: NetworkContainer, Name: name, Labels: labels}}
	case "":
		if name == bridge {
			a.Networks = []Network{{Mode: NetworkBridge, Labels: labels}}
		} else {
			a.Networks = []Network{{Mode: NetworkContainer, Name: name, Labels: labels}}
		}
	}
	// NONE and unknown modes are left for Validate.
}

// isArchive reports whether the Mesos fetcher extracts uri, as Marathon's
// FetchUri.isExtract decides for the deprecated uris.
func isArchive(uri string) bool {
	for _, ext := range []string{".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"} {
		if strings.HasSuffix(uri, ext) {
			return true
		}
	}
	return false
}
