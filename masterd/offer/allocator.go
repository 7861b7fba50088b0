// Package offer is the master's allocator: Mesos's hierarchical Dominant
// Resource Fairness (DRF) allocator together with the bookkeeping of
// outstanding offers and of the filters frameworks install by refusing
// them.
//
// It is a pure core. It does no I/O, starts no goroutines and reads no
// clock: callers pass now. The master serialises calls with its own mutex;
// an Allocator is not safe for concurrent use.
//
// Every resource of an agent is in exactly one state: available, offered
// to one framework, or used by one framework's tasks. Offered and used
// resources both count towards a framework's dominant share, as in Mesos.
//
// An allocation cycle visits agents in the order they were added. Mesos
// shuffles them so that no framework keeps getting the same agents first;
// Corral keeps the order stable so that cycles are reproducible and tests
// deterministic. Each agent with
// enough available resources goes, whole, to the first framework in DRF
// order that is neither suppressed nor filtering the agent. The cluster
// total that shares are measured against is the sum of all agents' totals,
// disconnected agents included, so that a network blip does not reshuffle
// everyone's share.
//
// Resources in the Offers returned share their maps with the allocator;
// treat them as the immutable values mesos.Resources operations produce.
package offer

import (
	"maps"
	"slices"
	"time"

	"corral/mesos"
)

// Offer is a set of one agent's resources offered to one framework.
type Offer struct {
	ID          string
	FrameworkID string
	AgentID     string
	Resources   mesos.Resources
	Created     time.Time
}

// Allocator is the hierarchical DRF allocator. Create one with New.
type Allocator struct {
	cfg      Config
	idPrefix string // cfg.IDPrefix + "-O"
	seq      uint64 // last offer number

	agents  []*agent // in the order added; the cycle's visiting order
	agentBy map[string]*agent

	frameworks map[string]*framework
	roles      ranked[*role]
	roleByName map[string]*role

	offers map[string]*offer

	names  map[string]int // scalar resource name -> index in quantities
	nameOf []string
	total  quantities // sum of all agents' totals
	stale  bool       // total changed since shares were last computed

	gens    uint64 // last agent generation handed out; see agent.gen
	stamp   uint64 // numbers the agents a cycle visits; see framework.blocked
	clients uint64 // bumped when a framework may newly want an agent; see idleMemo
}

// agent is one agent's resources. available is total less used less
// offered, maintained on every change rather than recomputed.
type agent struct {
	id        string
	pos       int // index in Allocator.agents
	total     mesos.Resources
	available mesos.Resources
	used      map[string]mesos.Resources // by framework ID, removed frameworks included
	offers    []*offer                   // outstanding, in no order
	active    bool
	offerable bool   // active and available meets MinAllocatable
	gen       uint64 // names the content of available: same gen, same content
	filters   []filter
	idle      idleMemo
}

// framework is a framework as the allocator sees it.
type framework struct {
	id         string
	role       *role
	suppressed bool
	share      float64        // dominant share of used + offered, unweighted
	used       quantities     // held by running tasks
	offered    quantities     // held by outstanding offers
	offers     []*offer       // outstanding, in no order
	filtering  map[*agent]int // number of this framework's filters on each agent
	blocked    uint64         // the Allocator.stamp of the agent its filters hide
}

// offer is an outstanding offer.
type offer struct {
	Offer
	seq   uint64
	fw    *framework
	ag    *agent
	fwPos int // index in fw.offers
	agPos int // index in ag.offers

	// The agent's generation before and right after the grant.
	before, after uint64
}

// New returns an empty allocator. cfg should have passed Validate.
func New(cfg Config) *Allocator {
	c := cfg
	c.MinAllocatable = make([]map[string]float64, len(cfg.MinAllocatable))
	for i, alt := range cfg.MinAllocatable {
		c.MinAllocatable[i] = maps.Clone(alt)
	}
	c.Weights = maps.Clone(cfg.Weights)
	return &Allocator{
		cfg:        c,
		idPrefix:   c.IDPrefix + "-O",
		agentBy:    map[string]*agent{},
		frameworks: map[string]*framework{},
		roleByName: map[string]*role{},
		offers:     map[string]*offer{},
		names:      map[string]int{},
	}
}

// setAvailable replaces ag's available resources and notes whether they
// are worth offering. It gives them a new generation, unique across
// agents, which invalidates what filters cached about the old ones.
func (a *Allocator) setAvailable(ag *agent, r mesos.Resources) {
	ag.available = r
	a.gens++
	ag.gen = a.gens
	ag.offerable = ag.active && allocatable(r, a.cfg.MinAllocatable)
}

// AddAgent adds an active agent with the given total resources. For a
// known agent (one re-registering) it activates it and replaces its total,
// keeping what its tasks use and its offers hold; should the new total
// lack some of those, the total is widened to keep them, so that the
// accounting never goes below zero (Mesos only lets an agent's resources
// grow under the same ID).
func (a *Allocator) AddAgent(id string, total mesos.Resources) {
	a.stale = true
	ag := a.agentBy[id]
	if ag == nil {
		ag = &agent{id: id, pos: len(a.agents), used: map[string]mesos.Resources{}}
		a.agents = append(a.agents, ag)
		a.agentBy[id] = ag
	} else {
		a.charge(&a.total, ag.total, -1)
	}
	var held mesos.Resources
	for _, r := range ag.used {
		held = held.Add(r)
	}
	for _, o := range ag.offers {
		held = held.Add(o.Resources)
	}
	free := normalize(total).Sub(held)
	ag.total = held.Add(free)
	ag.active = true
	a.charge(&a.total, ag.total, 1)
	a.setAvailable(ag, free)
}

// RemoveAgent forgets an agent, the offers of its resources, which it
// returns as rescinded, the allocations on it and the filters naming it.
func (a *Allocator) RemoveAgent(id string) (rescinded []Offer) {
	ag := a.agentBy[id]
	if ag == nil {
		return nil
	}
	rescinded = a.withdraw(ag.offers, false)
	for fid, r := range ag.used {
		if f := a.frameworks[fid]; f != nil {
			a.account(f, r, -1, false)
		}
	}
	for _, flt := range ag.filters {
		delete(flt.fw.filtering, ag)
	}
	a.charge(&a.total, ag.total, -1)
	a.stale = true
	delete(a.agentBy, id)
	a.agents = slices.Delete(a.agents, ag.pos, ag.pos+1)
	for i := ag.pos; i < len(a.agents); i++ {
		a.agents[i].pos = i
	}
	return rescinded
}

// DeactivateAgent marks a disconnected agent: its outstanding offers are
// rescinded and returned, their resources become available again, and the
// agent is offered to no one until ActivateAgent. Its total still counts
// towards the cluster total.
func (a *Allocator) DeactivateAgent(id string) (rescinded []Offer) {
	ag := a.agentBy[id]
	if ag == nil {
		return nil
	}
	ag.active = false
	ag.offerable = false
	return a.withdraw(ag.offers, true)
}

// ActivateAgent makes a reconnected agent's resources offerable again.
func (a *Allocator) ActivateAgent(id string) {
	if ag := a.agentBy[id]; ag != nil {
		ag.active = true
		a.setAvailable(ag, ag.available)
	}
}

// AddFramework adds a framework in a role. Resources the framework's
// tasks already use (Allocated before it subscribed, as after a master
// failover) count towards its share at once. For a known framework it
// changes the role.
func (a *Allocator) AddFramework(id, role string) {
	if f := a.frameworks[id]; f != nil {
		if f.role.name != role {
			a.detach(f)
			a.attach(f, role)
		}
		return
	}
	f := &framework{id: id, filtering: map[*agent]int{}}
	for _, ag := range a.agents {
		if r, ok := ag.used[id]; ok {
			a.charge(&f.used, r, 1)
		}
	}
	a.frameworks[id] = f
	a.attach(f, role)
	a.clients++
}

// RemoveFramework forgets a framework and returns its outstanding offers,
// whose resources become available. The resources its tasks use stay
// allocated, outside any share, until the caller releases them.
func (a *Allocator) RemoveFramework(id string) (dropped []Offer) {
	f := a.frameworks[id]
	if f == nil {
		return nil
	}
	dropped = a.withdraw(f.offers, true)
	a.dropFilters(f)
	a.detach(f)
	delete(a.frameworks, id)
	return dropped
}

// Suppress stops offers to a framework until Revive. Outstanding offers
// stay.
func (a *Allocator) Suppress(frameworkID string) {
	f := a.frameworks[frameworkID]
	if f == nil || f.suppressed {
		return
	}
	f.role.frameworks.remove(f)
	f.suppressed = true
}

// Revive resumes offers to a framework and clears all its filters.
func (a *Allocator) Revive(frameworkID string) {
	f := a.frameworks[frameworkID]
	if f == nil {
		return
	}
	a.dropFilters(f)
	a.clients++
	if f.suppressed {
		f.suppressed = false
		f.role.frameworks.insert(f)
	}
}

// Allocated marks r on the agent as used by the framework's tasks, as
// when an agent re-registers with running tasks after a master failover.
// Only the part of r that is available is taken, so an agent's resources
// are never counted twice. Resources launched through Accept are already
// allocated; do not mark them again. Unknown agents are ignored.
func (a *Allocator) Allocated(frameworkID, agentID string, r mesos.Resources) {
	ag := a.agentBy[agentID]
	if ag == nil {
		return
	}
	take := ag.available.Intersect(normalize(r))
	if take.IsEmpty() {
		return
	}
	a.setAvailable(ag, ag.available.Sub(take))
	ag.used[frameworkID] = ag.used[frameworkID].Add(take)
	if f := a.frameworks[frameworkID]; f != nil {
		a.account(f, take, 1, false)
	}
}

// Release returns resources of ended tasks to the agent's available
// resources. Being new, they break through the framework filters that
// covered the agent's old free resources. Only what the framework uses on
// the agent is released; unknown agents are ignored.
func (a *Allocator) Release(frameworkID, agentID string, r mesos.Resources) {
	ag := a.agentBy[agentID]
	if ag == nil {
		return
	}
	cur := ag.used[frameworkID]
	back := cur.Intersect(normalize(r))
	if back.IsEmpty() {
		return
	}
	if rest := cur.Sub(back); rest.IsEmpty() {
		delete(ag.used, frameworkID)
	} else {
		ag.used[frameworkID] = rest
	}
	a.setAvailable(ag, plus(ag.available, back))
	if f := a.frameworks[frameworkID]; f != nil {
		a.account(f, back, -1, false)
	}
}

// account adds sign times r to what f uses (or is offered, if offered)
// and to its role, and moves both in the DRF order.
func (a *Allocator) account(f *framework, r mesos.Resources, sign float64, offered bool) {
	if offered {
		a.charge(&f.offered, r, sign)
	} else {
		a.charge(&f.used, r, sign)
	}
	a.charge(&f.role.alloc, r, sign)
	a.reshare(f)
}

// plus returns r + o, sharing rather than copying when either is empty:
// Resources are never modified in place, so sharing is safe, and giving
// back a declined offer to an agent with nothing free is the common case.
func plus(r, o mesos.Resources) mesos.Resources {
	switch {
	case o.IsEmpty():
		return r
	case r.IsEmpty():
		return o
	}
	return r.Add(o)
}

// normalize rounds r's scalars to Mesos's three decimals, as parsing
// does, so that resources built by hand cannot make the books drift.
func normalize(r mesos.Resources) mesos.Resources { return mesos.Resources{}.Add(r) }
