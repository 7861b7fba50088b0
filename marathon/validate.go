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
