package offer

import "corral/mesos"

// Stats is a snapshot of the allocator for /master/state and metrics.
// Resource maps hold scalar quantities by name.
type Stats struct {
	Agents       int // known agents, disconnected ones included
	ActiveAgents int
	Offers       int // outstanding
	Total        map[string]float64
	Used         map[string]float64 // by tasks, of removed frameworks too
	Offered      map[string]float64
	Roles        map[string]RoleStats
	Frameworks   map[string]FrameworkStats
}

// RoleStats describes a role with at least one framework.
type RoleStats struct {
	Weight     float64
	Share      float64 // dominant share divided by weight: the DRF sort key
	Frameworks int
}

// FrameworkStats describes one framework's allocation.
type FrameworkStats struct {
	Role       string
	Suppressed bool
	Share      float64 // dominant share of Used and Offered
	Used       map[string]float64
	Offered    map[string]float64
	Offers     int
	Filters    int // agents it filters; expired filters count until a cycle next visits the agent
}

// Stats returns a snapshot; it walks every agent and framework.
func (a *Allocator) Stats() Stats {
	a.refresh()
	var used, offered quantities
	s := Stats{
		Agents:     len(a.agents),
		Offers:     len(a.offers),
		Total:      a.named(a.total),
		Roles:      make(map[string]RoleStats, len(a.roles)),
		Frameworks: make(map[string]FrameworkStats, len(a.frameworks)),
	}
	for _, ag := range a.agents {
		if ag.active {
			s.ActiveAgents++
		}
		for _, r := range ag.used {
			a.charge(&used, r, 1)
		}
	}
	for _, o := range a.offers {
		a.charge(&offered, o.Resources, 1)
	}
	s.Used = a.named(used)
	s.Offered = a.named(offered)
	for _, r := range a.roles {
		s.Roles[r.name] = RoleStats{Weight: r.weight, Share: r.share, Frameworks: r.size}
	}
	for id, f := range a.frameworks {
		s.Frameworks[id] = FrameworkStats{
			Role:       f.role.name,
			Suppressed: f.suppressed,
			Share:      f.share,
			Used:       a.named(f.used),
			Offered:    a.named(f.offered),
			Offers:     len(f.offers),
			Filters:    len(f.filtering),
		}
	}
	return s
}

// AgentState is one agent's resources, as /master/state lists them.
type AgentState struct {
	Active    bool
	Total     mesos.Resources
	Available mesos.Resources
	Used      mesos.Resources
	Offered   mesos.Resources
}

// Agent returns the state of the agent, or false if it is unknown.
func (a *Allocator) Agent(id string) (AgentState, bool) {
	ag := a.agentBy[id]
	if ag == nil {
		return AgentState{}, false
	}
	st := AgentState{Active: ag.active, Total: ag.total.Clone(), Available: ag.available.Clone()}
	for _, r := range ag.used {
		st.Used = st.Used.Add(r)
	}
	for _, o := range ag.offers {
		st.Offered = st.Offered.Add(o.Resources)
	}
	return st, true
}
