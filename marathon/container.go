package marathon

import "encoding/json"

// PortMapping maps a container port to a host port (nil: none on container
// networks; 0: any, the default on the bridge) and a service port.
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      *int              `json:"hostPort,omitempty"`
	ServicePort   int               `json:"servicePort"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels"`
	NetworkNames  []string          `json:"networkNames,omitempty"`
}

// MarshalJSON writes labels as {} when there are none.
func (p PortMapping) MarshalJSON() ([]byte, error) {
	type alias PortMapping
	v := alias(p)
	v.Labels = orEmptyMap(v.Labels)
	return json.Marshal(v)
}

// UnmarshalJSON applies the default protocol tcp.
func (p *PortMapping) UnmarshalJSON(b []byte) error {
	type alias PortMapping
	v := alias{Protocol: ProtocolTCP}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PortMapping(v)
	return nil
}

// Network modes.
const (
	NetworkHost      = "host"
	NetworkBridge    = "container/bridge"
	NetworkContainer = "container"
)

// Network is one network an app joins. Mode defaults to container.
type Network struct {
	Name   string            `json:"name,omitempty"`
	Mode   string            `json:"mode"`
	Labels map[string]string `json:"labels,omitempty"`
}

// UnmarshalJSON applies the RAML default mode "container".
func (n *Network) UnmarshalJSON(b []byte) error {
	type alias Network
	v := alias{Mode: NetworkContainer}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Network(v)
	return nil
}

// Container engines.
const (
	EngineDocker = "DOCKER"
	EngineMesos  = "MESOS"
)

// Container is an app's container: its engine (DOCKER by default), image and
// port mappings.
type Container struct {
	Type         string          `json:"type"`
	Docker       *Docker         `json:"docker,omitempty"`
	PortMappings []PortMapping   `json:"portMappings,omitempty"`
	Volumes      []Volume        `json:"volumes"`
	LinuxInfo    json.RawMessage `json:"linuxInfo,omitempty"`
}

// MarshalJSON writes volumes as [] when there are none and portMappings
// whenever they are set, even empty (which means "no ports").
func (c Container) MarshalJSON() ([]byte, error) {
	type alias Container
	v := struct {
		alias
		PortMappings []PortMapping `json:"portMappings,omitempty"`
	}{alias: alias(c)}
	v.Volumes = orEmpty(v.Volumes)
	b, err := json.Marshal(v)
	if err != nil || c.PortMappings == nil {
		return b, err
	}
	var m members
	m.add("portMappings", c.PortMappings)
	extra, err := m.bytes()
	if err != nil {
		return nil, err
	}
	return mergeObjects(b, extra), nil
}

// UnmarshalJSON applies the RAML default type DOCKER.
func (c *Container) UnmarshalJSON(b []byte) error {
	type alias Container
	v := alias{Type: EngineDocker}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Container(v)
	return nil
}

// Docker names the image of a container. Network and PortMappings are the
// deprecated pre-1.5 networking API; ApplyDefaults migrates them.
type Docker struct {
	Image          string            `json:"image"`
	ForcePullImage bool              `json:"forcePullImage"`
	Privileged     bool              `json:"privileged"`
	Parameters     []DockerParameter `json:"parameters"`
	Network        string            `json:"network,omitempty"`      // deprecated: App.Networks
	PortMappings   []PortMapping     `json:"portMappings,omitempty"` // deprecated: Container.PortMappings
	Credential     json.RawMessage   `json:"credential,omitempty"`
	PullConfig     *PullConfig       `json:"pullConfig,omitempty"`
}

// MarshalJSON writes parameters as [] when there are none.
func (d Docker) MarshalJSON() ([]byte, error) {
	type alias Docker
	v := alias(d)
	v.Parameters = orEmpty(v.Parameters)
	return json.Marshal(v)
}

// DockerParameter is a docker run option, key without the leading dashes.
type DockerParameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PullConfig names a secret holding a Docker config.json.
type PullConfig struct {
	Secret string `json:"secret"`
}

// Docker network modes of the deprecated container.docker.network.
const (
	DockerNetworkBridge = "BRIDGE"
	DockerNetworkHost   = "HOST"
	DockerNetworkUser   = "USER"
	DockerNetworkNone   = "NONE"
)

// Volume is a container volume: a host path, a local persistent volume, an
// external volume (kept as given) or a secret.
type Volume struct {
	ContainerPath string            `json:"containerPath"`
	HostPath      string            `json:"hostPath,omitempty"`
	Mode          string            `json:"mode,omitempty"`
	Persistent    *PersistentVolume `json:"persistent,omitempty"`
	External      json.RawMessage   `json:"external,omitempty"`
	Secret        string            `json:"secret,omitempty"`
}

// PersistentVolume is a local persistent volume's request.
type PersistentVolume struct {
	Type        string     `json:"type,omitempty"`
	Size        int64      `json:"size"`
	MaxSize     int64      `json:"maxSize,omitempty"`
	ProfileName string     `json:"profileName,omitempty"`
	Constraints [][]string `json:"constraints,omitempty"`
}

// LegacyIPAddress is the deprecated ipAddress field (IP per task), which
// ApplyDefaults migrates to networks and port mappings.
type LegacyIPAddress struct {
	Discovery   *IPDiscovery      `json:"discovery,omitempty"`
	Groups      []string          `json:"groups,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	NetworkName string            `json:"networkName,omitempty"`
}

// IPDiscovery lists the ports of a deprecated ipAddress.
type IPDiscovery struct {
	Ports []IPDiscoveryPort `json:"ports,omitempty"`
}

// IPDiscoveryPort is a container port of a deprecated ipAddress.
type IPDiscoveryPort struct {
	Number   int               `json:"number"`
	Name     string            `json:"name"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// UnmarshalJSON applies the default protocol tcp.
func (p *IPDiscoveryPort) UnmarshalJSON(b []byte) error {
	type alias IPDiscoveryPort
	v := alias{Protocol: ProtocolTCP}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = IPDiscoveryPort(v)
	return nil
}
