// Package leader elects one leading masterd through etcd's concurrency
// package and tells every master who leads, so standbys can redirect.
package leader

import (
	"context"
	"corral/mesos"
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
// the elector stops; self is this master as elected for the term, under
// the term's own ID; fence holds exactly while the leadership lasts.
type LeadFunc func(ctx context.Context, self Info, fence clientv3.Cmp) error

// Elector campaigns for leadership and observes who leads.
type Elector struct {
	cli *clientv3.Client
	ttl time.Duration
	log *slog.Logger

	mu        sync.Mutex // guards self, campaigns, leader, changes, leading, term and resign
	self      Info
	campaigns int
	leader    *Info
	changes   uint64 // leader changes observed
	leading   bool
	term      context.Context // the leadership term's, while leading; ends as it steps down
	resign    context.CancelFunc
	changed   chan struct{} // closed and replaced on every leader change
}

// New returns an elector for self with a session TTL of ttl. Its first
// term runs under self.ID, every later one under a new ID (NewID): a
// Mesos master that loses leadership exits, so each term is a new master
// with a new ID there, and the agent and framework IDs a master derives
// from its own must not repeat when the same masterd leads twice.
func New(cli *clientv3.Client, self Info, ttl time.Duration, log *slog.Logger) *Elector {
	return &Elector{cli: cli, self: self, ttl: ttl, log: log, changed: make(chan struct{})}
}

// Leader returns the current leader, if one is elected. This master is
// named only while it leads: cut off from etcd, it steps down when its
// session expires but cannot see its key go, and it must not send clients
// to itself. Nor does it name a key at its own address, left by an earlier
// term or by its previous process (killed, its lease not yet expired):
// that is a redirect to itself too. While it leads, it names itself at once,
// before its observer has read its own key back.
func (e *Elector) Leader() (Info, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading && e.term.Err() == nil {
		// Won: the key is this term's, whether or not the observer has
		// read it back yet. Once the term has ended (its session expired,
		// or it abdicated) and while it steps down, the observer answers.
		return e.self, true
	}
	if e.leader == nil || e.leader.sameAddress(e.self) {
		return Info{}, false
	}
	return *e.leader, true
}

// sameAddress reports whether i and o serve the Mesos API at one address.
func (i Info) sameAddress(o Info) bool {
	if i.ID == o.ID {
		return true
	}
	return i.Port == o.Port && (i.IP != "" && i.IP == o.IP || i.Hostname != "" && i.Hostname == o.Hostname)
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

// Changes returns how many times this master saw a new leader elected,
// the first one it saw included.
func (e *Elector) Changes() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changes
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
	if l != nil {
		e.changes++
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *Elector) setLeading(leading bool, term context.Context, resign context.CancelFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leading, e.term, e.resign = leading, term, resign
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
	self := e.termSelf()
	val, _ := json.Marshal(self)
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
	e.setLeading(true, lctx, cancel)
	e.log.Info("elected leader", "id", self.ID, "rev", el.Rev())
	err = lead(lctx, self, fence)
	e.setLeading(false, nil, nil)
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

// termSelf is this master as it campaigns for its next term: under a new
// ID in every campaign after the first.
func (e *Elector) termSelf() Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.campaigns > 0 {
		e.self.ID = mesos.NewUUID()
	}
	e.campaigns++
	return e.self
}

// Self returns this master's own info, with the ID of its current or
// latest term.
func (e *Elector) Self() Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.self
}
