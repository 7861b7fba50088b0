package mesos

// The /master/state document, the fields Mesos-DNS, marathon-lb and other
// tools read from Mesos 1.x. Resources and attributes are rendered with
// Resources.StateJSON and Attributes.StateJSON; 64-bit integers are bare
// JSON numbers.

// MasterState is the body of /master/state and /master/state.json.
type MasterState struct {
	Version             string            `json:"version"`
	ID                  string            `json:"id"`
	PID                 string            `json:"pid"`
	Hostname            string            `json:"hostname"`
	StartTime           float64           `json:"start_time"`
	ElectedTime         float64           `json:"elected_time,omitempty"`
	Leader              string            `json:"leader,omitempty"`
	LeaderInfo          *MasterInfo       `json:"leader_info,omitempty"`
	ActivatedSlaves     int               `json:"activated_slaves"`
	DeactivatedSlaves   int               `json:"deactivated_slaves"`
	UnreachableSlaves   int               `json:"unreachable_slaves"`
	Flags               map[string]string `json:"flags"`
	Slaves              []StateAgent      `json:"slaves"`
	Frameworks          []StateFramework  `json:"frameworks"`
	CompletedFrameworks []StateFramework  `json:"completed_frameworks"`
	OrphanTasks         []StateTask       `json:"orphan_tasks"`
}

// MasterInfo identifies a master, as in leader_info.
type MasterInfo struct {
	ID       string  `json:"id"`
	PID      string  `json:"pid"`
	Port     int     `json:"port"`
	Hostname string  `json:"hostname"`
	IP       uint32  `json:"ip"` // IPv4 in network order read as little-endian, as Mesos does
	Address  Address `json:"address"`
}

// Address is a host, IP and port.
type Address struct {
	Hostname string `json:"hostname"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
}

// StateAgent is one entry of slaves[].
type StateAgent struct {
	ID                  string         `json:"id"`
	PID                 string         `json:"pid"`
	Hostname            string         `json:"hostname"`
	Port                int            `json:"port"`
	RegisteredTime      float64        `json:"registered_time"`
	ReregisteredTime    float64        `json:"reregistered_time,omitempty"`
	Resources           map[string]any `json:"resources"`
	UsedResources       map[string]any `json:"used_resources"`
	OfferedResources    map[string]any `json:"offered_resources"`
	UnreservedResources map[string]any `json:"unreserved_resources"`
	ReservedResources   map[string]any `json:"reserved_resources"`
	Attributes          map[string]any `json:"attributes"`
	Active              bool           `json:"active"`
	Version             string         `json:"version"`
}

// StateFramework is one entry of frameworks[].
type StateFramework struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	PID              string         `json:"pid,omitempty"`
	Hostname         string         `json:"hostname"`
	User             string         `json:"user"`
	Role             string         `json:"role"`
	Principal        string         `json:"principal,omitempty"`
	WebuiURL         string         `json:"webui_url"`
	Active           bool           `json:"active"`
	Connected        bool           `json:"connected"`
	Recovered        bool           `json:"recovered"`
	Checkpoint       bool           `json:"checkpoint"`
	FailoverTimeout  float64        `json:"failover_timeout"`
	RegisteredTime   float64        `json:"registered_time"`
	UsedResources    map[string]any `json:"used_resources"`
	OfferedResources map[string]any `json:"offered_resources"`
	Resources        map[string]any `json:"resources"`
	Tasks            []StateTask    `json:"tasks"`
	UnreachableTasks []StateTask    `json:"unreachable_tasks"`
	CompletedTasks   []StateTask    `json:"completed_tasks"`
	Offers           []StateOffer   `json:"offers"`
	Executors        []any          `json:"executors"`
}

// StateOffer is one outstanding offer of a framework.
type StateOffer struct {
	ID          string         `json:"id"`
	FrameworkID string         `json:"framework_id"`
	SlaveID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
}

// StateTask is one task of a framework.
type StateTask struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	ExecutorID  string         `json:"executor_id"`
	SlaveID     string         `json:"slave_id"`
	State       TaskState      `json:"state"`
	Resources   map[string]any `json:"resources"`
	Statuses    []TaskStatus   `json:"statuses"`
	Discovery   *DiscoveryInfo `json:"discovery,omitempty"`
	Labels      []Label        `json:"labels,omitempty"`
	Container   *ContainerInfo `json:"container,omitempty"`
}

// NewStateTask renders a task as /master/state and the agent's /state
// list it.
func NewStateTask(info TaskInfo, frameworkID string, state TaskState, statuses []TaskStatus) StateTask {
	st := StateTask{
		ID:          info.TaskID,
		Name:        info.Name,
		FrameworkID: frameworkID,
		SlaveID:     info.AgentID,
		State:       state,
		Resources:   info.Resources.StateJSON(),
		Statuses:    statuses,
		Discovery:   info.Discovery,
		Container:   info.Container,
	}
	if st.Statuses == nil {
		st.Statuses = []TaskStatus{}
	}
	if info.Labels != nil {
		st.Labels = info.Labels.Labels
	}
	return st
}

// The agent's /state lists its tasks as the Mesos agent does, by
// framework and executor; a command task is its own executor, whose
// directory is the task's sandbox (what /files serves).

// AgentStateFramework is one entry of frameworks[] or
// completed_frameworks[] of an agent's /state.
type AgentStateFramework struct {
	ID                 string               `json:"id"`
	Executors          []AgentStateExecutor `json:"executors"`
	CompletedExecutors []AgentStateExecutor `json:"completed_executors"`
}

// AgentStateExecutor is one executor of a framework on an agent.
type AgentStateExecutor struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Source         string         `json:"source"`
	Container      string         `json:"container"`
	Directory      string         `json:"directory"`
	Resources      map[string]any `json:"resources"`
	Tasks          []StateTask    `json:"tasks"`
	QueuedTasks    []StateTask    `json:"queued_tasks"`
	CompletedTasks []StateTask    `json:"completed_tasks"`
}
