// Package master is the leading masterd's cluster model: the agents that
// registered over the agent protocol, the frameworks that subscribed, their
// tasks, and the allocator that turns free resources into offers. It serves
// the agent protocol over HTTP and frameworks in process, through the calls
// and events of the Mesos v1 scheduler API.
package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"corral/masterd/offer"
	"corral/masterd/state"
	"corral/mesos"

	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes the master. Names and defaults follow the Mesos master flags.
type Config struct {
	ID                     string // master ID; agent IDs are <ID>-S<n>
	Hostname               string
	IP                     string
	Port                   int
	Version                string
	AllocationInterval     time.Duration
	AgentPingTimeout       time.Duration // also the agents' heartbeat interval
	MaxAgentPingTimeouts   int
	AgentReregisterTimeout time.Duration
	Offers                 offer.Config
	// Flags are echoed in /master/state.
	Flags map[string]string
	// AllocationTime, if set, observes each allocation cycle's duration
	// in seconds.
	AllocationTime prometheus.Observer
	// AgentSecret, when set, is the shared secret every agent call must
	// carry as a bearer token (masterd --agent-secret-file).
	AgentSecret string
	// AgentCerts requires every agent call to come with a client
	// certificate the server verified (mutual TLS); an agent ID is bound
	// to the subject of the certificate that first registered it.
	AgentCerts bool
}

// DefaultConfig returns Mesos's defaults.
func DefaultConfig() Config {
	return Config{
		Version:                "1.11.0",
		AllocationInterval:     time.Second,
		AgentPingTimeout:       15 * time.Second,
		MaxAgentPingTimeouts:   5,
		AgentReregisterTimeout: 10 * time.Minute,
		Offers:                 offer.DefaultConfig(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("invalid master config: empty ID")
	case c.AllocationInterval <= 0:
		return fmt.Errorf("invalid allocation interval %v, must be > 0", c.AllocationInterval)
	case c.AgentPingTimeout <= 0:
		return fmt.Errorf("invalid agent ping timeout %v, must be > 0", c.AgentPingTimeout)
	case c.MaxAgentPingTimeouts < 1:
		return fmt.Errorf("invalid max agent ping timeouts %d, must be >= 1", c.MaxAgentPingTimeouts)
	case c.AgentReregisterTimeout <= 0:
		return fmt.Errorf("invalid agent reregister timeout %v, must be > 0", c.AgentReregisterTimeout)
	}
	return c.Offers.Validate()
}

// agentTimeout is how long an agent may stay silent before it is unreachable.
func (c Config) agentTimeout() time.Duration {
	return c.AgentPingTimeout * time.Duration(c.MaxAgentPingTimeouts)
}

// Master is the leader's cluster model. Create it with New, load the
// registry with Recover, then Run it; its methods are safe for concurrent use.
type Master struct {
	cfg   Config
	log   *slog.Logger
	store *state.Store
	start time.Time

	writes  *queue[func(context.Context) error] // registry writes made off the lock
	kick    chan struct{}                       // asks Run to allocate now; capacity 1
	wg      sync.WaitGroup                      // owns stream pumps started by Subscribe
	stopped chan struct{}                       // closed when the master stops leading

	mu            sync.Mutex // guards the fields below
	alloc         *offer.Allocator
	agents        map[string]*agent
	frameworks    map[string]*framework
	nextAgent     int
	nextFramework int
	nextStream    int
	closed        bool
	counts        counters
	opSubs        map[*operatorSub]struct{} // operator API subscribers (operator.go)
}

// New returns a master that persists through store (fenced on leadership).
func New(cfg Config, store *state.Store, log *slog.Logger) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Offers.IDPrefix = cfg.ID
	return &Master{
		cfg:        cfg,
		log:        log.With("component", "master"),
		store:      store,
		start:      time.Now(),
		writes:     newQueue[func(context.Context) error](),
		kick:       make(chan struct{}, 1),
		stopped:    make(chan struct{}),
		alloc:      offer.New(cfg.Offers),
		agents:     map[string]*agent{},
		frameworks: map[string]*framework{},
	}, nil
}

// Recover loads the registry: agents are expected to re-register (until
// AgentReregisterTimeout) and frameworks to re-subscribe with their IDs.
func (m *Master) Recover(ctx context.Context) error {
	agents, err := m.store.Agents().List(ctx)
	if err != nil {
		return err
	}
	frameworks, err := m.store.Frameworks().List(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for id, rec := range agents {
		m.agents[id] = &agent{rec: rec, recovered: rec.Unreachable.IsZero(), lastSeen: now, tasks: map[taskKey]*task{}}
	}
	for id, rec := range frameworks {
		f := newFramework(rec, now)
		f.recovered = true
		m.frameworks[id] = f
		// No offers until it subscribes again.
		m.alloc.AddFramework(id, rec.Info.Role)
		m.alloc.Suppress(id)
	}
	m.log.Info("recovered registry", "agents", len(agents), "frameworks", len(frameworks))
	return nil
}

// Run allocates, watches agent liveness and writes the registry until ctx
// ends; then it closes every agent and framework stream so that peers move
// to the next leader.
func (m *Master) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.writeLoop(ctx)
	}()
	alloc := time.NewTicker(m.cfg.AllocationInterval)
	defer alloc.Stop()
	live := time.NewTicker(min(time.Second, m.cfg.AgentPingTimeout))
	defer live.Stop()
	// A requested cycle (allocateSoon) waits, after the last cycle, as
	// long as that one took: on a cluster so large that a cycle takes
	// milliseconds, a stream of task ends cannot keep the master
	// allocating more than half of the time.
	var soon <-chan time.Time // armed while a requested cycle waits
	var next time.Time        // when a requested cycle may run
	allocate := func(now time.Time) {
		took := m.allocate(now)
		next = time.Now().Add(took)
	}
	for {
		select {
		case <-ctx.Done():
			m.shutdown()
			wg.Wait()
			m.wg.Wait()
			return nil
		case now := <-alloc.C:
			allocate(now)
		case <-m.kick:
			if soon != nil {
				continue
			}
			if wait := time.Until(next); wait > 0 {
				soon = time.After(wait)
				continue
			}
			allocate(time.Now())
		case now := <-soon:
			soon = nil
			allocate(now)
		case now := <-live.C:
			m.checkAgents(now)
			m.checkFrameworks(now)
		}
	}
}

func (m *Master) shutdown() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	close(m.stopped)
	m.closeOperatorSubs()
	for _, a := range m.agents {
		if a.stream != nil {
			a.stream.q.close()
			a.stream = nil
		}
	}
	for _, f := range m.frameworks {
		if f.events != nil {
			f.events.close()
			f.events = nil
		}
	}
	m.writes.close()
}

// flushTimeout bounds the registry writes still queued when the master
// stops leading. They are fenced, so they land only while the election key
// is still this master's (a graceful step-down resigns after Run returns).
const flushTimeout = 2 * time.Second

// writeLoop applies registry writes in order, off the master's lock, until
// shutdown closes the queue. Writes queued when ctx ends are still tried,
// within flushTimeout: a teardown or an unreachable agent must not be
// forgotten by the next leader because this one was stopped.
func (m *Master) writeLoop(ctx context.Context) {
	wctx := ctx
	for {
		items, done := m.writes.drain()
		for _, w := range items {
			if wctx == ctx && ctx.Err() != nil {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
				defer cancel()
			}
			if err := w(wctx); err != nil {
				m.log.Error("registry write failed", "err", err)
			}
		}
		if done {
			return
		}
		<-m.writes.ready
	}
}

// allocate runs one allocation cycle and sends the offers and rescinds;
// it returns how long the cycle took.
func (m *Master) allocate(now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	m.rescind(m.alloc.Expire(now))
	byFramework := map[string][]mesos.Offer{}
	for _, o := range m.alloc.Allocate(now) {
		a := m.agents[o.AgentID]
		mo := mesos.Offer{ID: o.ID, FrameworkID: o.FrameworkID, AgentID: o.AgentID, Resources: o.Resources}
		if a != nil {
			mo.Hostname, mo.Attributes = a.rec.Info.Hostname, a.rec.Info.Attributes
		}
		byFramework[o.FrameworkID] = append(byFramework[o.FrameworkID], mo)
	}
	for fid, offers := range byFramework {
		f := m.frameworks[fid]
		if f == nil || !f.send(mesos.Event{Type: mesos.EventTypeOffers, Offers: offers}) {
			// Nobody to receive them: give the resources back at once.
			ids := make([]string, len(offers))
			for i, o := range offers {
				ids[i] = o.ID
			}
			_ = m.alloc.Decline(fid, ids, 0, now)
		}
	}
	took := time.Since(start)
	m.counts.allocations++
	m.counts.lastAllocation = took
	if m.cfg.AllocationTime != nil {
		m.cfg.AllocationTime.Observe(took.Seconds())
	}
	return took
}

// allocateSoon asks Run for an allocation cycle now rather than at the
// next tick: a framework that subscribed or revived, an agent that
// registered and resources given back should not wait for
// --allocation-interval (1 s) to be offered. Requests made while one is
// pending are coalesced into it, so a burst of 100 task ends costs one
// cycle or two; the ticker stays for what no event announces (filters
// and offers that expire).
func (m *Master) allocateSoon() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// rescind tells frameworks that offers are withdrawn. Caller holds m.mu.
func (m *Master) rescind(offers []offer.Offer) {
	m.counts.rescinded += uint64(len(offers))
	for _, o := range offers {
		if f := m.frameworks[o.FrameworkID]; f != nil {
			f.send(mesos.Event{Type: mesos.EventTypeRescind, Rescind: &mesos.EventRescind{OfferID: o.ID}})
		}
	}
}

// checkAgents marks agents unreachable that stayed silent too long, and
// recovered agents that did not re-register in time.
func (m *Master) checkAgents(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.agents {
		if !a.rec.Unreachable.IsZero() {
			continue
		}
		switch {
		case a.recovered && now.Sub(m.start) > m.cfg.AgentReregisterTimeout:
			m.markUnreachable(id, a, now, fmt.Sprintf("agent did not re-register within %v of the master's election", m.cfg.AgentReregisterTimeout))
		case !a.recovered && now.Sub(a.lastSeen) > m.cfg.agentTimeout():
			m.markUnreachable(id, a, now, fmt.Sprintf("agent missed its heartbeats for %v", now.Sub(a.lastSeen).Round(time.Second)))
		}
	}
}

// checkFrameworks tears down frameworks that stayed disconnected past their
// failover_timeout. A framework whose failover_timeout is 0 is kept until it
// tears itself down: Mesos would remove it at once, but Corral never kills
// tasks over a field a framework left out.
func (m *Master) checkFrameworks(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.frameworks {
		timeout := time.Duration(f.rec.Info.FailoverTimeout * float64(time.Second))
		if f.events == nil && timeout > 0 && !f.disconnected.IsZero() && now.Sub(f.disconnected) > timeout {
			m.log.Warn("framework failover timeout expired", "framework", f.rec.Info.ID, "timeout", timeout)
			m.teardown(f, now)
		}
	}
}

// persist queues a registry write. Caller holds m.mu.
func (m *Master) persist(w func(context.Context) error) {
	if !m.writes.push(w) {
		m.log.Warn("registry write dropped: master is stopping")
	}
}

// since converts t to Mesos's float seconds since the epoch.
func since(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
