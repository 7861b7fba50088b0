package mesos

// The scheduler (framework) interface follows the calls and events of the
// Mesos v1 scheduler HTTP API, so that in-process frameworks (Marathon) and a
// future HTTP endpoint speak the same records.

// FrameworkInfo describes a framework as it subscribes.
type FrameworkInfo struct {
	ID              string  `json:"id,omitempty"`
	Name            string  `json:"name"`
	User            string  `json:"user,omitempty"`
	Role            string  `json:"role,omitempty"`
	Hostname        string  `json:"hostname,omitempty"`
	Principal       string  `json:"principal,omitempty"`
	WebuiURL        string  `json:"webui_url,omitempty"`
	FailoverTimeout float64 `json:"failover_timeout,omitempty"`
	Checkpoint      bool    `json:"checkpoint,omitempty"`
}

// Offer is a set of an agent's resources offered to one framework.
type Offer struct {
	ID          string     `json:"id"`
	FrameworkID string     `json:"framework_id"`
	AgentID     string     `json:"agent_id"`
	Hostname    string     `json:"hostname"`
	Resources   Resources  `json:"resources"`
	Attributes  Attributes `json:"attributes,omitempty"`
}

// Filters accompany DECLINE and ACCEPT: how long the unused resources are
// withheld from the framework. Nil means the master's default (5 s).
type Filters struct {
	RefuseSeconds float64 `json:"refuse_seconds"`
}

// Scheduler call types.
const (
	CallSubscribe   = "SUBSCRIBE"
	CallTeardown    = "TEARDOWN"
	CallAccept      = "ACCEPT"
	CallDecline     = "DECLINE"
	CallRevive      = "REVIVE"
	CallSuppress    = "SUPPRESS"
	CallKill        = "KILL"
	CallAcknowledge = "ACKNOWLEDGE"
	CallReconcile   = "RECONCILE"
)

// Call is a call from a framework to the master.
type Call struct {
	FrameworkID string             `json:"framework_id,omitempty"`
	Type        string             `json:"type"`
	Subscribe   *CallSubscribeArgs `json:"subscribe,omitempty"`
	Accept      *CallAcceptArgs    `json:"accept,omitempty"`
	Decline     *CallDeclineArgs   `json:"decline,omitempty"`
	Kill        *CallKillArgs      `json:"kill,omitempty"`
	Acknowledge *CallAckArgs       `json:"acknowledge,omitempty"`
	Reconcile   *CallReconcileArgs `json:"reconcile,omitempty"`
}

// CallSubscribeArgs subscribes a framework; FrameworkInfo.ID is set when it
// fails over to a new master or restarts.
type CallSubscribeArgs struct {
	FrameworkInfo FrameworkInfo `json:"framework_info"`
}

// CallAcceptArgs accepts offers with LAUNCH operations.
type CallAcceptArgs struct {
	OfferIDs   []string    `json:"offer_ids"`
	Operations []Operation `json:"operations"`
	Filters    *Filters    `json:"filters,omitempty"`
}

// Operation is one offer operation; Corral implements LAUNCH.
type Operation struct {
	Type   string    `json:"type"`
	Launch *LaunchOp `json:"launch,omitempty"`
}

// LaunchOp launches tasks on the accepted offers' agent.
type LaunchOp struct {
	TaskInfos []TaskInfo `json:"task_infos"`
}

// CallDeclineArgs declines offers.
type CallDeclineArgs struct {
	OfferIDs []string `json:"offer_ids"`
	Filters  *Filters `json:"filters,omitempty"`
}

// CallKillArgs kills a task.
type CallKillArgs struct {
	TaskID     string      `json:"task_id"`
	AgentID    string      `json:"agent_id,omitempty"`
	KillPolicy *KillPolicy `json:"kill_policy,omitempty"`
}

// CallAckArgs acknowledges a status update by its UUID.
type CallAckArgs struct {
	AgentID string `json:"agent_id"`
	TaskID  string `json:"task_id"`
	UUID    string `json:"uuid"`
}

// CallReconcileArgs asks for the latest state of the listed tasks, or of all
// known tasks when the list is empty.
type CallReconcileArgs struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"`
}

// ReconcileTask names a task to reconcile.
type ReconcileTask struct {
	TaskID  string `json:"task_id"`
	AgentID string `json:"agent_id,omitempty"`
}

// Scheduler event types.
const (
	EventTypeSubscribed = "SUBSCRIBED"
	EventTypeOffers     = "OFFERS"
	EventTypeRescind    = "RESCIND"
	EventTypeUpdate     = "UPDATE"
	EventTypeFailure    = "FAILURE"
	EventTypeError      = "ERROR"
	EventTypeHeartbeat  = "HEARTBEAT"
)

// Event is an event from the master to a framework.
type Event struct {
	Type       string           `json:"type"`
	Subscribed *EventSubscribed `json:"subscribed,omitempty"`
	Offers     []Offer          `json:"offers,omitempty"`
	Rescind    *EventRescind    `json:"rescind,omitempty"`
	Update     *TaskStatus      `json:"update,omitempty"`
	Failure    *EventFailure    `json:"failure,omitempty"`
	Error      *EventError      `json:"error,omitempty"`
}

// EventSubscribed confirms a subscription with the framework's ID.
type EventSubscribed struct {
	FrameworkID              string  `json:"framework_id"`
	MasterID                 string  `json:"master_id"`
	HeartbeatIntervalSeconds float64 `json:"heartbeat_interval_seconds"`
}

// EventRescind withdraws an offer.
type EventRescind struct {
	OfferID string `json:"offer_id"`
}

// EventFailure reports a lost agent.
type EventFailure struct {
	AgentID string `json:"agent_id"`
}
