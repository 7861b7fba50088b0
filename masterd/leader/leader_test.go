package leader_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/masterd/leader"
	"corral/masterd/state"
	"corral/masterd/state/statetest"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type candidate struct {
	el     *leader.Elector
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	fence  clientv3.Cmp
	terms  int
	ids    []string // the term IDs, in order
}

func start(t *testing.T, cli *clientv3.Client, id string) *candidate {
	return startAs(t, cli, leader.Info{ID: id, Hostname: id, Port: 5050})
}

func startAs(t *testing.T, cli *clientv3.Client, self leader.Info) *candidate {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &candidate{el: leader.New(cli, self, 2*time.Second, log), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		c.el.Run(ctx, func(lctx context.Context, self leader.Info, fence clientv3.Cmp) error {
			c.mu.Lock()
			c.fence, c.terms, c.ids = fence, c.terms+1, append(c.ids, self.ID)
			c.mu.Unlock()
			<-lctx.Done()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func TestExactlyOneLeaderAndHandover(t *testing.T) {
	e, _ := statetest.Start(t)
	a := start(t, e.Client, "a")
	b := start(t, e.Client, "b")
	waitFor(t, 5*time.Second, "a leader", func() bool { return a.el.IsLeader() || b.el.IsLeader() })
	if a.el.IsLeader() && b.el.IsLeader() {
		t.Fatal("both candidates lead")
	}
	lead, standby := a, b
	if b.el.IsLeader() {
		lead, standby = b, a
	}
	waitFor(t, 5*time.Second, "the standby to see the leader", func() bool {
		l, ok := standby.el.Leader()
		return ok && l.ID == lead.el.Self().ID
	})
	lead.mu.Lock()
	oldFence := lead.fence
	lead.mu.Unlock()

	lead.cancel()
	<-lead.done
	waitFor(t, 5*time.Second, "the standby to lead", standby.el.IsLeader)
	waitFor(t, 5*time.Second, "the new leader to be observed", func() bool {
		l, ok := standby.el.Leader()
		return ok && l.ID == standby.el.Self().ID
	})
	// The old leader's fence no longer holds: its writes are refused.
	err := state.NewStore(e.Client).Fenced(oldFence).Frameworks().Put(context.Background(), "x", state.Framework{})
	if !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("write fenced on the old term = %v, want ErrNotLeader", err)
	}
}

func TestAbdicateHandsOver(t *testing.T) {
	e, _ := statetest.Start(t)
	a := start(t, e.Client, "a")
	waitFor(t, 5*time.Second, "a to lead", a.el.IsLeader)
	b := start(t, e.Client, "b")
	waitFor(t, 5*time.Second, "b to see a", func() bool { l, ok := b.el.Leader(); return ok && l.ID == "a" })
	if !a.el.Abdicate() {
		t.Fatal("Abdicate() = false for the leader")
	}
	waitFor(t, 5*time.Second, "b to lead after a abdicated", b.el.IsLeader)
	if b.el.Abdicate() == false {
		t.Fatal("b cannot abdicate")
	}
	// a campaigns again and wins after b abdicates.
	// IsLeader turns true just before the term's lead func runs.
	var ids []string
	waitFor(t, 5*time.Second, "a to lead its second term", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		ids = slices.Clone(a.ids)
		return a.el.IsLeader() && a.terms == 2
	})
	// Each term is a new master to agents and frameworks: IDs derived from
	// the master's (agent IDs <master>-S<n>) must not repeat.
	if ids[0] != "a" || ids[1] == "a" || ids[1] == "" {
		t.Fatalf("a's term IDs = %q, want \"a\" and then a new one", ids)
	}
	// b reads the new key back when its observer sees it.
	waitFor(t, 5*time.Second, "b to see a's second term", func() bool {
		l, ok := b.el.Leader()
		return ok && l.ID == ids[1]
	})
}

// TestOwnStaleKeyIsNoLeader: a master restarted after kill -9 finds its
// previous process's election key (another ID, the same address) until
// that lease expires. It answers "no leader" meanwhile, never itself, and
// leads once the old lease is gone.
func TestOwnStaleKeyIsNoLeader(t *testing.T) {
	e, _ := statetest.Start(t)
	ctx := context.Background()
	old := leader.Info{ID: "old", Hostname: "m1", IP: "10.0.0.1", Port: 5050}
	lease, err := e.Client.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	val, _ := json.Marshal(old)
	if _, err := e.Client.Put(ctx, leader.Key+"/stale", string(val), clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	other := start(t, e.Client, "other") // elsewhere: sees the old process lead
	waitFor(t, 5*time.Second, "another master to see the stale key", func() bool { l, ok := other.el.Leader(); return ok && l.ID == "old" })

	restarted := startAs(t, e.Client, leader.Info{ID: "new", Hostname: "m1", IP: "10.0.0.1", Port: 5050})
	waitFor(t, 5*time.Second, "the restarted master to lead once the old lease expired", func() bool {
		if l, ok := restarted.el.Leader(); ok && l.ID == "old" {
			t.Fatalf("the restarted master names its previous process %+v as the leader: a redirect to itself", l)
		}
		return restarted.el.IsLeader() || other.el.IsLeader()
	})
}

// TestStepsDownWhenEtcdGoesAway: a leader cut off from etcd stops leading
// within its session TTL, and no longer names itself as the leader (a
// standby would redirect to it, and it would redirect to itself).
func TestStepsDownWhenEtcdGoesAway(t *testing.T) {
	_, url := statetest.Start(t)
	proxy := statetest.StartProxy(t, url)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{proxy.URL}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	a := start(t, cli, "a")
	t.Cleanup(func() { a.cancel(); <-a.done; cli.Close() }) // runs before start's cleanup
	waitFor(t, 5*time.Second, "a to lead", a.el.IsLeader)
	waitFor(t, 5*time.Second, "a to see itself lead", func() bool { l, ok := a.el.Leader(); return ok && l.ID == "a" })

	proxy.Cut() // etcd is gone: a's session cannot be kept alive
	waitFor(t, 5*time.Second, "a to step down", func() bool { return !a.el.IsLeader() })
	if l, ok := a.el.Leader(); ok && l.ID == "a" {
		t.Fatalf("after stepping down Leader() = %+v, want no leader rather than itself", l)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.terms != 1 {
		t.Fatalf("a led %d terms, want 1", a.terms)
	}
}

// TestRunReturnsPromptlyWithoutEtcd: stopping a master that lost etcd must
// not wait on etcd calls that cannot succeed.
func TestRunReturnsPromptlyWithoutEtcd(t *testing.T) {
	_, url := statetest.Start(t)
	proxy := statetest.StartProxy(t, url)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{proxy.URL}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	a := start(t, cli, "a")
	waitFor(t, 5*time.Second, "a to lead", a.el.IsLeader)
	proxy.Cut()
	waitFor(t, 5*time.Second, "a to step down", func() bool { return !a.el.IsLeader() })
	start := time.Now()
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
	}
	// An etcd call left to time out takes 5 s; a prompt return is far less
	// even in a stalled -race test process.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run returned %v after its context ended, want under 2s", d)
	}
}

// A master that has just won names itself as the leader at once: a client
// reading /master/state from it then must not see a state without one.
func TestLeaderNamesItselfOnceElected(t *testing.T) {
	e, _ := statetest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	el := leader.New(e.Client, leader.Info{ID: "a", Hostname: "a", Port: 5050}, 2*time.Second, log)
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan leader.Info, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		el.Run(ctx, func(lctx context.Context, self leader.Info, _ clientv3.Cmp) error {
			l, ok := el.Leader()
			if !ok {
				l = leader.Info{}
			}
			seen <- l
			<-lctx.Done()
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	select {
	case l := <-seen:
		if l.ID != "a" {
			t.Fatalf("Leader() as the term began = %+v, want this master (a)", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not elected within 5s")
	}
}

// A master whose term has ended (it abdicated, or its session expired)
// no longer names itself while it steps down, however long its lead func
// takes to return (flushing the registry to a slow etcd): clients are not
// sent to a master that will not serve them.
func TestSteppingDownNamesNotItself(t *testing.T) {
	e, _ := statetest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	el := leader.New(e.Client, leader.Info{ID: "a", Hostname: "a", Port: 5050}, 2*time.Second, log)
	ctx, cancel := context.WithCancel(context.Background())
	// Only the first term steps down slowly; the test may be slower to
	// reach its receive than the term is to end (-race), so the signal
	// is buffered rather than dropped.
	stepping, release := make(chan struct{}, 1), make(chan struct{})
	var terms atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		el.Run(ctx, func(lctx context.Context, _ leader.Info, _ clientv3.Cmp) error {
			<-lctx.Done()
			if terms.Add(1) == 1 {
				stepping <- struct{}{}
				<-release // a slow step-down
			}
			return nil
		})
	}()
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer func() { free(); cancel(); <-done }()
	waitFor(t, 5*time.Second, "a to lead", el.IsLeader)
	if l, ok := el.Leader(); !ok || l.ID != "a" {
		t.Fatalf("Leader() while leading = %+v, %v; want a", l, ok)
	}
	if !el.Abdicate() {
		t.Fatal("Abdicate() = false for the leader")
	}
	select {
	case <-stepping:
	case <-time.After(5 * time.Second):
		t.Fatal("the term did not end")
	}
	if l, ok := el.Leader(); ok && l.ID == "a" {
		t.Errorf("Leader() while stepping down = %+v, want no leader named after itself", l)
	}
	free()
}
