// Package events is the event bus of the built-in Marathon framework and
// its Server-Sent-Events endpoint, /v2/events.
//
// The framework publishes each event once; the bus encodes it once (twice
// for deployment events, whose plans have a light variant) and hands the
// same bytes to every subscriber's queue. Publishing never waits for a
// subscriber: one whose queue would hold more than Config.MaxBytes is
// dropped and its stream ends, as a client that cannot keep up must
// resynchronise from the REST API anyway. The bound is in bytes, not
// events, because events differ by orders of magnitude (a deployment plan
// carries whole groups): a stalled reader costs at most MaxBytes of frames
// it alone keeps alive.
package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"corral/marathon"
)

// Errors that end a subscription, as Subscription.Err reports them.
var (
	// ErrClosed ends every subscription when the bus closes (leadership
	// ended), and refuses new ones.
	ErrClosed = errors.New("event bus closed")
	// ErrSlowConsumer ends a subscription whose queue overflowed.
	ErrSlowConsumer = errors.New("event subscriber too slow: queue full")
	// ErrUnsubscribed ends a subscription its owner closed.
	ErrUnsubscribed = errors.New("event subscription closed")
)

// Bus fans published events out to subscribers. Its methods are safe for
// concurrent use.
type Bus struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex // guards subs, closed and each subscription's err
	subs   map[*Subscription]struct{}
	closed bool
}

// New returns an open bus. Fields of cfg that Validate would reject take
// their defaults.
func New(cfg Config, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{cfg: cfg.withDefaults(), log: log, subs: map[*Subscription]struct{}{}}
}

// Subscription is one subscriber's queue of frames.
type Subscription struct {
	bus    *Bus
	filter map[string]struct{} // nil: every type
	light  bool
	remote string        // client address, for the log; empty in process
	ready  chan struct{} // signalled when frames are queued or the subscription ends
	done   chan struct{}
	err    error // why it ended; guarded by bus.mu

	mu    sync.Mutex // guards queue, bytes and ended; taken after bus.mu, never before
	queue []Frame
	// bytes counts the queued frames and those taken but not yet
	// released: a frame being written to a stalled socket still costs
	// memory.
	bytes int
	taken int // bytes of the frames the last take returned
	ended bool
}

// Subscribe starts a subscription to the events whose type is in filter
// (all events when filter is empty; empty strings are ignored). With light,
// deployment plans come without their original and target groups, as
// /v2/events?plan-format=light sends them. It fails with ErrClosed once the
// bus is closed.
func (b *Bus) Subscribe(filter []string, light bool) (*Subscription, error) {
	return b.subscribe(filter, light, "")
}

func (b *Bus) subscribe(filter []string, light bool, remote string) (*Subscription, error) {
	s := &Subscription{
		bus:    b,
		light:  light,
		remote: remote,
		ready:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	for _, t := range filter {
		if t == "" {
			continue
		}
		if s.filter == nil {
			s.filter = map[string]struct{}{}
		}
		s.filter[t] = struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// Next returns the subscription's next frame, in publishing order,
// waiting for one until ctx ends. Once the subscription ended, it returns
// the frames queued before, then the reason it ended (Err). A frame counts
// against the subscription's MaxBytes until the next call of Next.
func (s *Subscription) Next(ctx context.Context) (Frame, error) {
	for {
		fs, err := s.take(1)
		if len(fs) == 1 {
			return fs[0], nil
		}
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-s.ready:
		}
	}
}

// take releases the frames the previous take returned (their writing is
// over), then returns up to max queued frames (all of them when max is 0).
// With none queued it returns the reason the subscription ended, or nil
// while it lasts.
func (s *Subscription) take(max int) ([]Frame, error) {
	s.mu.Lock()
	s.bytes -= s.taken
	s.taken = 0
	n := len(s.queue)
	if max > 0 && n > max {
		n = max
	}
	if n == 0 {
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return nil, s.Err()
		}
		return nil, nil
	}
	fs := make([]Frame, n)
	copy(fs, s.queue)
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil // let the backing array go
	}
	for _, f := range fs {
		s.taken += len(f.sse)
	}
	s.mu.Unlock()
	return fs, nil
}

// release releases the frames the last take returned.
func (s *Subscription) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes -= s.taken
	s.taken = 0
}

// Len returns how many frames are queued.
func (s *Subscription) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Done is closed when the subscription ends: closed by its owner, dropped
// as too slow, or ended with the bus.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended (ErrUnsubscribed, ErrSlowConsumer
// or ErrClosed), or nil while it lasts.
func (s *Subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once and after
// the subscription ended otherwise.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.remove(s, ErrUnsubscribed)
}

// accepts reports whether the subscription wants events of type typ.
func (s *Subscription) accepts(typ string) bool {
	if s.filter == nil {
		return true
	}
	_, ok := s.filter[typ]
	return ok
}

// remove ends s with err unless it has ended already. Callers hold b.mu.
func (b *Bus) remove(s *Subscription, err error) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	s.err = err
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	close(s.done)
	s.signal()
}

// signal wakes a waiting reader; one pending wake-up is enough.
func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// push queues f unless that would take s over max bytes. A frame is always
// queued when nothing else is, however large: a reader that keeps up gets
// every event.
func (s *Subscription) push(f Frame, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes > 0 && s.bytes+len(f.sse) > max {
		return false
	}
	s.queue = append(s.queue, f)
	s.bytes += len(f.sse)
	return true
}

// Bytes returns the bytes the subscription holds: queued frames and those
// taken but not released.
func (s *Subscription) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Publish sends e to every subscriber that accepts its type, without ever
// blocking on one: a subscriber whose queue is full is dropped. e is
// encoded before Publish returns, so the caller may change what it points
// to afterwards. Events published after Close are discarded.
func (b *Bus) Publish(e marathon.Event) {
	if e == nil {
		return
	}
	typ := e.Type()
	b.mu.Lock()
	wantFull, wantLight := b.wants(typ)
	b.mu.Unlock()
	if !wantFull && !wantLight {
		return
	}

	// Encode outside the lock: a plan with its groups can be large, and
	// subscribers and other publishers need not wait for it.
	var full, light Frame
	var err error
	le, isHeavy := lightEvent(e)
	if wantFull || !isHeavy {
		if full, err = newFrame(typ, e); err != nil {
			b.log.Error("dropping event that does not encode", "type", typ, "err", err)
			return
		}
	}
	switch {
	case !isHeavy:
		light = full
	case wantLight:
		if light, err = newFrame(typ, le); err != nil {
			b.log.Error("dropping event that does not encode", "type", typ, "err", err)
			return
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.accepts(typ) {
			continue
		}
		f := full
		if s.light {
			f = light
		}
		if f.sse == nil {
			continue // subscribed while this event was being encoded
		}
		if !s.push(f, b.cfg.MaxBytes) {
			b.log.Warn("dropping slow event stream subscriber", "remote", s.remote, "held_bytes", s.Bytes(), "max_bytes", b.cfg.MaxBytes, "type", typ)
			b.remove(s, ErrSlowConsumer)
			continue
		}
		s.signal()
	}
}

// wants reports which encodings of an event of type typ the subscribers
// need. Callers hold b.mu.
func (b *Bus) wants(typ string) (full, light bool) {
	for s := range b.subs {
		if !s.accepts(typ) {
			continue
		}
		if s.light {
			light = true
		} else {
			full = true
		}
		if full && light {
			break
		}
	}
	return full, light
}

// Subscribers returns the number of live subscriptions.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription with ErrClosed, which ends their streams,
// and refuses new ones. The bus of a leadership term closes when the term
// ends.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		b.remove(s, ErrClosed)
	}
}
