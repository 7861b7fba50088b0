package marathon

import "encoding/json"

// Deployment actions.
const (
	ActionStartApplication   = "StartApplication"
	ActionStopApplication    = "StopApplication"
	ActionScaleApplication   = "ScaleApplication"
	ActionRestartApplication = "RestartApplication"
	ActionStartPod           = "StartPod"
	ActionStopPod            = "StopPod"
	ActionScalePod           = "ScalePod"
	ActionRestartPod         = "RestartPod"
	ActionResolveArtifacts   = "ResolveArtifacts"
)

// Deployment is a running deployment as GET /v2/deployments lists it
// (DeploymentStepInfo). CurrentStep counts from 1.
type Deployment struct {
	ID             string                 `json:"id"`
	Version        string                 `json:"version"`
	AffectedApps   []string               `json:"affectedApps"`
	AffectedPods   []string               `json:"affectedPods"`
	Steps          []DeploymentStep       `json:"steps"`
	CurrentActions []DeploymentActionInfo `json:"currentActions"`
	CurrentStep    int                    `json:"currentStep"`
	TotalSteps     int                    `json:"totalSteps"`
}

// MarshalJSON writes the lists as [] rather than null.
func (d Deployment) MarshalJSON() ([]byte, error) {
	type alias Deployment
	v := alias(d)
	v.AffectedApps = orEmpty(v.AffectedApps)
	v.AffectedPods = orEmpty(v.AffectedPods)
	v.Steps = orEmpty(v.Steps)
	v.CurrentActions = orEmpty(v.CurrentActions)
	return json.Marshal(v)
}

// DeploymentStep is a set of actions a deployment performs together.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// MarshalJSON writes an empty step as {"actions": []}.
func (s DeploymentStep) MarshalJSON() ([]byte, error) {
	type alias DeploymentStep
	v := alias(s)
	v.Actions = orEmpty(v.Actions)
	return json.Marshal(v)
}

// DeploymentAction is what a step does to one app (or pod).
type DeploymentAction struct {
	Action string `json:"action"`
	App    string `json:"app,omitempty"`
	Pod    string `json:"pod,omitempty"`
}

// DeploymentActionInfo is an action of the current step with the readiness
// of the tasks it started.
type DeploymentActionInfo struct {
	Action                string                 `json:"action"`
	App                   string                 `json:"app,omitempty"`
	Pod                   string                 `json:"pod,omitempty"`
	ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults"`
}

// MarshalJSON writes no readiness results as [].
func (a DeploymentActionInfo) MarshalJSON() ([]byte, error) {
	type alias DeploymentActionInfo
	v := alias(a)
	v.ReadinessCheckResults = orEmpty(v.ReadinessCheckResults)
	return json.Marshal(v)
}

// ReadinessCheckResult is the state of one readiness check of one task.
type ReadinessCheckResult struct {
	Name         string                      `json:"name"`
	TaskID       string                      `json:"taskId"`
	Ready        bool                        `json:"ready"`
	LastResponse *ReadinessCheckHTTPResponse `json:"lastResponse,omitempty"`
}

// ReadinessCheckHTTPResponse is the last response to a readiness check,
// kept when the check asks to preserve it.
type ReadinessCheckHTTPResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// DeploymentPlan is a deployment as the event stream carries it: the steps
// and, unless the stream asked for plan-format=light, the root group before
// (original) and after (target).
type DeploymentPlan struct {
	ID       string           `json:"id"`
	Original *Group           `json:"original,omitempty"`
	Target   *Group           `json:"target,omitempty"`
	Steps    []DeploymentStep `json:"steps"`
	Version  string           `json:"version"`
}

// MarshalJSON writes no steps as [].
func (p DeploymentPlan) MarshalJSON() ([]byte, error) {
	type alias DeploymentPlan
	v := alias(p)
	v.Steps = orEmpty(v.Steps)
	return json.Marshal(v)
}

// Light returns the plan without the original and target groups, as
// /v2/events?plan-format=light sends it.
func (p DeploymentPlan) Light() DeploymentPlan {
	p.Original, p.Target = nil, nil
	return p
}

// DeploymentResult answers a change that started a deployment:
// {"deploymentId", "version"}, with the Marathon-Deployment-Id header.
type DeploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// DeploymentHeader carries the ID of the deployment a change started.
const DeploymentHeader = "Marathon-Deployment-Id"
