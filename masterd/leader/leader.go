// Package leader elects one leading masterd through etcd's concurrency
// package and tells every master who leads, so standbys can redirect.
package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Key is the election prefix in etcd.
const Key = "/corral/leader"

// Info identifies a master; it is the value of its election key.
type Info struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	IP           string `json:"ip"`
	Port         int    `json:"port"`          // Mesos API
	MarathonPort int    `json:"marathon_port"` // Marathon API, 0 when not served
}

// HostPort returns hostname:port of the Mesos API, as redirects name it.
func (i Info) HostPort() string { return net.JoinHostPort(i.Hostname, strconv.Itoa(i.Port)) }

// PID returns the Mesos process ID "master@IP:port".
func (i Info) PID() string { return "master@" + net.JoinHostPort(i.IP, strconv.Itoa(i.Port)) }

// LeadFunc runs while this master leads. ctx ends when leadership is lost or
// the elector stops; fence holds exactly while the leadership lasts.
type LeadFunc func(ctx context.Context, fence clientv3.Cmp) error

// Elector campaigns for leadership and observes who leads.
type Elector struct {
	cli  *clientv3.Client
	self Info
	ttl  time.Duration
	log  *slog.Logger

	mu      sync.Mutex // guards leader, leading and resign
	leader  *Info
	leading bool
	resign  context.CancelFunc
	changed chan struct{} // closed and replaced on every leader change
}

// New returns an elector for self with a session TTL of ttl.
func New(cli *clientv3.Client, self Info, ttl time.Duration, log *slog.Logger) *Elector {
	return &Elector{cli: cli, self: self, ttl: ttl, log: log, changed: make(chan struct{})}
}

// Leader returns the current leader, if one is elected. This master is
// named only while it leads: cut off from etcd, it steps down when its
// session expires but cannot see its key go, and it must not send clients
// to itself.
func (e *Elector) Leader() (Info, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leader == nil || (e.leader.ID == e.self.ID && !e.leading) {
		return Info{}, false
	}
	return *e.leader, true
}

// IsLeader reports whether this master leads now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Changed returns a channel closed at the next change of leader.
func (e *Elector) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Abdicate gives up leadership if held; another master (or this one again)
// is elected afterwards.
func (e *Elector) Abdicate() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading || e.resign == nil {
		return false
	}
	e.resign()
	return true
}

func (e *Elector) setLeader(l *Info) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leader = l
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *Elector) setLeading(leading bool, resign context.CancelFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leading, e.resign = leading, resign
	close(e.changed)
	e.changed = make(chan struct{})
}

// Run observes the election and campaigns until ctx ends, calling lead
// each time this master wins.
func (e *Elector) Run(ctx context.Context, lead LeadFunc) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.observe(ctx)
	}()
	defer wg.Wait()
	for ctx.Err() == nil {
		if err := e.campaign(ctx, lead); err != nil && ctx.Err() == nil {
			e.log.Warn("leader election round failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// campaign runs one session: wait to win, lead until the session or the
// leadership ends, then resign.
func (e *Elector) campaign(ctx context.Context, lead LeadFunc) error {
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(int(e.ttl.Seconds())), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("creating election session: %w", err)
	}
	defer sess.Close()
	el := concurrency.NewElection(sess, Key)
	val, _ := json.Marshal(e.self)
	if err := el.Campaign(ctx, string(val)); err != nil {
		return fmt.Errorf("campaigning: %w", err)
	}
	fence := clientv3.Compare(clientv3.CreateRevision(el.Key()), "=", el.Rev())
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The session ends with ctx too (it keeps its lease alive under ctx);
	// only while ctx lasts does its end mean that the lease expired.
	expired := false
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-sess.Done():
			if ctx.Err() == nil {
				expired = true
				e.log.Warn("election session expired, stepping down")
			}
		case <-lctx.Done():
		}
		cancel()
	}()
	e.setLeading(true, cancel)
	e.log.Info("elected leader", "id", e.self.ID, "rev", el.Rev())
	err = lead(lctx, fence)
	e.setLeading(false, nil)
	cancel()
	<-watched
	// An expired lease took the key with it, or etcd is unreachable and
	// resigning would only wait; otherwise hand over at once.
	if !expired {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer rcancel()
		if rerr := el.Resign(rctx); rerr != nil && !errors.Is(rerr, context.Canceled) {
			e.log.Debug("resigning", "err", rerr)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("leading: %w", err)
	}
	return nil
}

// observe keeps e.leader current: the election's leader is the key under
// Key with the lowest create revision.
func (e *Elector) observe(ctx context.Context) {
	for ctx.Err() == nil {
		resp, err := e.cli.Get(ctx, Key+"/", clientv3.WithFirstCreate()...)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("reading leader", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		var cur *Info
		if len(resp.Kvs) > 0 {
			var info Info
			if json.Unmarshal(resp.Kvs[0].Value, &info) == nil {
				cur = &info
			}
		}
		if !sameLeader(cur, e.peek()) {
			e.setLeader(cur)
			if cur != nil {
				e.log.Info("leader is", "id", cur.ID, "at", cur.HostPort())
			} else {
				e.log.Info("no leader elected")
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		wch := e.cli.Watch(clientv3.WithRequireLeader(wctx), Key+"/", clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		for wr := range wch {
			if wr.Err() != nil || len(wr.Events) > 0 {
				break
			}
		}
		cancel()
	}
}

func (e *Elector) peek() *Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader
}

func sameLeader(a, b *Info) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Self returns this master's own info.
func (e *Elector) Self() Info { return e.self }
