package marathon

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"corral/mesos"
)

// Patterns of Marathon's RAML string types, and messages in the form of
// Marathon's validators (wix accord's "got …, expected …", Marathon's
// "is not one of (…)" and "must fully match regular expression '…'").
const (
	portNamePattern    = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`        // strings.LegacyName
	networkNamePattern = `^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`       // strings.NetworkName
	executorPattern    = `^(//cmd)|(/?[^/]+(/[^/]+)*)|$`          // app.raml executor
	isValuePattern     = `^([0-9]+(\.[0-9]+)?|[a-zA-Z0-9_/.-]+)$` // Mesos scalar or text
)

var (
	portNameRE    = regexp.MustCompile(portNamePattern)
	networkNameRE = regexp.MustCompile(networkNamePattern)
	executorRE    = regexp.MustCompile(`^(?://cmd|/?[^/]+(?:/[^/]+)*|)$`)
	isValueRE     = regexp.MustCompile(isValuePattern)
)

// Marathon's validation messages.
const (
	msgCmdArgsContainer       = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
	msgNotRoot                = "must not be root"
	msgEmptyCmd               = "must not be an empty string"
	msgPortIndex              = "Health check port indices must address an element of the ports array or container port mappings."
	msgOneMesosCheck          = "AppDefinition can contain at most one Mesos health check"
	msgIPv6Checks             = "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks"
	msgCommandRequired        = "A command is required when using the COMMAND protocol"
	msgPortNamesUnique        = "Port names must be unique."
	msgPortsUnique            = "Ports must be unique."
	msgNetworkNameForHostPort = "networkNames must be a single item list when hostPort is specified and more than 1 container network is defined"
	msgDockerOneNetwork       = "may only specify a single container network when using the Docker container engine"
	msgHostNetNameLabels      = "Host networks may not have names or labels"
	msgBridgeNetName          = "Bridge networks may not have names"
	msgDuplicateNetworks      = "Duplicate networks are not allowed"
	msgNetworkCombination     = "May specify a single host network, single bridge network, or else 1-to-n container networks"
	msgNetworkNameRequired    = "Network name must be specified when container network is selected."
	msgPortMappingsOnHost     = "portMappings are not allowed with host-networking"
	msgPortDefinitionsOffHost = "portDefinitions are only allowed with host-networking"
	msgURISyntax              = "URI has invalid syntax."
	msgNotDefined             = "not defined"
	msgMustBeEmpty            = "must be empty"
	msgMustNotBeEmpty         = "must not be empty"
	msgSingleInstance         = "Single instance app may only have one instance"
	msgResidency              = "App must contain persistent volumes and define residency"
	msgResidentUnreachable    = "unreachableStrategy must be disabled for resident tasks"
	msgGPUDocker              = "GPU resources only work with the Mesos containerizer"
	msgPullConfigDocker       = "pullConfig is not supported with Docker containerizer"
	msgPullConfigSecret       = "pullConfig.secret must refer to an existing secret"
	msgVolumeSecret           = "volume.secret must refer to an existing secret"

	// the deprecated API
	msgDockerNetworkAndNetworks = "must not specify both container.docker.network and networks"
	msgIPAddressAndNetworks     = "must not specify both networks and ipAddress"
	msgLegacyPortsUnique        = "ports must be unique"
	msgIPAddressAndPorts        = "cannot specify both an IP address and port"
	msgPortsAndDefinitions      = "cannot specify both ports and port definitions"
	msgURIsAndFetch             = "may not be set in conjunction with fetch"
	msgDiscoveryDocker          = "ipAddress/discovery is not allowed for Docker containers"
	msgBothPortMappings         = "cannot specify both portMappings and docker.portMappings"
	msgDiscoveryAndPortMappings = "container.portMappings and ipAddress.discovery.ports must not both be set"

	// constraints
	msgConstraintArity    = "Each constraint must have either 2 or 3 fields"
	msgConstraintField    = "Missing field and operator"
	msgConstraintOperator = "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
	msgUniqueValue        = "Value specified but not used"
	msgGroupByValue       = "Value was specified but is not a number"
	msgMaxPerValue        = "Value was not specified or is not a number"
	msgRegexRequired      = "A regular expression value must be provided"
	msgIsValue            = "IS requires a value: a Mesos scalar or text"
)

// Enumerations, in the order Marathon's messages list them.
var (
	healthProtocols   = []string{HealthHTTP, HealthHTTPS, HealthTCP, HealthCommand, HealthMesosHTTP, HealthMesosHTTPS, HealthMesosTCP}
	portProtocols     = []string{ProtocolTCP, ProtocolUDP, ProtocolUDPTCP}
	networkModes      = []string{NetworkContainer, NetworkBridge, NetworkHost}
	engines           = []string{EngineMesos, EngineDocker}
	dockerNetworks    = []string{DockerNetworkBridge, DockerNetworkHost, DockerNetworkNone, DockerNetworkUser}
	killSelections    = []string{KillYoungestFirst, KillOldestFirst}
	ipProtocols       = []string{"IPv4", "IPv6"}
	readinessSchemes  = []string{HealthHTTP, HealthHTTPS}
	volumeModes       = []string{"RO", "RW"}
	constraintOps     = []string{"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"}
	taskLostBehaviors = []string{"WAIT_FOREVER", "RELAUNCH_AFTER_TIMEOUT"}
)

func notOneOf(options []string) string {
	return "is not one of (" + strings.Join(options, ",") + ")"
}

func mustMatch(pattern string) string { return "must fully match regular expression '" + pattern + "'" }

// num writes a float as Scala writes a Double: 1.0, 0.001, -3.5.
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEIN") {
		s += ".0"
	}
	return s
}

func atLeast[T int | int64](d *details, path string, got, min T) {
	if got < min {
		d.add(path, fmt.Sprintf("got %d, expected %d or more", got, min))
	}
}

func atLeastF(d *details, path string, got, min float64) {
	if got < min {
		d.add(path, fmt.Sprintf("got %s, expected %s or more", num(got), num(min)))
	}
}

func betweenF(d *details, path string, got, lo, hi float64) {
	if got < lo || got > hi {
		d.add(path, fmt.Sprintf("got %s, expected between %s and %s", num(got), num(lo), num(hi)))
	}
}

func between(d *details, path string, got, lo, hi int) {
	if got < lo || got > hi {
		d.add(path, fmt.Sprintf("got %d, expected between %d and %d", got, lo, hi))
	}
}

func port(d *details, path string, p int) { between(d, path, p, 0, 65535) }

func enum(d *details, path, v string, options []string) {
	if !slices.Contains(options, v) {
		d.add(path, notOneOf(options))
	}
}

func idx(path string, i int) string { return fmt.Sprintf("%s(%d)", path, i) }

// Validate checks the app against Marathon's rules and returns the
// violations grouped by path, or nil. It expects an app that went through
// ApplyDefaults, as ParseApp does, but also reports conflicts in the
// deprecated API that ApplyDefaults would paper over. Container networks
// must be named (see ValidateWith).
func (a *App) Validate() []ErrorDetail { return a.ValidateWith(Options{}) }

// ValidateWith is Validate with operator settings: with a
// DefaultNetworkName, container networks may be unnamed.
func (a *App) ValidateWith(o Options) []ErrorDetail {
	var d details
	a.validateDeprecated(&d)
	a.validateID(&d)
	a.validateCommand(&d)
	a.validateResources(&d)
	a.validatePorts(&d)
	a.validateNetworks(&d, o)
	a.validateContainer(&d)
	a.validateHealthChecks(&d)
	a.validateReadinessChecks(&d)
	a.validateArtifacts(&d)
	a.validateEnv(&d)
	a.validateLabels(&d)
	a.validateConstraints(&d)
	a.validateScheduling(&d)
	return d.list
}

// validateDeprecated applies Marathon's validateOldAppAPI and the checks
// its migration of the deprecated API makes.
func (a *App) validateDeprecated(d *details) {
	c := a.Container
	var docker *Docker
	if c != nil {
		docker = c.Docker
	}
	if docker != nil && docker.Network != "" {
		if len(a.Networks) > 0 {
			d.add("/", msgDockerNetworkAndNetworks)
		}
		enum(d, "/container/docker/network", docker.Network, dockerNetworks)
		if docker.Network == DockerNetworkNone {
			d.add("/container/docker/network", "unsupported docker network type "+DockerNetworkNone)
		}
	}
	if a.IPAddress != nil {
		if len(a.Networks) > 0 {
			d.add("/", msgIPAddressAndNetworks)
		}
		if len(a.Ports) > 0 || len(a.PortDefinitions) > 0 {
			d.add("/", msgIPAddressAndPorts)
		}
		if disc := a.IPAddress.Discovery; disc != nil {
			if c != nil && c.Type == EngineDocker {
				d.add("/ipAddress", msgDiscoveryDocker)
			}
			if len(disc.Ports) > 0 && c != nil && c.Type == EngineMesos && c.PortMappings != nil {
				d.add("/container", msgDiscoveryAndPortMappings)
			}
			for i, p := range disc.Ports {
				path := idx("/ipAddress/discovery/ports", i)
				port(d, path+"/number", p.Number)
				if !portNameRE.MatchString(p.Name) {
					d.add(path+"/name", mustMatch(portNamePattern))
				}
				enum(d, path+"/protocol", p.Protocol, portProtocols)
			}
		}
	}
	var nonZero []int
	for i, p := range a.Ports {
		port(d, idx("/ports", i), p)
		if p != 0 {
			nonZero = append(nonZero, p)
		}
	}
	if hasDuplicates(nonZero) {
		d.add("/", msgLegacyPortsUnique)
	}
	if len(a.Ports) > 0 && len(a.PortDefinitions) > 0 {
		same := len(a.Ports) == len(a.PortDefinitions)
		for i := 0; same && i < len(a.Ports); i++ {
			same = a.Ports[i] == a.PortDefinitions[i].Port
		}
		if !same {
			d.add("/", msgPortsAndDefinitions)
		}
	}
	for i, u := range a.URIs {
		checkURI(d, idx("/uris", i), u)
	}
	if len(a.URIs) > 0 && len(a.Fetch) > 0 {
		d.add("/uris", msgURIsAndFetch)
	}
	if docker != nil {
		if len(docker.Credential) > 0 && string(docker.Credential) != "null" {
			d.add("/container/docker/credential", msgMustBeEmpty)
		}
		if c.Type == EngineMesos {
			if docker.Network != "" {
				d.add("/container/docker/network", msgMustBeEmpty)
			}
			if len(docker.Parameters) > 0 {
				d.add("/container/docker/parameters", msgMustBeEmpty)
			}
			if len(docker.PortMappings) > 0 {
				d.add("/container/docker/portMappings", msgMustBeEmpty)
			}
		}
		if len(docker.PortMappings) > 0 && c.PortMappings != nil {
			d.add("/container", msgBothPortMappings)
		}
		validatePortMappings(d, "/container/docker/portMappings", docker.PortMappings, nil)
	}
}

func (a *App) validateID(d *details) {
	validateID("/id", a.ID, d)
	if n := len(a.ID); n > MaxIDLength {
		d.add("/id", fmt.Sprintf("got %d characters, expected %d or less", n, MaxIDLength))
	}
	if IsRootID(a.ID) {
		d.add("/", msgNotRoot)
	}
	for i, dep := range a.Dependencies {
		path := idx("/dependencies", i)
		segs, absolute := splitID(dep)
		if len(segs) > 0 && !absolute {
			d.add(path, msgIDRelative)
		}
		checkSegments(path, segs, d)
	}
}

func (a *App) validateCommand(d *details) {
	cmd, args := a.Cmd != "", len(a.Args) > 0
	container := false
	if c := a.Container; c != nil && c.Docker != nil {
		container = c.Type == EngineDocker || c.Type == EngineMesos
	}
	if !((cmd != args) || (!(cmd && args) && container)) {
		d.add("/", msgCmdArgsContainer)
	}
	if !executorRE.MatchString(a.Executor) {
		d.add("/executor", mustMatch(executorPattern))
	}
}

func (a *App) validateResources(d *details) {
	atLeastF(d, "/cpus", a.Cpus, 0.001)
	atLeastF(d, "/mem", a.Mem, 0)
	atLeastF(d, "/disk", a.Disk, 0)
	atLeast(d, "/gpus", a.Gpus, 0)
	atLeast(d, "/instances", a.Instances, 0)
	atLeast(d, "/backoffSeconds", a.BackoffSeconds, 0)
	atLeastF(d, "/backoffFactor", a.BackoffFactor, 1)
	atLeast(d, "/maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds, 0)
	if a.TaskKillGracePeriodSeconds != nil {
		atLeast(d, "/taskKillGracePeriodSeconds", *a.TaskKillGracePeriodSeconds, 0)
	}
	if a.Gpus > 0 && a.Container != nil && a.Container.Type == EngineDocker {
		d.add("/", msgGPUDocker)
	}
}

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

func (a *App) validateHealthChecks(d *details) {
	ports := a.PortCount()
	mesosChecks, commandChecks := 0, 0
	docker := a.Container != nil && a.Container.Type == EngineDocker
	for i, h := range a.HealthChecks {
		path := idx("/healthChecks", i)
		enum(d, path+"/protocol", h.Protocol, healthProtocols)
		enum(d, path+"/ipProtocol", h.IPProtocol, ipProtocols)
		atLeast(d, path+"/gracePeriodSeconds", h.GracePeriodSeconds, 0)
		atLeast(d, path+"/intervalSeconds", h.IntervalSeconds, 0)
		atLeast(d, path+"/timeoutSeconds", h.TimeoutSeconds, 0)
		atLeast(d, path+"/maxConsecutiveFailures", h.MaxConsecutiveFailures, 0)
		atLeast(d, path+"/delaySeconds", h.DelaySeconds, 0)
		if h.Port != nil {
			port(d, path+"/port", *h.Port)
		}
		if h.PortIndex != nil {
			port(d, path+"/portIndex", *h.PortIndex)
		}
		if h.Protocol == HealthCommand && (h.Command == nil || h.Command.Value == "") {
			d.add(path+"/command", msgCommandRequired)
		}
		if h.probesPort() {
			ok := false
			switch {
			case h.PortIndex != nil:
				ok = *h.PortIndex >= 0 && *h.PortIndex < ports
			default:
				ok = h.Port != nil || ports == 1
			}
			if !ok {
				d.add(path, msgPortIndex)
			}
		}
		switch {
		case h.Command != nil:
			commandChecks++
			mesosChecks++
		case h.Protocol == HealthCommand || h.Protocol == HealthMesosHTTP || h.Protocol == HealthMesosHTTPS || h.Protocol == HealthMesosTCP:
			mesosChecks++
		}
		mesosHTTP := h.Protocol == HealthMesosHTTP || h.Protocol == HealthMesosHTTPS || h.Protocol == HealthMesosTCP
		if h.IPProtocol == "IPv6" && !(mesosHTTP && docker) {
			d.add(path, msgIPv6Checks)
		}
	}
	// Marathon once allowed several command checks and keeps accepting them.
	if mesosChecks-commandChecks > 1 {
		d.add("/", msgOneMesosCheck)
	}
}

// probesPort reports whether the check probes one of the task's ports, so
// that its portIndex must address one: every HTTP, HTTPS and TCP check,
// Marathon's and Mesos's alike (Marathon's HealthCheckWithPort), but no
// command check.
func (h HealthCheck) probesPort() bool {
	if h.Command != nil {
		return false
	}
	switch h.Protocol {
	case HealthHTTP, HealthHTTPS, HealthTCP, HealthMesosHTTP, HealthMesosHTTPS, HealthMesosTCP:
		return true
	}
	return false
}

func (a *App) validateReadinessChecks(d *details) {
	if n := len(a.ReadinessChecks); n > 1 {
		d.add("/readinessChecks", fmt.Sprintf("got %d, expected 1 or less", n))
	}
	names := a.PortNames()
	for i, r := range a.ReadinessChecks {
		path := idx("/readinessChecks", i)
		if r.Name == "" {
			d.add(path+"/name", msgMustNotBeEmpty)
		}
		enum(d, path+"/protocol", r.Protocol, readinessSchemes)
		if r.Path == "" {
			d.add(path+"/path", msgMustNotBeEmpty)
		}
		if !slices.Contains(names, r.PortName) {
			d.add(path+"/portName", "No port definition reference for portName "+r.PortName)
		}
		atLeast(d, path+"/intervalSeconds", r.IntervalSeconds, 0)
		atLeast(d, path+"/timeoutSeconds", r.TimeoutSeconds, 1)
		if r.TimeoutSeconds >= r.IntervalSeconds {
			d.add(path+"/timeoutSeconds", fmt.Sprintf("got %d, expected less than %d", r.TimeoutSeconds, r.IntervalSeconds))
		}
		for j, code := range r.HTTPStatusCodesForReady {
			between(d, idx(path+"/httpStatusCodesForReady", j), code, 100, 999)
		}
	}
}

func (a *App) validateArtifacts(d *details) {
	for i, f := range a.Fetch {
		checkURI(d, idx("/fetch", i)+"/uri", f.URI)
	}
	for i, u := range a.StoreURLs {
		if p, err := url.Parse(u); err != nil || p.Scheme == "" {
			d.add(idx("/storeUrls", i), "no protocol: "+u)
		}
	}
}

func checkURI(d *details, path, u string) {
	if u == "" {
		d.add(path, msgMustNotBeEmpty)
		return
	}
	if _, err := url.Parse(u); err != nil {
		d.add(path, msgURISyntax)
	}
}

func (a *App) validateEnv(d *details) {
	for _, name := range sortedKeys(a.Env) {
		if s := a.Env[name].Secret; s != "" {
			if _, ok := a.Secrets[s]; !ok {
				d.add("/env/"+name, fmt.Sprintf("references an undefined secret named '%s'", s))
			}
		}
	}
	for _, name := range sortedKeys(a.Secrets) {
		if a.Secrets[name].Source == "" {
			d.add("/secrets/"+name+"/source", msgMustNotBeEmpty)
		}
	}
}

// validateLabels checks the labels Corral's agents act on.
func (a *App) validateLabels(d *details) {
	if v, ok := a.Labels[mesos.LabelSeccomp]; ok {
		enum(d, "/labels/"+mesos.LabelSeccomp, v, mesos.SeccompValues)
	}
}

func (a *App) validateConstraints(d *details) {
	for i, c := range a.Constraints {
		if msg := constraintError(c); msg != "" {
			d.add(idx("/constraints", i), msg)
		}
	}
}

// constraintError applies Marathon's rules for [field, operator, value?],
// with the reference's documented semantics where Marathon versions
// differed: CLUSTER's value is optional, and an empty value counts as none.
func constraintError(c []string) string {
	if len(c) < 2 || len(c) > 3 {
		return msgConstraintArity
	}
	if c[0] == "" {
		return msgConstraintField
	}
	value := ""
	if len(c) == 3 {
		value = c[2]
	}
	switch c[1] {
	case "UNIQUE":
		if value != "" {
			return msgUniqueValue
		}
	case "CLUSTER":
	case "GROUP_BY":
		if value != "" && !isInt32(value) {
			return msgGroupByValue
		}
	case "MAX_PER":
		if !isInt32(value) {
			return msgMaxPerValue
		}
	case "LIKE", "UNLIKE":
		if value == "" {
			return msgRegexRequired
		}
		if _, err := regexp.Compile(value); err != nil {
			return fmt.Sprintf("'%s' is not a valid regular expression", value)
		}
	case "IS":
		if !isValueRE.MatchString(value) {
			return msgIsValue
		}
	default:
		return msgConstraintOperator
	}
	return ""
}

func isInt32(s string) bool {
	_, err := strconv.ParseInt(s, 10, 32)
	return err == nil
}

func (a *App) validateScheduling(d *details) {
	enum(d, "/killSelection", a.KillSelection, killSelections)
	if a.AcceptedResourceRoles != nil {
		if len(a.AcceptedResourceRoles) == 0 {
			d.add("/acceptedResourceRoles", msgMustNotBeEmpty)
		}
		for i, r := range a.AcceptedResourceRoles {
			if !validRole(r) {
				d.add(idx("/acceptedResourceRoles", i), fmt.Sprintf("invalid role %q, must be * or a Mesos role name", r))
			}
		}
	}
	resident := a.IsResident()
	if u := a.UpgradeStrategy; u != nil {
		betweenF(d, "/upgradeStrategy/minimumHealthCapacity", u.MinimumHealthCapacity, 0, 1)
		betweenF(d, "/upgradeStrategy/maximumOverCapacity", u.MaximumOverCapacity, 0, 1)
		if a.IsSingleInstance() {
			if u.MinimumHealthCapacity != 0 {
				d.add("/upgradeStrategy/minimumHealthCapacity", fmt.Sprintf("got %s, expected 0.0", num(u.MinimumHealthCapacity)))
			}
			if u.MaximumOverCapacity != 0 {
				d.add("/upgradeStrategy/maximumOverCapacity", fmt.Sprintf("got %s, expected 0.0", num(u.MaximumOverCapacity)))
			}
		}
		if resident && u.MaximumOverCapacity != 0 {
			d.add("/upgradeStrategy/maximumOverCapacity", fmt.Sprintf("got %s, expected 0.0", num(u.MaximumOverCapacity)))
		}
	}
	if a.IsSingleInstance() && a.Instances > 1 {
		d.add("/", msgSingleInstance)
	}
	if u := a.UnreachableStrategy; u != nil {
		if resident && !u.Disabled {
			d.add("/", msgResidentUnreachable)
		}
		if !u.Disabled {
			const path = "/unreachableStrategy/inactiveAfterSeconds"
			switch {
			case u.InactiveAfterSeconds < 0:
				d.add(path, fmt.Sprintf("inactiveAfterSeconds (%d) must be greater than or equal to 0", u.InactiveAfterSeconds))
			case u.InactiveAfterSeconds > u.ExpungeAfterSeconds:
				d.add(path, fmt.Sprintf("inactiveAfterSeconds (%d) must be less or equal to expungeAfterSeconds, which is %d", u.InactiveAfterSeconds, u.ExpungeAfterSeconds))
			}
			atLeast(d, "/unreachableStrategy/expungeAfterSeconds", u.ExpungeAfterSeconds, 0)
		}
	}
	if (a.Residency != nil) != resident {
		d.add("/", msgResidency)
	}
	if r := a.Residency; r != nil {
		atLeast(d, "/residency/relaunchEscalationTimeoutSeconds", r.RelaunchEscalationTimeoutSeconds, 0)
		enum(d, "/residency/taskLostBehavior", r.TaskLostBehavior, taskLostBehaviors)
	}
	if a.Version != "" {
		if _, err := ParseTimestamp(a.Version); err != nil {
			d.add("/version", "must be an ISO 8601 date-time such as 2015-09-30T09:09:17.614Z")
		}
	}
}

// validRole accepts "*" and Mesos role names: not empty, ".", ".." or
// starting with "-", and without "/" or whitespace.
func validRole(r string) bool {
	if r == "*" {
		return true
	}
	if r == "" || r == "." || r == ".." || strings.HasPrefix(r, "-") {
		return false
	}
	return !strings.ContainsAny(r, "/ \t\n\r\f\v")
}

func hasDuplicates[T comparable](s []T) bool {
	seen := make(map[T]bool, len(s))
	for _, v := range s {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
