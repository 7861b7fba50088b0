package marathon

// The vocabulary of validation: the patterns of Marathon's RAML types, its
// messages and enumerations, and the helpers that phrase a rule the way
// Marathon's validators do, so that clients matching on them keep working.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
