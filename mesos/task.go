package mesos

// TaskState is a Mesos task state such as TASK_RUNNING.
type TaskState string

// Task states, as in Mesos's mesos.proto.
const (
	TaskStaging        TaskState = "TASK_STAGING"
	TaskStarting       TaskState = "TASK_STARTING"
	TaskRunning        TaskState = "TASK_RUNNING"
	TaskKilling        TaskState = "TASK_KILLING"
	TaskFinished       TaskState = "TASK_FINISHED"
	TaskFailed         TaskState = "TASK_FAILED"
	TaskKilled         TaskState = "TASK_KILLED"
	TaskError          TaskState = "TASK_ERROR"
	TaskLost           TaskState = "TASK_LOST"
	TaskDropped        TaskState = "TASK_DROPPED"
	TaskUnreachable    TaskState = "TASK_UNREACHABLE"
	TaskGone           TaskState = "TASK_GONE"
	TaskGoneByOperator TaskState = "TASK_GONE_BY_OPERATOR"
	TaskUnknown        TaskState = "TASK_UNKNOWN"
)

// Terminal reports whether no further state can follow s.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOperator:
		return true
	}
	return false
}

// Status update sources and reasons that Corral sets.
const (
	SourceMaster   = "SOURCE_MASTER"
	SourceAgent    = "SOURCE_AGENT"
	SourceExecutor = "SOURCE_EXECUTOR"

	ReasonReconciliation    = "REASON_RECONCILIATION"
	ReasonAgentRemoved      = "REASON_AGENT_REMOVED"
	ReasonAgentDisconnected = "REASON_AGENT_DISCONNECTED"
	ReasonAgentUnknown      = "REASON_AGENT_UNKNOWN"
	ReasonTaskUnknown       = "REASON_TASK_UNKNOWN"
	ReasonInvalidOffers     = "REASON_INVALID_OFFERS"
	ReasonTaskInvalid       = "REASON_TASK_INVALID"

	ReasonExecutorTerminated           = "REASON_EXECUTOR_TERMINATED"
	ReasonContainerLaunchFailed        = "REASON_CONTAINER_LAUNCH_FAILED"
	ReasonContainerLimitationMemory    = "REASON_CONTAINER_LIMITATION_MEMORY"
	ReasonCommandExecutorFailed        = "REASON_COMMAND_EXECUTOR_FAILED"
	ReasonTaskHealthCheckStatusUpdated = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
)

// CommandInfo is what a task runs.
type CommandInfo struct {
	Shell       *bool        `json:"shell,omitempty"` // default true: Value runs under /bin/sh -c
	Value       string       `json:"value,omitempty"`
	Arguments   []string     `json:"arguments,omitempty"`
	Environment []EnvVar     `json:"environment,omitempty"`
	URIs        []CommandURI `json:"uris,omitempty"`
	User        string       `json:"user,omitempty"`
}

// EnvVar is one environment variable of a command.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CommandURI is an artifact fetched into the sandbox before the task starts.
type CommandURI struct {
	Value      string `json:"value"`
	Executable bool   `json:"executable,omitempty"`
	Extract    bool   `json:"extract,omitempty"`
	Cache      bool   `json:"cache,omitempty"`
}

// Label is a key/value pair attached to tasks and ports.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Labels is Mesos's {"labels":[…]} wrapper.
type Labels struct {
	Labels []Label `json:"labels,omitempty"`
}

// DiscoveryInfo is the service-discovery data a framework attaches to a task;
// Mesos-DNS reads its ports for SRV records.
type DiscoveryInfo struct {
	Visibility string          `json:"visibility"`
	Name       string          `json:"name,omitempty"`
	Ports      *DiscoveryPorts `json:"ports,omitempty"`
	Labels     *Labels         `json:"labels,omitempty"`
}

// DiscoveryPorts wraps a list of named ports (Mesos's Ports message).
type DiscoveryPorts struct {
	Ports []Port `json:"ports"`
}

// Port is one discoverable port of a task.
type Port struct {
	Number   uint32  `json:"number"`
	Name     string  `json:"name,omitempty"`
	Protocol string  `json:"protocol,omitempty"`
	Labels   *Labels `json:"labels,omitempty"`
}

// KillPolicy says how long a task may take to stop after SIGTERM.
type KillPolicy struct {
	GracePeriodSeconds float64 `json:"grace_period_seconds,omitempty"`
}

// TaskInfo is what a framework asks an agent to run. Container, health-check
// and network details that the agent interprets travel in Container and
// HealthChecks in their JSON form, owned by the agent's packages.
type TaskInfo struct {
	Name        string         `json:"name"`
	TaskID      string         `json:"task_id"`
	AgentID     string         `json:"agent_id"`
	Resources   Resources      `json:"resources"`
	Command     *CommandInfo   `json:"command,omitempty"`
	Container   *ContainerInfo `json:"container,omitempty"`
	HealthCheck *HealthCheck   `json:"health_check,omitempty"`
	KillPolicy  *KillPolicy    `json:"kill_policy,omitempty"`
	Labels      *Labels        `json:"labels,omitempty"`
	Discovery   *DiscoveryInfo `json:"discovery,omitempty"`
}

// ContainerInfo describes a task's container: its image and networks.
type ContainerInfo struct {
	Type         string        `json:"type"` // MESOS or DOCKER
	Image        string        `json:"image,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// HealthCheck is a task health check run by the agent (Mesos HealthCheck
// semantics; Marathon's fields map onto it).
type HealthCheck struct {
	Type                string       `json:"type"` // HTTP, TCP or COMMAND
	DelaySeconds        float64      `json:"delay_seconds,omitempty"`
	IntervalSeconds     float64      `json:"interval_seconds,omitempty"`
	TimeoutSeconds      float64      `json:"timeout_seconds,omitempty"`
	ConsecutiveFailures uint32       `json:"consecutive_failures,omitempty"`
	GracePeriodSeconds  float64      `json:"grace_period_seconds,omitempty"`
	HTTPPath            string       `json:"http_path,omitempty"`
	Scheme              string       `json:"scheme,omitempty"` // HTTP checks: http (default) or https
	Port                uint32       `json:"port,omitempty"`
	Command             *CommandInfo `json:"command,omitempty"`
}

// NetworkInfo is one network a container joins and the addresses it got.
// A task names the networks it joins in its ContainerInfo (none: the host's
// network); the agent reports them back, with addresses, in the container
// status of TASK_RUNNING.
type NetworkInfo struct {
	Name         string        `json:"name,omitempty"`
	IPAddresses  []IPAddress   `json:"ip_addresses,omitempty"`
	Labels       *Labels       `json:"labels,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}

// PortMapping forwards a port of the agent to a port of the container on a
// container network (Mesos's NetworkInfo.PortMapping; Marathon's
// portMappings hostPort and containerPort).
type PortMapping struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"` // tcp (default) or udp
}

// IPAddress is one address of a container.
type IPAddress struct {
	Protocol  string `json:"protocol,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// ContainerStatus is what the agent reports of a running container.
type ContainerStatus struct {
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
	ExecutorPID  int           `json:"executor_pid,omitempty"`
}

// TaskStatus is one status update of a task. UUID is set on updates that the
// agent wants acknowledged; updates the master generates carry none.
type TaskStatus struct {
	TaskID          string           `json:"task_id"`
	AgentID         string           `json:"agent_id,omitempty"`
	State           TaskState        `json:"state"`
	Message         string           `json:"message,omitempty"`
	Source          string           `json:"source,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	UUID            string           `json:"uuid,omitempty"`
	Timestamp       float64          `json:"timestamp"`
	Healthy         *bool            `json:"healthy,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
}

// Task is a launched task as the agent and master track it.
type Task struct {
	Info        TaskInfo     `json:"info"`
	FrameworkID string       `json:"framework_id"`
	State       TaskState    `json:"state"`
	Statuses    []TaskStatus `json:"statuses,omitempty"`
}
