package marathon

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types of /v2/events. Each is also the SSE event name.
const (
	EventStatusUpdate              = "status_update_event"
	EventInstanceChanged           = "instance_changed_event"
	EventUnknownInstanceTerminated = "unknown_instance_terminated_event"
	EventHealthStatusChanged       = "health_status_changed_event"
	EventInstanceHealthChanged     = "instance_health_changed_event"
	EventFailedHealthCheck         = "failed_health_check_event"
	EventAddHealthCheck            = "add_health_check_event"
	EventRemoveHealthCheck         = "remove_health_check_event"
	EventUnhealthyTaskKill         = "unhealthy_task_kill_event"
	EventUnhealthyInstanceKill     = "unhealthy_instance_kill_event"
	EventAPIPost                   = "api_post_event"
	EventAppTerminated             = "app_terminated_event"
	EventDeploymentInfo            = "deployment_info"
	EventDeploymentStepSuccess     = "deployment_step_success"
	EventDeploymentStepFailure     = "deployment_step_failure"
	EventDeploymentSuccess         = "deployment_success"
	EventDeploymentFailed          = "deployment_failed"
	EventGroupChangeSuccess        = "group_change_success"
	EventGroupChangeFailed         = "group_change_failed"
	EventStreamAttached            = "event_stream_attached"
	EventStreamDetached            = "event_stream_detached"
)

// Event is one event of the event stream.
type Event interface {
	// Type returns the event's eventType, also its SSE event name.
	Type() string
}

// EventMeta holds the members every event ends with.
type EventMeta struct {
	EventType string `json:"eventType"`
	Timestamp string `json:"timestamp"`
}

// Type returns the event type.
func (m EventMeta) Type() string { return m.EventType }

// Meta returns the EventMeta of an event of the given type that happened
// at t.
func Meta(eventType string, t time.Time) EventMeta {
	return EventMeta{EventType: eventType, Timestamp: FormatTimestamp(t)}
}

// StatusUpdateEvent reports a task's new state (status_update_event).
type StatusUpdateEvent struct {
	SlaveID     string      `json:"slaveId"`
	TaskID      string      `json:"taskId"`
	TaskStatus  string      `json:"taskStatus"`
	Message     string      `json:"message"`
	AppID       string      `json:"appId"`
	Host        string      `json:"host"`
	IPAddresses []IPAddress `json:"ipAddresses"`
	Ports       []int       `json:"ports"`
	Version     string      `json:"version"`
	EventMeta
}

// MarshalJSON writes no addresses or ports as [].
func (e StatusUpdateEvent) MarshalJSON() ([]byte, error) {
	type alias StatusUpdateEvent
	v := alias(e)
	v.IPAddresses = orEmpty(v.IPAddresses)
	v.Ports = orEmpty(v.Ports)
	return json.Marshal(v)
}

// InstanceChangedEvent reports an instance's new condition
// (instance_changed_event).
type InstanceChangedEvent struct {
	InstanceID     string `json:"instanceId"`
	Condition      string `json:"condition"`
	RunSpecID      string `json:"runSpecId"`
	AgentID        string `json:"agentId"`
	Host           string `json:"host"`
	RunSpecVersion string `json:"runSpecVersion"`
	EventMeta
}

// UnknownInstanceTerminatedEvent reports the end of an instance Marathon
// did not know (unknown_instance_terminated_event).
type UnknownInstanceTerminatedEvent struct {
	InstanceID string `json:"instanceId"`
	RunSpecID  string `json:"runSpecId"`
	Condition  string `json:"condition"`
	EventMeta
}

// HealthStatusChangedEvent reports a task turning healthy or unhealthy
// (health_status_changed_event). Marathon 1.4 named the task by taskId,
// later versions by instanceId; Corral sends both.
type HealthStatusChangedEvent struct {
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId,omitempty"`
	InstanceID string `json:"instanceId,omitempty"`
	Version    string `json:"version"`
	Alive      bool   `json:"alive"`
	EventMeta
}

// InstanceHealthChangedEvent reports an instance's health
// (instance_health_changed_event); Healthy is null while unknown.
type InstanceHealthChangedEvent struct {
	InstanceID     string `json:"instanceId"`
	RunSpecVersion string `json:"runSpecVersion"`
	RunSpecID      string `json:"runSpecId"`
	Healthy        *bool  `json:"healthy"`
	EventMeta
}

// FailedHealthCheckEvent reports one failed check (failed_health_check_event).
type FailedHealthCheckEvent struct {
	AppID       string      `json:"appId"`
	TaskID      string      `json:"taskId,omitempty"`
	InstanceID  string      `json:"instanceId,omitempty"`
	HealthCheck HealthCheck `json:"healthCheck"`
	EventMeta
}

// AddHealthCheckEvent reports a health check started for an app version
// (add_health_check_event).
type AddHealthCheckEvent struct {
	AppID       string      `json:"appId"`
	Version     string      `json:"version,omitempty"`
	HealthCheck HealthCheck `json:"healthCheck"`
	EventMeta
}

// RemoveHealthCheckEvent reports an app's health checks stopped
// (remove_health_check_event).
type RemoveHealthCheckEvent struct {
	AppID string `json:"appId"`
	EventMeta
}

// UnhealthyTaskKillEvent reports a task killed for failing its health
// checks: unhealthy_task_kill_event, or unhealthy_instance_kill_event with
// the instance ID.
type UnhealthyTaskKillEvent struct {
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId"`
	InstanceID string `json:"instanceId,omitempty"`
	Version    string `json:"version"`
	Reason     string `json:"reason"`
	Host       string `json:"host"`
	SlaveID    string `json:"slaveId,omitempty"`
	EventMeta
}

// APIPostEvent reports an app created or changed through the API
// (api_post_event).
type APIPostEvent struct {
	ClientIP      string `json:"clientIp"`
	URI           string `json:"uri"`
	AppDefinition App    `json:"appDefinition"`
	EventMeta
}

// AppTerminatedEvent reports an app's last task gone after its deletion
// (app_terminated_event).
type AppTerminatedEvent struct {
	AppID string `json:"appId"`
	EventMeta
}

// DeploymentStatusEvent reports a deployment's step starting
// (deployment_info), succeeding (deployment_step_success) or failing
// (deployment_step_failure).
type DeploymentStatusEvent struct {
	Plan        DeploymentPlan `json:"plan"`
	CurrentStep DeploymentStep `json:"currentStep"`
	EventMeta
}

// DeploymentEvent reports a deployment's end: deployment_success or
// deployment_failed.
type DeploymentEvent struct {
	ID   string          `json:"id"`
	Plan *DeploymentPlan `json:"plan,omitempty"`
	EventMeta
}

// GroupChangeEvent reports a change to a group applied
// (group_change_success) or refused (group_change_failed, with a reason).
type GroupChangeEvent struct {
	GroupID string `json:"groupId"`
	Version string `json:"version"`
	Reason  string `json:"reason,omitempty"`
	EventMeta
}

// EventStreamEvent reports a client attaching to the event stream
// (event_stream_attached) or leaving it (event_stream_detached).
type EventStreamEvent struct {
	RemoteAddress string `json:"remoteAddress"`
	EventMeta
}

// UnknownEvent is an event of a type this package does not know, kept
// whole.
type UnknownEvent struct {
	EventMeta
	Data json.RawMessage
}

// DecodeEvent decodes an event's JSON (an SSE data line) into the type its
// eventType names: a *StatusUpdateEvent, a *DeploymentStatusEvent, …, or an
// *UnknownEvent.
func DecodeEvent(data []byte) (Event, error) {
	var meta EventMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("decoding event: %w", err)
	}
	var e Event
	switch meta.EventType {
	case EventStatusUpdate:
		e = new(StatusUpdateEvent)
	case EventInstanceChanged:
		e = new(InstanceChangedEvent)
	case EventUnknownInstanceTerminated:
		e = new(UnknownInstanceTerminatedEvent)
	case EventHealthStatusChanged:
		e = new(HealthStatusChangedEvent)
	case EventInstanceHealthChanged:
		e = new(InstanceHealthChangedEvent)
	case EventFailedHealthCheck:
		e = new(FailedHealthCheckEvent)
	case EventAddHealthCheck:
		e = new(AddHealthCheckEvent)
	case EventRemoveHealthCheck:
		e = new(RemoveHealthCheckEvent)
	case EventUnhealthyTaskKill, EventUnhealthyInstanceKill:
		e = new(UnhealthyTaskKillEvent)
	case EventAPIPost:
		e = new(APIPostEvent)
	case EventAppTerminated:
		e = new(AppTerminatedEvent)
	case EventDeploymentInfo, EventDeploymentStepSuccess, EventDeploymentStepFailure:
		e = new(DeploymentStatusEvent)
	case EventDeploymentSuccess, EventDeploymentFailed:
		e = new(DeploymentEvent)
	case EventGroupChangeSuccess, EventGroupChangeFailed:
		e = new(GroupChangeEvent)
	case EventStreamAttached, EventStreamDetached:
		e = new(EventStreamEvent)
	case "":
		return nil, fmt.Errorf("decoding event: no eventType")
	default:
		return &UnknownEvent{EventMeta: meta, Data: append(json.RawMessage(nil), data...)}, nil
	}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", meta.EventType, err)
	}
	return e, nil
}

// MarshalJSON writes the event as it was received.
func (e UnknownEvent) MarshalJSON() ([]byte, error) {
	if len(e.Data) == 0 {
		return json.Marshal(e.EventMeta)
	}
	return e.Data, nil
}
