package mesos

// The agent protocol: agentd dials the master, never the other way round.
//
//	POST /api/v1/agent  {"type":"SUBSCRIBE","subscribe":{…}}
//	  → 200, Content-Type: application/recordio, header Mesos-Stream-Id,
//	    a stream of AgentEvent records (SUBSCRIBED first).
//	POST /api/v1/agent  {"type":"UPDATE"|"HEARTBEAT", "agent_id":…}
//	  with header Mesos-Stream-Id → 202 Accepted.
//
// A standby master answers 307 with Location //leader:port/api/v1/agent, or
// 503 when no leader is elected. A malformed call gets 400 with the reason.

// AgentAPIPath is where masterd serves the agent protocol.
const AgentAPIPath = "/api/v1/agent"

// StreamIDHeader names the stream a call belongs to, as in Mesos's v1 APIs.
const StreamIDHeader = "Mesos-Stream-Id"

// AgentInfo describes an agent as it registers.
type AgentInfo struct {
	ID         string     `json:"id,omitempty"`
	Hostname   string     `json:"hostname"`
	IP         string     `json:"ip,omitempty"` // advertised address; the master uses the peer's if empty
	Port       int        `json:"port"`
	Resources  Resources  `json:"resources"`
	Attributes Attributes `json:"attributes,omitempty"`
	BootID     string     `json:"boot_id,omitempty"`
	Version    string     `json:"version,omitempty"`
}

// AgentCall types.
const (
	AgentCallSubscribe = "SUBSCRIBE"
	AgentCallUpdate    = "UPDATE"
	AgentCallHeartbeat = "HEARTBEAT"
)

// AgentCall is a call from an agent to the master.
type AgentCall struct {
	Type      string          `json:"type"`
	AgentID   string          `json:"agent_id,omitempty"`
	Subscribe *AgentSubscribe `json:"subscribe,omitempty"`
	Update    *AgentUpdate    `json:"update,omitempty"`
}

// AgentSubscribe registers (AgentInfo.ID empty) or re-registers an agent.
// On re-registration the agent lists the tasks it runs, so that a newly
// elected master rebuilds its view of them.
type AgentSubscribe struct {
	AgentInfo AgentInfo `json:"agent_info"`
	Tasks     []Task    `json:"tasks,omitempty"`
}

// AgentUpdate carries one task status update; its UUID is acknowledged by an
// ACKNOWLEDGE event once the framework has processed it.
type AgentUpdate struct {
	FrameworkID string     `json:"framework_id"`
	Status      TaskStatus `json:"status"`
}

// AgentEvent types.
const (
	AgentEventSubscribed  = "SUBSCRIBED"
	AgentEventLaunch      = "LAUNCH"
	AgentEventKill        = "KILL"
	AgentEventAcknowledge = "ACKNOWLEDGE"
	AgentEventHeartbeat   = "HEARTBEAT"
	AgentEventError       = "ERROR"
)

// AgentEvent is an event from the master to an agent.
type AgentEvent struct {
	Type        string            `json:"type"`
	Subscribed  *AgentSubscribed  `json:"subscribed,omitempty"`
	Launch      *AgentLaunch      `json:"launch,omitempty"`
	Kill        *AgentKill        `json:"kill,omitempty"`
	Acknowledge *AgentAcknowledge `json:"acknowledge,omitempty"`
	Error       *EventError       `json:"error,omitempty"`
}

// AgentSubscribed confirms a (re-)registration.
type AgentSubscribed struct {
	AgentID                  string  `json:"agent_id"`
	MasterID                 string  `json:"master_id"`
	HeartbeatIntervalSeconds float64 `json:"heartbeat_interval_seconds"`
}

// AgentLaunch asks the agent to run a task.
type AgentLaunch struct {
	FrameworkID string   `json:"framework_id"`
	Task        TaskInfo `json:"task"`
}

// AgentKill asks the agent to kill a task.
type AgentKill struct {
	FrameworkID string      `json:"framework_id"`
	TaskID      string      `json:"task_id"`
	KillPolicy  *KillPolicy `json:"kill_policy,omitempty"`
}

// AgentAcknowledge tells the agent that a status update was processed.
// A task is identified by its framework and task IDs (two frameworks may
// use the same task ID); an agent matches an acknowledgement without a
// framework ID (from an older master) by the update's UUID.
type AgentAcknowledge struct {
	FrameworkID string `json:"framework_id,omitempty"`
	TaskID      string `json:"task_id"`
	UUID        string `json:"uuid"`
}

// EventError carries a message on an ERROR event.
type EventError struct {
	Message string `json:"message"`
}
