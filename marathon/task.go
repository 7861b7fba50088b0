package marathon

import "encoding/json"

// Task is a task as /v2/tasks and /v2/apps/{id}/tasks list it. Ports are
// the host ports (or the container ports on a container network),
// ServicePorts the app's service ports in the same order.
type Task struct {
	ID                 string              `json:"id"`
	AppID              string              `json:"appId"`
	Host               string              `json:"host"`
	Ports              []int               `json:"ports"`
	ServicePorts       []int               `json:"servicePorts"`
	IPAddresses        []IPAddress         `json:"ipAddresses"`
	SlaveID            string              `json:"slaveId,omitempty"`
	State              string              `json:"state"`
	StagedAt           string              `json:"stagedAt,omitempty"`
	StartedAt          string              `json:"startedAt,omitempty"` // null until the task runs
	Version            string              `json:"version,omitempty"`
	HealthCheckResults []HealthCheckResult `json:"healthCheckResults"`
	LocalVolumes       []LocalVolumeID     `json:"localVolumes"`
	Region             string              `json:"region,omitempty"`
	Zone               string              `json:"zone,omitempty"`
	Role               string              `json:"role,omitempty"`
}

// MarshalJSON writes the lists as [] rather than null, and startedAt as
// null until the task has started, as Marathon 1.4 did.
func (t Task) MarshalJSON() ([]byte, error) {
	type alias Task
	v := struct {
		alias
		StartedAt *string `json:"startedAt"`
	}{alias: alias(t)}
	v.Ports = orEmpty(v.Ports)
	v.ServicePorts = orEmpty(v.ServicePorts)
	v.IPAddresses = orEmpty(v.IPAddresses)
	v.HealthCheckResults = orEmpty(v.HealthCheckResults)
	v.LocalVolumes = orEmpty(v.LocalVolumes)
	if t.StartedAt != "" {
		v.StartedAt = &t.StartedAt
	}
	return json.Marshal(v)
}

// IPAddress is one of a task's addresses.
type IPAddress struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol"` // IPv4 or IPv6
}

// HealthCheckResult is the state of one health check of one task. Marathon
// 1.4 identified the task by taskId, 1.5 and later by instanceId; Corral
// writes both.
type HealthCheckResult struct {
	Alive               bool   `json:"alive"`
	ConsecutiveFailures int    `json:"consecutiveFailures"`
	FirstSuccess        string `json:"firstSuccess,omitempty"`
	LastSuccess         string `json:"lastSuccess,omitempty"`
	LastFailure         string `json:"lastFailure,omitempty"`
	LastFailureCause    string `json:"lastFailureCause,omitempty"`
	InstanceID          string `json:"instanceId,omitempty"`
	TaskID              string `json:"taskId,omitempty"`
}

// LocalVolumeID names a task's local persistent volume.
type LocalVolumeID struct {
	RunSpecID     string `json:"runSpecId"`
	ContainerPath string `json:"containerPath"`
	UUID          string `json:"uuid"`
	PersistenceID string `json:"persistenceId"`
}

// TaskList is the body of GET /v2/tasks and /v2/apps/{id}/tasks.
type TaskList struct {
	Tasks []Task `json:"tasks"`
}

// MarshalJSON writes an empty list as [].
func (l TaskList) MarshalJSON() ([]byte, error) {
	type alias TaskList
	v := alias(l)
	v.Tasks = orEmpty(v.Tasks)
	return json.Marshal(v)
}

// TaskSingle is the body of GET /v2/apps/{id}/tasks/{taskId} and of a kill
// of one task.
type TaskSingle struct {
	Task Task `json:"task"`
}

// TaskIDs is the body of POST /v2/tasks/delete.
type TaskIDs struct {
	IDs []string `json:"ids"`
}

// Mesos task states, as tasks' state and status updates' taskStatus carry
// them.
const (
	TaskStaging     = "TASK_STAGING"
	TaskStarting    = "TASK_STARTING"
	TaskRunning     = "TASK_RUNNING"
	TaskKilling     = "TASK_KILLING"
	TaskFinished    = "TASK_FINISHED"
	TaskFailed      = "TASK_FAILED"
	TaskKilled      = "TASK_KILLED"
	TaskError       = "TASK_ERROR"
	TaskLost        = "TASK_LOST"
	TaskDropped     = "TASK_DROPPED"
	TaskUnreachable = "TASK_UNREACHABLE"
	TaskGone        = "TASK_GONE"
	TaskUnknown     = "TASK_UNKNOWN"
)
