package state

import (
	"time"

	"corral/mesos"
)

// Agent is the registry entry of an agent: what Mesos keeps in its registry
// so that a new leader knows which agents to expect back.
type Agent struct {
	Info           mesos.AgentInfo `json:"info"`
	RegisteredTime time.Time       `json:"registered_time"`
	// Unreachable is set when the agent missed its heartbeats; its tasks were
	// reported lost and will be killed if it comes back.
	Unreachable time.Time `json:"unreachable,omitzero"`
	// Identity is the subject of the client certificate that first
	// registered the agent (mutual TLS on the agent protocol): no other
	// certificate may take the agent ID over, on any master.
	Identity string `json:"identity,omitempty"`
}

// Framework is the registry entry of a framework.
type Framework struct {
	Info           mesos.FrameworkInfo `json:"info"`
	RegisteredTime time.Time           `json:"registered_time"`
}

// Agents returns the agent registry.
func (s *Store) Agents() Collection[Agent] { return NewCollection[Agent](s, "agents") }

// Frameworks returns the framework registry.
func (s *Store) Frameworks() Collection[Framework] {
	return NewCollection[Framework](s, "frameworks")
}
