package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corral/agentd/masterlink"
	"corral/mesos"
)

// agentResources is what every simulated agent offers.
const agentResources = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"

// fleet is the simulated agents: each one a real masterlink.Link that
// subscribes, heartbeats and reconnects as agentd would, with no tasks.
type fleet struct {
	links      []*masterlink.Link
	subscribed []atomic.Int32 // SUBSCRIBED events by agent: registrations and re-registrations
	others     atomic.Int64   // events other than SUBSCRIBED and HEARTBEAT
	wg         sync.WaitGroup
}

// newFleet prepares n agents named sim-<i> on rack r<i%10>, which send
// secret with their calls if it is set.
func newFleet(n int, master string, client *http.Client, secret string, log *slog.Logger) (*fleet, error) {
	res, err := mesos.ParseResources(agentResources)
	if err != nil {
		return nil, err
	}
	f := &fleet{links: make([]*masterlink.Link, n), subscribed: make([]atomic.Int32, n)}
	for i := range n {
		info := mesos.AgentInfo{
			Hostname:   fmt.Sprintf("sim-%d", i),
			Port:       5051,
			Resources:  res, // shared read-only
			Attributes: mesos.Attributes{{Name: "rack", Value: fmt.Sprintf("r%d", i%10)}},
			Version:    "simagents",
		}
		link, err := masterlink.New(masterlink.Config{
			Masters:    []string{master},
			Info:       info,
			Client:     client,
			Secret:     secret,
			MinBackoff: 250 * time.Millisecond,
			MaxBackoff: 5 * time.Second,
		}, func(_ context.Context, ev mesos.AgentEvent) {
			if ev.Type == mesos.AgentEventSubscribed {
				f.subscribed[i].Add(1)
			} else {
				f.others.Add(1)
			}
		}, log.With("agent", info.Hostname))
		if err != nil {
			return nil, err
		}
		f.links[i] = link
	}
	return f, nil
}

// reregistrations counts SUBSCRIBED events after each agent's first: a
// stream that broke and was opened again.
func (f *fleet) reregistrations() int {
	n := 0
	for i := range f.subscribed {
		n += max(0, int(f.subscribed[i].Load())-1)
	}
	return n
}

// registration is the outcome of register.
type registration struct {
	registered int
	wall       time.Duration   // start until the last agent registered
	latency    []time.Duration // of each registered agent, from its start
}

// register starts the agents' links under runCtx, at most parallel of them
// registering at a time, and waits until all have registered or regCtx
// ends. The links keep running until runCtx ends; wait waits for them.
func (f *fleet) register(runCtx, regCtx context.Context, parallel int) registration {
	start := time.Now()
	var (
		mu      sync.Mutex // guards res
		res     registration
		waiters sync.WaitGroup
	)
	sem := make(chan struct{}, parallel)
loop:
	for _, link := range f.links {
		select {
		case sem <- struct{}{}:
		case <-regCtx.Done():
			break loop
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			_ = link.Run(runCtx)
		}()
		waiters.Add(1)
		go func(began time.Time) {
			defer waiters.Done()
			defer func() { <-sem }()
			select {
			case <-link.Registered():
			case <-regCtx.Done():
				return
			}
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			res.registered++
			res.latency = append(res.latency, now.Sub(began))
			res.wall = max(res.wall, now.Sub(start))
		}(time.Now())
	}
	waiters.Wait()
	return res
}

// ids returns the agent IDs the master assigned, "" for unregistered agents.
func (f *fleet) ids() []string {
	ids := make([]string, len(f.links))
	for i, l := range f.links {
		ids[i] = l.AgentID()
	}
	return ids
}

// wait waits for the links to stop once their context has ended.
func (f *fleet) wait() { f.wg.Wait() }
