package marathon

import "encoding/json"

// Health check protocols. HTTP, HTTPS and TCP checks are Marathon-level
// (run by the scheduler); the others are Mesos-level (run on the agent).
const (
	HealthHTTP       = "HTTP"
	HealthHTTPS      = "HTTPS"
	HealthTCP        = "TCP"
	HealthCommand    = "COMMAND"
	HealthMesosHTTP  = "MESOS_HTTP"
	HealthMesosHTTPS = "MESOS_HTTPS"
	HealthMesosTCP   = "MESOS_TCP"
)

// HealthCheck is one of an app's health checks. PortIndex and Port are nil
// when not given; ApplyDefaults sets PortIndex 0 when neither is.
type HealthCheck struct {
	Protocol               string        `json:"protocol"`
	Path                   string        `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	Port                   *int          `json:"port,omitempty"`
	Command                *CommandCheck `json:"command,omitempty"`
	GracePeriodSeconds     int           `json:"gracePeriodSeconds"`
	IntervalSeconds        int           `json:"intervalSeconds"`
	TimeoutSeconds         int           `json:"timeoutSeconds"`
	MaxConsecutiveFailures int           `json:"maxConsecutiveFailures"`
	DelaySeconds           int           `json:"delaySeconds"`
	IgnoreHTTP1xx          bool          `json:"ignoreHttp1xx"`
	IPProtocol             string        `json:"ipProtocol"`
}

// CommandCheck is the shell command of a COMMAND health check.
type CommandCheck struct {
	Value string `json:"value"`
}

// UnmarshalJSON applies the defaults of Marathon's RAML and health check
// documentation: HTTP, grace period 300 s, interval 60 s, timeout 20 s,
// 3 consecutive failures, delay 15 s, IPv4.
func (h *HealthCheck) UnmarshalJSON(b []byte) error {
	type alias HealthCheck
	v := alias(defaultHealthCheck())
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*h = HealthCheck(v)
	return nil
}

// IsMarathonLevel reports whether Marathon itself (not the agent) runs the
// check: HTTP, HTTPS and TCP without a command.
func (h HealthCheck) IsMarathonLevel() bool {
	if h.Command != nil {
		return false
	}
	switch h.Protocol {
	case HealthHTTP, HealthHTTPS, HealthTCP:
		return true
	}
	return false
}

// ReadinessCheck is an app's readiness check, queried during deployments.
type ReadinessCheck struct {
	Name                    string `json:"name"`
	Protocol                string `json:"protocol"`
	Path                    string `json:"path"`
	PortName                string `json:"portName"`
	IntervalSeconds         int    `json:"intervalSeconds"`
	TimeoutSeconds          int    `json:"timeoutSeconds"`
	HTTPStatusCodesForReady []int  `json:"httpStatusCodesForReady"`
	PreserveLastResponse    bool   `json:"preserveLastResponse"`
}

// UnmarshalJSON applies the RAML defaults.
func (r *ReadinessCheck) UnmarshalJSON(b []byte) error {
	type alias ReadinessCheck
	v := alias{Name: "readinessCheck", Protocol: HealthHTTP, Path: "/", PortName: "http-api", IntervalSeconds: 30, TimeoutSeconds: 10}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = ReadinessCheck(v)
	return nil
}
