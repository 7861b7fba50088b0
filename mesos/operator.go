package mesos

// The master's operator API, a subset of Mesos 1.x's v1 operator HTTP API
// (include/mesos/v1/master/master.proto) in its JSON form:
//
//	POST /api/v1  {"type":"GET_STATE"}  → 200 {"type":"GET_STATE","get_state":{…}}
//	POST /api/v1  {"type":"SUBSCRIBE"}  → 200, a RecordIO stream of
//	    OperatorEvent records: SUBSCRIBED (the whole state) first, then
//	    TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
//	    FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED and HEARTBEAT.
//
// Field names are those of the protobuf messages; IDs are {"value":…}
// objects and times {"nanoseconds":…}, as Mesos encodes them. The V1 types
// mirror messages of mesos/v1/mesos.proto whose Corral counterparts in this
// package use a flatter form (TaskStatus.TaskID is a string, for instance).

// OperatorAPIPath is where masters serve the operator API.
const OperatorAPIPath = "/api/v1"

// Operator call types Corral's master answers.
const (
	OperatorCallSubscribe     = "SUBSCRIBE"
	OperatorCallGetState      = "GET_STATE"
	OperatorCallGetTasks      = "GET_TASKS"
	OperatorCallGetAgents     = "GET_AGENTS"
	OperatorCallGetFrameworks = "GET_FRAMEWORKS"
	OperatorCallGetExecutors  = "GET_EXECUTORS"
	OperatorCallGetHealth     = "GET_HEALTH"
	OperatorCallGetVersion    = "GET_VERSION"
	OperatorCallGetMaster     = "GET_MASTER"
)

// Operator event types.
const (
	OperatorEventSubscribed       = "SUBSCRIBED"
	OperatorEventTaskAdded        = "TASK_ADDED"
	OperatorEventTaskUpdated      = "TASK_UPDATED"
	OperatorEventAgentAdded       = "AGENT_ADDED"
	OperatorEventAgentRemoved     = "AGENT_REMOVED"
	OperatorEventFrameworkAdded   = "FRAMEWORK_ADDED"
	OperatorEventFrameworkUpdated = "FRAMEWORK_UPDATED"
	OperatorEventFrameworkRemoved = "FRAMEWORK_REMOVED"
	OperatorEventHeartbeat        = "HEARTBEAT"
)

// OperatorHeartbeatInterval is how often, in seconds, a master sends
// HEARTBEAT on an operator stream (Mesos's DEFAULT_HEARTBEAT_INTERVAL).
const OperatorHeartbeatInterval = 15.0

// OperatorCall is a call to the master's operator API. Calls that take
// arguments are not supported, so only the type is decoded.
type OperatorCall struct {
	Type string `json:"type"`
}

// OperatorResponse answers a synchronous operator call; one field, named
// after the call type, is set.
type OperatorResponse struct {
	Type          string         `json:"type"`
	GetHealth     *GetHealth     `json:"get_health,omitempty"`
	GetVersion    *GetVersion    `json:"get_version,omitempty"`
	GetState      *GetState      `json:"get_state,omitempty"`
	GetTasks      *GetTasks      `json:"get_tasks,omitempty"`
	GetAgents     *GetAgents     `json:"get_agents,omitempty"`
	GetFrameworks *GetFrameworks `json:"get_frameworks,omitempty"`
	GetExecutors  *GetExecutors  `json:"get_executors,omitempty"`
	GetMaster     *GetMaster     `json:"get_master,omitempty"`
}

// GetHealth is Response.GetHealth.
type GetHealth struct {
	Healthy bool `json:"healthy"`
}

// GetVersion is Response.GetVersion.
type GetVersion struct {
	VersionInfo VersionInfo `json:"version_info"`
}

// VersionInfo is the master's version.
type VersionInfo struct {
	Version string `json:"version"`
}

// GetMaster is Response.GetMaster.
type GetMaster struct {
	MasterInfo  *MasterInfo `json:"master_info,omitempty"`
	StartTime   float64     `json:"start_time,omitempty"`
	ElectedTime float64     `json:"elected_time,omitempty"`
}

// GetState is the whole cluster: Response.GetState.
type GetState struct {
	GetTasks      GetTasks      `json:"get_tasks"`
	GetExecutors  GetExecutors  `json:"get_executors"`
	GetFrameworks GetFrameworks `json:"get_frameworks"`
	GetAgents     GetAgents     `json:"get_agents"`
}

// GetTasks is Response.GetTasks. Completed tasks are the most recent ones
// the master keeps per framework.
type GetTasks struct {
	PendingTasks     []V1Task `json:"pending_tasks,omitempty"`
	Tasks            []V1Task `json:"tasks"`
	UnreachableTasks []V1Task `json:"unreachable_tasks,omitempty"`
	CompletedTasks   []V1Task `json:"completed_tasks,omitempty"`
	OrphanTasks      []V1Task `json:"orphan_tasks,omitempty"`
}

// GetExecutors is Response.GetExecutors. Corral runs tasks without custom
// executors, so the list is empty; it exists for clients that expect it.
type GetExecutors struct {
	Executors []V1Executor `json:"executors,omitempty"`
}

// V1Executor is Response.GetExecutors.Executor.
type V1Executor struct {
	ExecutorInfo map[string]any `json:"executor_info"`
	AgentID      V1ID           `json:"agent_id"`
}

// GetFrameworks is Response.GetFrameworks.
type GetFrameworks struct {
	Frameworks          []OperatorFramework `json:"frameworks"`
	CompletedFrameworks []OperatorFramework `json:"completed_frameworks,omitempty"`
}

// OperatorFramework is Response.GetFrameworks.Framework.
type OperatorFramework struct {
	FrameworkInfo      V1FrameworkInfo `json:"framework_info"`
	Active             bool            `json:"active"`
	Connected          bool            `json:"connected"`
	Recovered          bool            `json:"recovered"`
	RegisteredTime     *TimeInfo       `json:"registered_time,omitempty"`
	ReregisteredTime   *TimeInfo       `json:"reregistered_time,omitempty"`
	AllocatedResources []V1Resource    `json:"allocated_resources,omitempty"`
	OfferedResources   []V1Resource    `json:"offered_resources,omitempty"`
}

// V1FrameworkInfo is mesos.v1.FrameworkInfo.
type V1FrameworkInfo struct {
	User            string  `json:"user"`
	Name            string  `json:"name"`
	ID              *V1ID   `json:"id,omitempty"`
	FailoverTimeout float64 `json:"failover_timeout,omitempty"`
	Checkpoint      bool    `json:"checkpoint,omitempty"`
	Role            string  `json:"role,omitempty"`
	Hostname        string  `json:"hostname,omitempty"`
	Principal       string  `json:"principal,omitempty"`
	WebuiURL        string  `json:"webui_url,omitempty"`
}

// GetAgents is Response.GetAgents.
type GetAgents struct {
	Agents []OperatorAgent `json:"agents"`
}

// OperatorAgent is Response.GetAgents.Agent.
type OperatorAgent struct {
	AgentInfo          V1AgentInfo  `json:"agent_info"`
	Active             bool         `json:"active"`
	Deactivated        bool         `json:"deactivated"`
	Version            string       `json:"version,omitempty"`
	PID                string       `json:"pid,omitempty"`
	RegisteredTime     *TimeInfo    `json:"registered_time,omitempty"`
	ReregisteredTime   *TimeInfo    `json:"reregistered_time,omitempty"`
	TotalResources     []V1Resource `json:"total_resources,omitempty"`
	AllocatedResources []V1Resource `json:"allocated_resources,omitempty"`
	OfferedResources   []V1Resource `json:"offered_resources,omitempty"`
}

// V1AgentInfo is mesos.v1.AgentInfo.
type V1AgentInfo struct {
	Hostname   string        `json:"hostname"`
	Port       int           `json:"port,omitempty"`
	Resources  []V1Resource  `json:"resources,omitempty"`
	Attributes []V1Attribute `json:"attributes,omitempty"`
	ID         *V1ID         `json:"id,omitempty"`
}

// V1Attribute is mesos.v1.Attribute: a TEXT or SCALAR value (RANGES and
// SET attributes are kept as Ranges and Set for decoding real masters).
type V1Attribute struct {
	Name   string     `json:"name"`
	Type   string     `json:"type"`
	Scalar *V1Scalar  `json:"scalar,omitempty"`
	Text   *V1Text    `json:"text,omitempty"`
	Ranges *V1Ranges  `json:"ranges,omitempty"`
	Set    *V1SetItem `json:"set,omitempty"`
}

// V1Resource is mesos.v1.Resource. Unlike Resources' own decoder, a list
// of V1Resource takes any type a real master sends, SET included.
type V1Resource struct {
	Name   string     `json:"name"`
	Type   string     `json:"type"`
	Role   string     `json:"role,omitempty"`
	Scalar *V1Scalar  `json:"scalar,omitempty"`
	Ranges *V1Ranges  `json:"ranges,omitempty"`
	Set    *V1SetItem `json:"set,omitempty"`
}

// V1Scalar is Value.Scalar.
type V1Scalar struct {
	Value float64 `json:"value"`
}

// V1Text is Value.Text.
type V1Text struct {
	Value string `json:"value"`
}

// V1Ranges is Value.Ranges.
type V1Ranges struct {
	Range []Range `json:"range"`
}

// V1SetItem is Value.Set.
type V1SetItem struct {
	Item []string `json:"item"`
}

// V1ID is any of Mesos's ID messages (TaskID, AgentID, FrameworkID…).
type V1ID struct {
	Value string `json:"value"`
}

// TimeInfo is a point in time in nanoseconds since the epoch.
type TimeInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// V1Task is mesos.v1.Task as the master tracks it.
type V1Task struct {
	Name              string           `json:"name"`
	TaskID            V1ID             `json:"task_id"`
	FrameworkID       V1ID             `json:"framework_id"`
	ExecutorID        *V1ID            `json:"executor_id,omitempty"`
	AgentID           V1ID             `json:"agent_id"`
	State             TaskState        `json:"state"`
	Resources         []V1Resource     `json:"resources"`
	Statuses          []V1TaskStatus   `json:"statuses"`
	StatusUpdateState TaskState        `json:"status_update_state,omitempty"`
	Labels            *Labels          `json:"labels,omitempty"`
	Discovery         *DiscoveryInfo   `json:"discovery,omitempty"`
	Container         *V1ContainerInfo `json:"container,omitempty"`
}

// V1TaskStatus is mesos.v1.TaskStatus.
type V1TaskStatus struct {
	TaskID          V1ID             `json:"task_id"`
	State           TaskState        `json:"state"`
	Message         string           `json:"message,omitempty"`
	Source          string           `json:"source,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	AgentID         *V1ID            `json:"agent_id,omitempty"`
	ExecutorID      *V1ID            `json:"executor_id,omitempty"`
	Timestamp       float64          `json:"timestamp,omitempty"`
	UUID            string           `json:"uuid,omitempty"`
	Healthy         *bool            `json:"healthy,omitempty"`
	Labels          *Labels          `json:"labels,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
}

// V1ContainerInfo is mesos.v1.ContainerInfo: the container's type, its
// image (under docker for DOCKER, under mesos.image for MESOS) and networks.
type V1ContainerInfo struct {
	Type         string        `json:"type"`
	Docker       *V1DockerInfo `json:"docker,omitempty"`
	Mesos        *V1MesosInfo  `json:"mesos,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// V1DockerInfo is ContainerInfo.DockerInfo.
type V1DockerInfo struct {
	Image string `json:"image"`
}

// V1MesosInfo is ContainerInfo.MesosInfo.
type V1MesosInfo struct {
	Image *V1Image `json:"image,omitempty"`
}

// V1Image is mesos.v1.Image of type DOCKER.
type V1Image struct {
	Type   string           `json:"type"`
	Docker *V1ImageDockerID `json:"docker,omitempty"`
}

// V1ImageDockerID is Image.Docker.
type V1ImageDockerID struct {
	Name string `json:"name"`
}

// OperatorEvent is one record of a SUBSCRIBE stream; one field, named after
// the type, is set (none for HEARTBEAT).
type OperatorEvent struct {
	Type             string                   `json:"type"`
	Subscribed       *OperatorSubscribed      `json:"subscribed,omitempty"`
	TaskAdded        *OperatorTaskAdded       `json:"task_added,omitempty"`
	TaskUpdated      *OperatorTaskUpdated     `json:"task_updated,omitempty"`
	AgentAdded       *OperatorAgentAdded      `json:"agent_added,omitempty"`
	AgentRemoved     *OperatorAgentRemoved    `json:"agent_removed,omitempty"`
	FrameworkAdded   *OperatorFrameworkEvent  `json:"framework_added,omitempty"`
	FrameworkUpdated *OperatorFrameworkEvent  `json:"framework_updated,omitempty"`
	FrameworkRemoved *OperatorFrameworkRemove `json:"framework_removed,omitempty"`
}

// OperatorSubscribed is Event.Subscribed: the state the events that follow
// apply to.
type OperatorSubscribed struct {
	GetState                 GetState `json:"get_state"`
	HeartbeatIntervalSeconds float64  `json:"heartbeat_interval_seconds,omitempty"`
}

// OperatorTaskAdded is Event.TaskAdded.
type OperatorTaskAdded struct {
	Task V1Task `json:"task"`
}

// OperatorTaskUpdated is Event.TaskUpdated: the task's latest status and
// state. Corral's master also sends it when only the task's health
// changed. TaskID, AgentID and ExecutorID are not in master.proto; they are
// read (never written) for masters that sent the older form the Mesos docs
// show.
type OperatorTaskUpdated struct {
	FrameworkID V1ID         `json:"framework_id"`
	Status      V1TaskStatus `json:"status"`
	State       TaskState    `json:"state"`
	TaskID      *V1ID        `json:"task_id,omitempty"`
	AgentID     *V1ID        `json:"agent_id,omitempty"`
}

// OperatorAgentAdded is Event.AgentAdded.
type OperatorAgentAdded struct {
	Agent OperatorAgent `json:"agent"`
}

// OperatorAgentRemoved is Event.AgentRemoved.
type OperatorAgentRemoved struct {
	AgentID V1ID `json:"agent_id"`
}

// OperatorFrameworkEvent is Event.FrameworkAdded and Event.FrameworkUpdated.
type OperatorFrameworkEvent struct {
	Framework OperatorFramework `json:"framework"`
}

// OperatorFrameworkRemove is Event.FrameworkRemoved.
type OperatorFrameworkRemove struct {
	FrameworkInfo V1FrameworkInfo `json:"framework_info"`
}
