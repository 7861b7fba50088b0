package marathon

import (
	"encoding/json"
	"fmt"
)

// App is a Marathon app definition (AppDefinition, raml App), as POSTed to
// /v2/apps and returned by it. Scalar fields whose Marathon default is not
// the zero value get their default while decoding, so a decoded App holds
// what the client sent or Marathon's default; apps built in Go should start
// from NewApp. Slices and pointers distinguish "not given" (nil) from
// "given empty" where Marathon does (portDefinitions, portMappings,
// hostPort, portIndex, taskKillGracePeriodSeconds).
type App struct {
	ID   string   `json:"id"`
	Cmd  string   `json:"cmd,omitempty"`
	Args []string `json:"args,omitempty"`
	User string   `json:"user,omitempty"`
	Env  Env      `json:"env"`

	Instances int     `json:"instances"`
	Cpus      float64 `json:"cpus"`
	Mem       float64 `json:"mem"`
	Disk      float64 `json:"disk"`
	Gpus      int     `json:"gpus"`
	Executor  string  `json:"executor"`

	Constraints           [][]string `json:"constraints"`
	AcceptedResourceRoles []string   `json:"acceptedResourceRoles,omitempty"`
	Role                  string     `json:"role,omitempty"`

	Fetch     []Artifact `json:"fetch"`
	URIs      []string   `json:"uris,omitempty"` // deprecated: fetch
	StoreURLs []string   `json:"storeUrls,omitempty"`

	// Ports is the deprecated list of port numbers. On input ApplyDefaults
	// moves it into PortDefinitions; on output it carries the app's service
	// ports (from portDefinitions, or from portMappings off host networks),
	// as Marathon 1.4 wrote it, unless an unnormalised app still holds it.
	Ports           []int            `json:"ports"`
	PortDefinitions []PortDefinition `json:"portDefinitions"`
	RequirePorts    bool             `json:"requirePorts"`
	Networks        []Network        `json:"networks"`
	IPAddress       *LegacyIPAddress `json:"ipAddress,omitempty"` // deprecated: networks
	Container       *Container       `json:"container,omitempty"`

	HealthChecks    []HealthCheck     `json:"healthChecks"`
	ReadinessChecks []ReadinessCheck  `json:"readinessChecks"`
	Dependencies    []string          `json:"dependencies"`
	Labels          map[string]string `json:"labels"`
	Secrets         map[string]Secret `json:"secrets,omitempty"`

	BackoffSeconds             int                  `json:"backoffSeconds"`
	BackoffFactor              float64              `json:"backoffFactor"`
	MaxLaunchDelaySeconds      int                  `json:"maxLaunchDelaySeconds"`
	TaskKillGracePeriodSeconds *int                 `json:"taskKillGracePeriodSeconds,omitempty"`
	UpgradeStrategy            *UpgradeStrategy     `json:"upgradeStrategy,omitempty"`
	UnreachableStrategy        *UnreachableStrategy `json:"unreachableStrategy,omitempty"`
	KillSelection              string               `json:"killSelection"`
	Residency                  *Residency           `json:"residency,omitempty"`
	TTY                        *bool                `json:"tty,omitempty"`

	Version     string       `json:"version,omitempty"`
	VersionInfo *VersionInfo `json:"versionInfo,omitempty"`
}

// Env holds an app's environment: plain values and references to secrets.
type Env map[string]EnvValue

// EnvValue is an environment variable's value: a string, or a reference to
// one of the app's secrets, written {"secret": "name"}.
type EnvValue struct {
	Value  string
	Secret string // the name of an entry of App.Secrets; Value is unused
}

// MarshalJSON writes a string, or {"secret": …} for a secret reference.
func (v EnvValue) MarshalJSON() ([]byte, error) {
	if v.Secret != "" {
		return json.Marshal(struct {
			Secret string `json:"secret"`
		}{v.Secret})
	}
	return json.Marshal(v.Value)
}

// UnmarshalJSON reads a string or {"secret": "name"}.
func (v *EnvValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var ref struct {
			Secret *string `json:"secret"`
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			return err
		}
		if ref.Secret == nil {
			return fmt.Errorf("environment variable object without a secret")
		}
		*v = EnvValue{Secret: *ref.Secret}
		return nil
	}
	*v = EnvValue{}
	return json.Unmarshal(b, &v.Value)
}

// Secret declares one of an app's secrets.
type Secret struct {
	Source string `json:"source"`
}

// Artifact is one entry of fetch: a URI the agent fetches into the sandbox.
type Artifact struct {
	URI        string `json:"uri"`
	Extract    bool   `json:"extract"` // default true
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	DestPath   string `json:"destPath,omitempty"`
}

// UnmarshalJSON applies the RAML default extract: true.
func (a *Artifact) UnmarshalJSON(b []byte) error {
	type alias Artifact
	v := alias{Extract: true}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Artifact(v)
	return nil
}

// Port protocols.
const (
	ProtocolTCP    = "tcp"
	ProtocolUDP    = "udp"
	ProtocolUDPTCP = "udp,tcp"
)

// PortDefinition is a port of a host-networked app: with requirePorts the
// host port, otherwise the service port (0: assign one).
type PortDefinition struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels"`
}

// MarshalJSON writes labels as {} when there are none.
func (p PortDefinition) MarshalJSON() ([]byte, error) {
	type alias PortDefinition
	v := alias(p)
	v.Labels = orEmptyMap(v.Labels)
	return json.Marshal(v)
}

// UnmarshalJSON applies the default protocol tcp.
func (p *PortDefinition) UnmarshalJSON(b []byte) error {
	type alias PortDefinition
	v := alias{Protocol: ProtocolTCP}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PortDefinition(v)
	return nil
}

// UpgradeStrategy bounds a rolling upgrade: the fraction of instances that
// must stay healthy and the fraction that may be launched on top.
type UpgradeStrategy struct {
	MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
}

// UnmarshalJSON fills a missing field with 1, the default of both.
func (u *UpgradeStrategy) UnmarshalJSON(b []byte) error {
	type alias UpgradeStrategy
	v := alias{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*u = UpgradeStrategy(v)
	return nil
}

// UnreachableStrategy says when an unreachable instance is replaced
// (inactiveAfterSeconds) and forgotten (expungeAfterSeconds). Disabled is
// written as the string "disabled".
type UnreachableStrategy struct {
	Disabled             bool
	InactiveAfterSeconds int64
	ExpungeAfterSeconds  int64
}

// UnreachableDisabledValue is the JSON string of a disabled strategy.
const UnreachableDisabledValue = "disabled"

// MarshalJSON writes "disabled" or the object.
func (u UnreachableStrategy) MarshalJSON() ([]byte, error) {
	if u.Disabled {
		return json.Marshal(UnreachableDisabledValue)
	}
	return json.Marshal(struct {
		InactiveAfterSeconds int64 `json:"inactiveAfterSeconds"`
		ExpungeAfterSeconds  int64 `json:"expungeAfterSeconds"`
	}{u.InactiveAfterSeconds, u.ExpungeAfterSeconds})
}

// UnmarshalJSON reads "disabled" or {"inactiveAfterSeconds", "expungeAfterSeconds"}
// (each 0 when missing).
func (u *UnreachableStrategy) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != UnreachableDisabledValue {
			return fmt.Errorf("unreachableStrategy %q, must be %q or an object", s, UnreachableDisabledValue)
		}
		*u = UnreachableStrategy{Disabled: true}
		return nil
	}
	var v struct {
		InactiveAfterSeconds int64 `json:"inactiveAfterSeconds"`
		ExpungeAfterSeconds  int64 `json:"expungeAfterSeconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*u = UnreachableStrategy{InactiveAfterSeconds: v.InactiveAfterSeconds, ExpungeAfterSeconds: v.ExpungeAfterSeconds}
	return nil
}

// Residency is the deprecated (and ignored) handling of resident tasks;
// Marathon still requires it exactly when an app has persistent volumes.
type Residency struct {
	RelaunchEscalationTimeoutSeconds int64  `json:"relaunchEscalationTimeoutSeconds"`
	TaskLostBehavior                 string `json:"taskLostBehavior"`
}

// UnmarshalJSON applies the RAML defaults 3600 and WAIT_FOREVER.
func (r *Residency) UnmarshalJSON(b []byte) error {
	type alias Residency
	v := alias(defaultResidency())
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Residency(v)
	return nil
}

// VersionInfo says when an app last changed, and when its configuration
// (anything but scale or restart) last changed.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

// Kill selections.
const (
	KillYoungestFirst = "YOUNGEST_FIRST"
	KillOldestFirst   = "OLDEST_FIRST"
)

// MarshalJSON writes the app with every collection clients index without
// checking present: env, labels, constraints, fetch, healthChecks,
// readinessChecks, dependencies, portDefinitions, ports and networks are
// {} or [] rather than null, and ports carries the service ports.
func (a App) MarshalJSON() ([]byte, error) {
	type alias App
	v := struct {
		alias
		Env             Env               `json:"env"`
		Constraints     [][]string        `json:"constraints"`
		Fetch           []Artifact        `json:"fetch"`
		Ports           []int             `json:"ports"`
		PortDefinitions []PortDefinition  `json:"portDefinitions"`
		Networks        []Network         `json:"networks"`
		HealthChecks    []HealthCheck     `json:"healthChecks"`
		ReadinessChecks []ReadinessCheck  `json:"readinessChecks"`
		Dependencies    []string          `json:"dependencies"`
		Labels          map[string]string `json:"labels"`
	}{
		alias:           alias(a),
		Env:             orEmptyMap(a.Env),
		Fetch:           orEmpty(a.Fetch),
		Ports:           a.Ports,
		PortDefinitions: orEmpty(a.PortDefinitions),
		Networks:        orEmpty(a.Networks),
		HealthChecks:    orEmpty(a.HealthChecks),
		ReadinessChecks: orEmpty(a.ReadinessChecks),
		Dependencies:    orEmpty(a.Dependencies),
		Labels:          orEmptyMap(a.Labels),
	}
	v.Constraints = make([][]string, len(a.Constraints))
	for i, c := range a.Constraints {
		v.Constraints[i] = orEmpty(c)
	}
	if v.Ports == nil {
		v.Ports = orEmpty(a.ServicePorts())
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes an app, applying Marathon's defaults to the fields
// the JSON leaves out. It checks JSON types only as far as encoding/json
// does; ParseApp reports type errors as Marathon does.
func (a *App) UnmarshalJSON(b []byte) error {
	type alias App
	v := alias(NewApp(""))
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = App(v)
	return nil
}

// HasNonHostNetworks reports whether the app joins a container or bridge
// network (and so declares its ports as portMappings).
func (a *App) HasNonHostNetworks() bool {
	for _, n := range a.Networks {
		if n.Mode != NetworkHost {
			return true
		}
	}
	return false
}

// HasBridgeNetwork reports whether the app joins the container/bridge network.
func (a *App) HasBridgeNetwork() bool {
	for _, n := range a.Networks {
		if n.Mode == NetworkBridge {
			return true
		}
	}
	return false
}

// ServicePorts lists the app's service ports in port order: the ports of
// its portDefinitions on host networking, the servicePorts of its
// portMappings otherwise. Apps read from a Marathon that still writes the
// deprecated fields need ApplyDefaults first.
func (a *App) ServicePorts() []int {
	if a.HasNonHostNetworks() {
		if a.Container == nil {
			return nil
		}
		out := make([]int, len(a.Container.PortMappings))
		for i, pm := range a.Container.PortMappings {
			out[i] = pm.ServicePort
		}
		return out
	}
	if a.PortDefinitions == nil {
		return nil
	}
	out := make([]int, len(a.PortDefinitions))
	for i, pd := range a.PortDefinitions {
		out[i] = pd.Port
	}
	return out
}

// PortCount is how many ports the app declares, the range of a health
// check's portIndex: its port mappings when it has any, else its port
// definitions (or deprecated ports).
func (a *App) PortCount() int {
	if a.Container != nil && len(a.Container.PortMappings) > 0 {
		return len(a.Container.PortMappings)
	}
	if a.PortDefinitions != nil {
		return len(a.PortDefinitions)
	}
	return len(a.Ports)
}

// PortNames lists the names of the app's ports, for readiness checks.
func (a *App) PortNames() []string {
	var out []string
	if a.Container != nil && a.Container.PortMappings != nil {
		for _, pm := range a.Container.PortMappings {
			if pm.Name != "" {
				out = append(out, pm.Name)
			}
		}
		return out
	}
	for _, pd := range a.PortDefinitions {
		if pd.Name != "" {
			out = append(out, pd.Name)
		}
	}
	return out
}

// IsResident reports whether the app has local persistent volumes.
func (a *App) IsResident() bool {
	if a.Container == nil {
		return false
	}
	for _, v := range a.Container.Volumes {
		if v.Persistent != nil {
			return true
		}
	}
	return false
}

// LabelSingleInstance marks an app that may run at most one instance.
const LabelSingleInstance = "MARATHON_SINGLE_INSTANCE_APP"

// IsSingleInstance reports whether the app carries
// MARATHON_SINGLE_INSTANCE_APP=true.
func (a *App) IsSingleInstance() bool { return a.Labels[LabelSingleInstance] == "true" }
