package framework

import (
	"time"

	"corral/marathon"
	"corral/mesos"
)

// instance is one launched task of an app: Marathon's instance with its
// single task. It is persisted when launched and whenever its state
// changes, and forgotten once terminal.
type instance struct {
	TaskID     string           `json:"taskId"`
	AppID      string           `json:"appId"`
	Version    string           `json:"version"`       // app version launched
	Config     string           `json:"configVersion"` // versionInfo.lastConfigChangeAt launched
	AgentID    string           `json:"agentId"`
	Host       string           `json:"host"`
	Attributes mesos.Attributes `json:"attributes,omitempty"`
	Ports      []int            `json:"ports"` // host ports, $PORT0…
	Service    []int            `json:"servicePorts"`
	StagedAt   time.Time        `json:"stagedAt"`
	StartedAt  time.Time        `json:"startedAt"`
	State      mesos.TaskState  `json:"state"`
	IPs        []string         `json:"ips,omitempty"`
	Killing    bool             `json:"killing,omitempty"` // asked to die; not replaced in place
	Wipe       bool             `json:"wipe,omitempty"`

	// Health, from the agent's checks. Written with the instance when the
	// verdict changes, as Marathon keeps a task's last Mesos status: a
	// restarted master then serves the last verdict, not none, until the
	// agents re-report, so routers that follow health keep their backends.
	// The figures of checks that did not change it ride along with the
	// next write.
	Healthy      *bool     `json:"healthy,omitempty"`
	Failures     int       `json:"consecutiveFailures,omitempty"`
	FirstSuccess time.Time `json:"firstSuccess,omitzero"`
	LastSuccess  time.Time `json:"lastSuccess,omitzero"`
	LastFailure  time.Time `json:"lastFailure,omitzero"`
	FailureCause string    `json:"lastFailureCause,omitempty"`
	KillSent     time.Time `json:"-"` // when the last KILL went out

	readiness []marathon.ReadinessCheckResult // nil until checks start
	seen      bool                            // a status arrived in this subscription
}

// instanceID is Marathon's instance ID for a task ID <app>.<uuid>.
func instanceID(taskID string) string {
	for i := len(taskID) - 1; i >= 0; i-- {
		if taskID[i] == '.' {
			return taskID[:i] + ".marathon-" + taskID[i+1:]
		}
	}
	return taskID
}

// alive reports whether the task may still run: launched and not ended.
func (in *instance) alive() bool { return !terminal(in.State) }

// active counts towards the app's instances: alive and not being killed.
func (in *instance) active() bool {
	return in.alive() && !in.Killing && in.State != mesos.TaskUnreachable
}

// running reports TASK_RUNNING.
func (in *instance) running() bool { return in.State == mesos.TaskRunning }

// healthyFor reports whether the instance counts as healthy capacity for
// app: running, ready, and healthy when the app has health checks.
func (in *instance) healthyFor(app *marathon.App) bool {
	if !in.running() {
		return false
	}
	if !in.ready(app) {
		return false
	}
	if app == nil || len(app.HealthChecks) == 0 {
		return true
	}
	return in.Healthy != nil && *in.Healthy
}

// terminal is Mesos's terminal states plus TASK_UNKNOWN, which a
// reconciliation answers for a task the cluster no longer has.
func terminal(s mesos.TaskState) bool { return s.Terminal() || s == mesos.TaskUnknown }

// task renders the instance as Marathon's task JSON.
func (in *instance) task(app *marathon.App) marathon.Task {
	t := marathon.Task{
		ID:           in.TaskID,
		AppID:        in.AppID,
		Host:         in.Host,
		Ports:        orEmpty(in.Ports),
		ServicePorts: orEmpty(in.Service),
		IPAddresses:  []marathon.IPAddress{},
		SlaveID:      in.AgentID,
		State:        string(in.State),
		StagedAt:     marathon.FormatTimestamp(in.StagedAt),
		Version:      in.Version,
		LocalVolumes: []marathon.LocalVolumeID{},
	}
	if !in.StartedAt.IsZero() {
		t.StartedAt = marathon.FormatTimestamp(in.StartedAt)
	}
	for _, ip := range in.IPs {
		t.IPAddresses = append(t.IPAddresses, marathon.IPAddress{IPAddress: ip, Protocol: ipProtocol(ip)})
	}
	if app != nil && len(app.HealthChecks) > 0 && in.Healthy != nil {
		t.HealthCheckResults = []marathon.HealthCheckResult{in.healthResult()}
	} else {
		t.HealthCheckResults = []marathon.HealthCheckResult{}
	}
	return t
}

func (in *instance) healthResult() marathon.HealthCheckResult {
	r := marathon.HealthCheckResult{
		Alive:               in.Healthy != nil && *in.Healthy,
		ConsecutiveFailures: in.Failures,
		LastFailureCause:    in.FailureCause,
		InstanceID:          instanceID(in.TaskID),
		TaskID:              in.TaskID,
	}
	r.FirstSuccess = stamp(in.FirstSuccess)
	r.LastSuccess = stamp(in.LastSuccess)
	r.LastFailure = stamp(in.LastFailure)
	return r
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return marathon.FormatTimestamp(t)
}

func ipProtocol(ip string) string {
	for i := 0; i < len(ip); i++ {
		if ip[i] == ':' {
			return "IPv6"
		}
	}
	return "IPv4"
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
