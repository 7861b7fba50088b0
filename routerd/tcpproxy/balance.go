package tcpproxy

import (
	"sync"
	"sync/atomic"

	"corral/routerd/route"
)

// picker chooses the first backend to try for a connection, per the
// service's balance; the others follow in table order.
type picker struct {
	rr     sync.Map // service key → *atomic.Uint32: round-robin position
	active sync.Map // backend address → *atomic.Int64: open connections
}

func newPicker() *picker { return &picker{} }

// First returns the index into svc.Backends to try first.
func (p *picker) First(svc *route.Service, clientHash uint32) int {
	n := len(svc.Backends)
	switch svc.Balance {
	case route.Source:
		return int(clientHash % uint32(n))
	case route.LeastConn:
		best, bestN := 0, int64(-1)
		for i, b := range svc.Backends {
			c := int64(0)
			if v, ok := p.active.Load(b.Addr); ok {
				c = v.(*atomic.Int64).Load()
			}
			if bestN < 0 || c < bestN {
				best, bestN = i, c
			}
		}
		return best
	default:
		v, ok := p.rr.Load(svc.Key())
		if !ok {
			v, _ = p.rr.LoadOrStore(svc.Key(), new(atomic.Uint32))
		}
		return int((v.(*atomic.Uint32).Add(1) - 1) % uint32(n))
	}
}

// Acquire counts a connection to addr until the returned func is called.
func (p *picker) Acquire(addr string) func() {
	v, ok := p.active.Load(addr)
	if !ok {
		v, _ = p.active.LoadOrStore(addr, new(atomic.Int64))
	}
	c := v.(*atomic.Int64)
	c.Add(1)
	return func() { c.Add(-1) }
}
