// Package framework is the built-in Marathon framework of the leading
// masterd: it keeps the root group of app definitions, turns changes into
// deployments, launches instances on the master's offers, relaunches failed
// ones with backoff, kills surplus ones and carries rolling upgrades through,
// gated on health. It talks to the master through the Mesos v1 scheduler
// calls and events, in process, and persists what Marathon persists in etcd
// (apps and their versions, groups, deployments, instances).
package framework

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/events"
	"corral/masterd/marathon/match"
	"corral/masterd/marathon/model"
	"corral/masterd/state"
	"corral/mesos"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Mesos is the master as a framework sees it; *master.Master satisfies it.
type Mesos interface {
	Subscribe(ctx context.Context, info mesos.FrameworkInfo) (<-chan mesos.Event, error)
	Call(ctx context.Context, call mesos.Call) error
}

// Config tunes the framework. Defaults follow Marathon's flags.
type Config struct {
	Name            string        // --framework_name: marathon
	User            string        // --mesos_user: tasks' user when the app names none ("" = the agent's)
	Hostname        string        // this master's hostname, in the framework info
	WebuiURL        string        // this master's Marathon URL
	FailoverTimeout time.Duration // --failover_timeout: one week
	ServicePorts    match.ServicePorts
	// DeclineRefuse is how long declined offers stay away when no app
	// needs them (Marathon's --decline_offer_duration, 120 s).
	DeclineRefuse time.Duration
	// ReconcileInterval is how often every task is reconciled with the
	// master (--reconciliation_interval, 10 min).
	ReconcileInterval time.Duration
	// TaskLaunchTimeout is how long a task may stay staged before it is
	// killed and replaced (--task_launch_timeout, 5 min).
	TaskLaunchTimeout time.Duration
	// Tick is how often timers (backoff, timeouts, deployment progress)
	// are checked besides every event.
	Tick time.Duration
	// BridgeNetwork is the Mesos network name of container/bridge
	// (--mesos_bridge_name).
	BridgeNetwork string
	// MaxInstancesPerOffer caps launches from one offer
	// (--max_instances_per_offer, 100 in recent Marathon).
	MaxInstancesPerOffer int
	// MaxVersions is how many versions of an app are kept, the newest
	// (--max_versions, 50).
	MaxVersions int
}

// DefaultConfig returns Marathon's defaults.
func DefaultConfig() Config {
	return Config{
		Name:                 "marathon",
		FailoverTimeout:      7 * 24 * time.Hour,
		ServicePorts:         match.DefaultServicePorts(),
		DeclineRefuse:        120 * time.Second,
		ReconcileInterval:    10 * time.Minute,
		TaskLaunchTimeout:    5 * time.Minute,
		Tick:                 200 * time.Millisecond,
		BridgeNetwork:        "mesos-bridge",
		MaxInstancesPerOffer: 100,
		MaxVersions:          50,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("invalid framework name: empty")
	case c.DeclineRefuse < 0:
		return fmt.Errorf("invalid decline refuse duration %v, must be >= 0", c.DeclineRefuse)
	case c.ReconcileInterval <= 0:
		return fmt.Errorf("invalid reconcile interval %v, must be > 0", c.ReconcileInterval)
	case c.TaskLaunchTimeout <= 0:
		return fmt.Errorf("invalid task launch timeout %v, must be > 0", c.TaskLaunchTimeout)
	case c.Tick <= 0:
		return fmt.Errorf("invalid tick %v, must be > 0", c.Tick)
	case c.BridgeNetwork == "":
		return errors.New("invalid bridge network name: empty")
	case c.MaxInstancesPerOffer < 1:
		return fmt.Errorf("invalid max instances per offer %d, must be >= 1", c.MaxInstancesPerOffer)
	case c.MaxVersions < 1:
		return fmt.Errorf("invalid max versions %d, must be >= 1", c.MaxVersions)
	}
	return c.ServicePorts.Validate()
}

// Framework is the Marathon framework of one leadership term. Its methods
// are safe for concurrent use.
type Framework struct {
	cfg   Config
	log   *slog.Logger
	mesos Mesos
	rec   records
	bus   *events.Bus
	now   func() time.Time

	kick chan struct{}  // wakes the loop; capacity 1
	wg   sync.WaitGroup // readiness checks; Run waits for them

	// changeMu is held by whoever changes the state (the scheduler loop,
	// the API's writers) for the whole change, etcd I/O included, so that
	// a change prepared under mu can be written with mu released and
	// applied after. Taken before sendMu and mu.
	changeMu sync.Mutex
	sendMu   sync.Mutex // held while sending queued calls, so they leave in order; taken before mu

	mu          sync.Mutex // guards everything below
	ready       bool       // loaded from etcd
	meta        frameworkMeta
	root        model.Root
	instances   map[string]*instance            // by task ID
	byApp       map[string]map[string]*instance // the same, by app ID and task ID
	apps        map[string]*appRuntime
	deployments []*deployment // running, oldest first
	seq         int64         // last deployment sequence number
	suppressed  bool
	filtered    bool // offers were declined with a filter since the last REVIVE
	// Reconciliation after a subscription is repeated, with backoff, for
	// the instances the master has not answered for yet.
	reconcileAt      time.Time
	reconcileBackoff time.Duration
	subscribed       bool
	stale            bool // view is older than the state
	catchingUp       bool // a catchUp is scheduled
	rnd              *rand.Rand
	calls            []mesos.Call  // made under mu, sent after it is released
	writes           []clientv3.Op // records changed under mu, written after it is released

	// view is the last view published; readers load it without a lock.
	view atomic.Pointer[model.View]
	// versions lists the stored versions per app, oldest first; replaced,
	// never changed in place, by the holder of mu.
	versions atomic.Pointer[map[string][]string]
	// frameworkID is meta.FrameworkID, for readers.
	frameworkID atomic.Pointer[string]
}

// appRuntime is what the framework remembers of an app besides its
// definition and instances; not persisted (as in Marathon).
type appRuntime struct {
	delayUntil  time.Time     // no launches before
	delay       time.Duration // current backoff
	lastFailure *marathon.TaskFailure
	since       time.Time // queued since
	offers      int       // offers processed while queued
	unused      int
	lastReason  string
}

// New returns a framework persisting through store (the leader's fenced
// store) and publishing to bus.
func New(cfg Config, store *state.Store, m Mesos, bus *events.Bus, log *slog.Logger) (*Framework, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Framework{
		cfg:       cfg,
		log:       log.With("component", "marathon"),
		mesos:     m,
		rec:       newRecords(store),
		bus:       bus,
		now:       time.Now,
		kick:      make(chan struct{}, 1),
		instances: map[string]*instance{},
		byApp:     map[string]map[string]*instance{},
		apps:      map[string]*appRuntime{},
		rnd:       rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x636f7272616c)),
	}
	f.view.Store(&model.View{Root: model.Root{}.Clone(), Apps: map[string]*model.AppStatus{}})
	f.versions.Store(&map[string][]string{})
	f.frameworkID.Store(new(string))
	return f, nil
}

// Load reads the framework's state from etcd. Run calls it; the API may
// serve once it returned.
func (f *Framework) Load(ctx context.Context) error {
	l, err := f.rec.load(ctx)
	if err != nil {
		return fmt.Errorf("loading marathon state: %w", err)
	}
	versions, err := f.rec.loadVersions(ctx, l.root)
	if err != nil {
		return fmt.Errorf("loading marathon app versions: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.meta, f.root, f.deployments = l.meta, l.root, l.deployments
	f.versions.Store(&versions)
	f.frameworkID.Store(&l.meta.FrameworkID)
	f.instances, f.byApp = map[string]*instance{}, map[string]map[string]*instance{}
	for _, in := range l.instances {
		f.addInstance(in)
	}
	for _, d := range f.deployments {
		f.seq = max(f.seq, d.Seq)
	}
	f.ready = true
	f.changed()
	f.publishView()
	return nil
}

// Run subscribes to the master and schedules until ctx ends.
func (f *Framework) Run(ctx context.Context) error {
	f.mu.Lock()
	ready := f.ready
	f.mu.Unlock()
	if !ready {
		if err := f.Load(ctx); err != nil {
			return err
		}
	}
	defer f.wg.Wait()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f.session(ctx)
		if ctx.Err() != nil {
			break
		}
		f.log.Warn("scheduler session ended, subscribing again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

// session is one subscription to the master.
func (f *Framework) session(ctx context.Context) error {
	f.mu.Lock()
	info := mesos.FrameworkInfo{
		ID:              f.meta.FrameworkID,
		Name:            f.cfg.Name,
		User:            f.cfg.User,
		Role:            match.DefaultRole,
		Hostname:        f.cfg.Hostname,
		WebuiURL:        f.cfg.WebuiURL,
		FailoverTimeout: f.cfg.FailoverTimeout.Seconds(),
		Checkpoint:      true,
	}
	f.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := f.mesos.Subscribe(sctx, info)
	if err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	defer func() {
		f.mu.Lock()
		f.subscribed = false
		f.mu.Unlock()
	}()
	tick := time.NewTicker(f.cfg.Tick)
	defer tick.Stop()
	reconcile := time.NewTicker(f.cfg.ReconcileInterval)
	defer reconcile.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-evs:
			if !ok {
				return errClosed
			}
			if err := f.receive(ctx, ev, evs); err != nil {
				return err
			}
		case <-tick.C:
			f.locked(func() { f.step(ctx) })
		case <-f.kick:
			f.locked(func() { f.step(ctx) })
		case <-reconcile.C:
			f.locked(func() { f.reconcile(ctx, false) })
		}
	}
}

// errClosed ends a session whose event stream the master closed.
var errClosed = errors.New("the master closed the event stream")

// maxUpdateBatch bounds the status updates applied and written together.
const maxUpdateBatch = 512

// receive handles ev and, when it is a status update, the updates already
// waiting behind it in evs, together (see updates); an event of another
// type found there is handled after them, in order.
func (f *Framework) receive(ctx context.Context, ev mesos.Event, evs <-chan mesos.Event) error {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	for {
		if ev.Type != mesos.EventTypeUpdate {
			return f.handle(ctx, ev)
		}
		sts := []mesos.TaskStatus{*ev.Update}
		var next *mesos.Event
		closed := false
	gather:
		for len(sts) < maxUpdateBatch {
			select {
			case e, ok := <-evs:
				switch {
				case !ok:
					closed = true
					break gather
				case e.Type == mesos.EventTypeUpdate:
					sts = append(sts, *e.Update)
				default:
					next = &e
					break gather
				}
			default:
				break gather
			}
		}
		f.updates(ctx, sts)
		f.step(ctx)
		switch {
		case closed:
			return errClosed
		case next == nil:
			return nil
		}
		ev = *next
	}
}

// locked runs fn holding changeMu.
func (f *Framework) locked(fn func()) {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	fn()
}

// handle processes one event from the master. Callers hold changeMu.
func (f *Framework) handle(ctx context.Context, ev mesos.Event) error {
	switch ev.Type {
	case mesos.EventTypeSubscribed:
		if err := f.subscribedAs(ctx, ev.Subscribed.FrameworkID); err != nil {
			return err
		}
		f.reconcile(ctx, true)
		f.step(ctx)
	case mesos.EventTypeOffers:
		f.offers(ctx, ev.Offers)
	case mesos.EventTypeUpdate:
		f.updates(ctx, []mesos.TaskStatus{*ev.Update})
		f.step(ctx)
	case mesos.EventTypeError:
		return fmt.Errorf("the master reported an error: %s", ev.Error.Message)
	}
	return nil
}

// subscribedAs records the subscription. Callers hold changeMu.
func (f *Framework) subscribedAs(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribed = true
	f.suppressed = false
	for _, in := range f.instances {
		in.seen = false
	}
	f.reconcileBackoff = time.Second
	f.reconcileAt = f.now().Add(f.reconcileBackoff)
	if f.meta.FrameworkID == id {
		return nil
	}
	f.meta.FrameworkID = id
	f.frameworkID.Store(&id)
	meta := f.meta
	f.mu.Unlock()
	err := f.rec.meta.Put(ctx, "marathon", meta)
	f.mu.Lock()
	if err != nil {
		return fmt.Errorf("storing the framework ID: %w", err)
	}
	f.log.Info("subscribed", "framework", id)
	return nil
}

// reconcile asks the master for the state of every known task (explicit),
// and, unless first, for every task the master knows (implicit).
func (f *Framework) reconcile(ctx context.Context, explicitOnly bool) {
	f.mu.Lock()
	var tasks []mesos.ReconcileTask
	for _, in := range f.instances {
		tasks = append(tasks, mesos.ReconcileTask{TaskID: in.TaskID, AgentID: in.AgentID})
	}
	id := f.meta.FrameworkID
	f.mu.Unlock()
	if len(tasks) > 0 {
		f.call(ctx, mesos.Call{FrameworkID: id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{Tasks: tasks}})
	}
	if !explicitOnly {
		f.call(ctx, mesos.Call{FrameworkID: id, Type: mesos.CallReconcile, Reconcile: &mesos.CallReconcileArgs{}})
	}
}

// call sends one call; failures are logged (the state converges on the
// next tick or reconciliation).
func (f *Framework) call(ctx context.Context, c mesos.Call) {
	if err := f.mesos.Call(ctx, c); err != nil && ctx.Err() == nil {
		f.log.Warn("scheduler call failed", "type", c.Type, "err", err)
	}
}

// flush writes the records changed under mu, then sends the calls made
// under it: a task is stored before it launches, a status before it is
// acknowledged. Callers hold changeMu, and not mu: etcd is not waited for
// under it.
func (f *Framework) flush(ctx context.Context) {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	f.mu.Lock()
	calls, writes := f.calls, f.writes
	f.calls, f.writes = nil, nil
	f.mu.Unlock()
	if err := f.rec.store.ApplyInBatches(ctx, lastPerKey(writes)...); err != nil {
		f.log.Warn("storing instances and deployments failed", "records", len(writes), "err", err)
	}
	for _, c := range calls {
		f.call(ctx, c)
	}
}

// queueWrite adds a record to write after mu is released. Callers hold mu.
func (f *Framework) queueWrite(op clientv3.Op, err error) {
	if err != nil {
		f.log.Warn("encoding a record failed", "err", err)
		return
	}
	f.writes = append(f.writes, op)
}

// lastPerKey keeps the last of the ops on each key, in order: etcd
// refuses a transaction that names a key twice.
func lastPerKey(ops []clientv3.Op) []clientv3.Op {
	last := make(map[string]int, len(ops))
	for i, op := range ops {
		last[string(op.KeyBytes())] = i
	}
	out := ops[:0:0]
	for i, op := range ops {
		if last[string(op.KeyBytes())] == i {
			out = append(out, op)
		}
	}
	return out
}

// queueCall adds a call to send after mu is released. Callers hold mu.
func (f *Framework) queueCall(c mesos.Call) {
	c.FrameworkID = f.meta.FrameworkID
	f.calls = append(f.calls, c)
}

// wake makes the loop step soon.
func (f *Framework) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// addInstance records an instance. Callers hold mu.
func (f *Framework) addInstance(in *instance) {
	f.instances[in.TaskID] = in
	m := f.byApp[in.AppID]
	if m == nil {
		m = map[string]*instance{}
		f.byApp[in.AppID] = m
	}
	m[in.TaskID] = in
}

// removeInstance forgets an instance. Callers hold mu.
func (f *Framework) removeInstance(in *instance) {
	delete(f.instances, in.TaskID)
	if m := f.byApp[in.AppID]; m != nil {
		delete(m, in.TaskID)
		if len(m) == 0 {
			delete(f.byApp, in.AppID)
		}
	}
}

// changed marks the view stale and schedules its publication. Readers
// publish a stale view themselves when mu is free, but one that finds mu
// held gets the last view: without catchUp, a client that reads once
// after an event (a UI, a router) could keep a view older than the event
// until the next change. Callers hold mu.
func (f *Framework) changed() {
	f.stale = true
	if !f.catchingUp {
		f.catchingUp = true
		time.AfterFunc(catchUpDelay, f.catchUp)
	}
}

// catchUpDelay coalesces the changes of a burst (100 status updates) into
// one published view.
const catchUpDelay = 10 * time.Millisecond

// catchUp publishes the view changed left stale.
func (f *Framework) catchUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.catchingUp = false
	f.publishView()
}

// publishView publishes a view of the state if the last one is stale.
// Callers hold mu.
func (f *Framework) publishView() {
	if f.stale {
		f.view.Store(f.buildView())
		f.stale = false
	}
}

// runtime returns the runtime record of an app, creating it. Callers hold mu.
func (f *Framework) runtime(appID string) *appRuntime {
	r := f.apps[appID]
	if r == nil {
		r = &appRuntime{}
		f.apps[appID] = r
	}
	return r
}

// publish sends an event to the bus.
func (f *Framework) publish(e marathon.Event) {
	if f.bus != nil {
		f.bus.Publish(e)
	}
}

// FrameworkID returns the framework's Mesos ID, empty before the first
// subscription.
func (f *Framework) FrameworkID() string { return *f.frameworkID.Load() }
