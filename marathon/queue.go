package marathon

import "encoding/json"

// Queue is the body of GET /v2/queue: the apps with instances waiting to
// launch.
type Queue struct {
	Queue []QueueItem `json:"queue"`
}

// MarshalJSON writes an empty queue as [].
func (q Queue) MarshalJSON() ([]byte, error) {
	type alias Queue
	v := alias(q)
	v.Queue = orEmpty(v.Queue)
	return json.Marshal(v)
}

// QueueItem is an app (or, from real Marathon, a pod) waiting for offers:
// how many instances are left to launch, its launch delay and what became
// of the offers it saw.
type QueueItem struct {
	App                    *App                   `json:"app,omitempty"`
	Pod                    json.RawMessage        `json:"pod,omitempty"`
	Count                  int                    `json:"count"`
	Role                   string                 `json:"role,omitempty"`
	Delay                  QueueDelay             `json:"delay"`
	Since                  string                 `json:"since"`
	ProcessedOffersSummary ProcessedOffersSummary `json:"processedOffersSummary"`
	LastUnusedOffers       []UnusedOffer          `json:"lastUnusedOffers,omitempty"`
}

// QueueDelay is a launch backoff: seconds left, and whether the backoff is
// over and the app waits only for offers.
type QueueDelay struct {
	TimeLeftSeconds int64 `json:"timeLeftSeconds"`
	Overdue         bool  `json:"overdue"`
}

// ProcessedOffersSummary counts the offers an app's launch attempt saw and
// why they were declined.
type ProcessedOffersSummary struct {
	ProcessedOffersCount       int                 `json:"processedOffersCount"`
	UnusedOffersCount          int                 `json:"unusedOffersCount"`
	LastUnusedOfferAt          string              `json:"lastUnusedOfferAt,omitempty"`
	LastUsedOfferAt            string              `json:"lastUsedOfferAt,omitempty"`
	RejectSummaryLastOffers    []DeclinedOfferStep `json:"rejectSummaryLastOffers,omitempty"`
	RejectSummaryLaunchAttempt []DeclinedOfferStep `json:"rejectSummaryLaunchAttempt,omitempty"`
}

// DeclinedOfferStep counts the offers one check declined out of those it
// processed.
type DeclinedOfferStep struct {
	Reason    string `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

// Reasons an offer goes unused, as Marathon names them.
const (
	ReasonUnfulfilledRole                 = "UnfulfilledRole"
	ReasonUnfulfilledConstraint           = "UnfulfilledConstraint"
	ReasonNoCorrespondingReservationFound = "NoCorrespondingReservationFound"
	ReasonAgentMaintenance                = "AgentMaintenance"
	ReasonInsufficientCpus                = "InsufficientCpus"
	ReasonInsufficientMemory              = "InsufficientMemory"
	ReasonInsufficientDisk                = "InsufficientDisk"
	ReasonInsufficientGpus                = "InsufficientGpus"
	ReasonInsufficientPorts               = "InsufficientPorts"
	ReasonDeclinedScarceResources         = "DeclinedScarceResources"
)

// UnusedOffer is a recent offer an app could not use, and why.
type UnusedOffer struct {
	Offer     Offer    `json:"offer"`
	Reason    []string `json:"reason"`
	Timestamp string   `json:"timestamp"`
}

// Offer is a resource offer as the queue shows it.
type Offer struct {
	ID         string           `json:"id"`
	AgentID    string           `json:"agentId"`
	Hostname   string           `json:"hostname"`
	Resources  []OfferResource  `json:"resources"`
	Attributes []AgentAttribute `json:"attributes"`
}

// OfferResource is one resource of an offer.
type OfferResource struct {
	Name   string        `json:"name"`
	Scalar *float64      `json:"scalar,omitempty"`
	Ranges []NumberRange `json:"ranges,omitempty"`
	Set    []string      `json:"set,omitempty"`
	Role   string        `json:"role"`
}

// AgentAttribute is one attribute of an offer's agent.
type AgentAttribute struct {
	Name   string        `json:"name"`
	Text   string        `json:"text,omitempty"`
	Scalar *float64      `json:"scalar,omitempty"`
	Ranges []NumberRange `json:"ranges,omitempty"`
	Set    []string      `json:"set,omitempty"`
}

// NumberRange is an inclusive range, such as of ports.
type NumberRange struct {
	Begin int64 `json:"begin"`
	End   int64 `json:"end"`
}
