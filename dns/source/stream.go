package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"corral/mesos"
)

// errNoOperatorAPI says the master does not stream its changes: it is older
// than Mesos 1.1 or not Mesos at all. The source polls it instead.
var errNoOperatorAPI = errors.New("master does not serve the operator API's SUBSCRIBE")

// missedHeartbeats is how many heartbeat intervals may pass without a
// record before the stream is taken for dead, as the Mesos docs advise.
const missedHeartbeats = 5

// eventBuffer bounds the events read ahead of the goroutine applying them.
const eventBuffer = 1024

// stream follows one SUBSCRIBE stream until it ends, applying its events to
// st and emitting snapshots. synced reports whether SUBSCRIBED arrived.
func (s *Source) stream(ctx context.Context, leader string, st *state, emit func(mesos.MasterState)) (synced bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.subscribe(ctx, cancel, leader)
	if err != nil {
		return false, err
	}
	addr := resp.Request.URL.Host // the leader, after any redirect
	var wg sync.WaitGroup
	defer func() {
		cancel()
		resp.Body.Close()
		wg.Wait()
	}()

	events := make(chan mesos.OperatorEvent, eventBuffer)
	var readErr error // set before events is closed
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(events)
		readErr = readEvents(ctx, resp.Body, events)
	}()
	heads := make(chan headResult, 1)
	fetch := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.fetchHeads(ctx, addr, fetch, heads)
	}()
	request := func() {
		select {
		case fetch <- struct{}{}:
		default: // one is pending already
		}
	}

	c := coalescer{every: s.cfg.Coalesce}
	defer c.stop()
	headReady := false // /master/state read (or given up on) since SUBSCRIBED
	var headWait <-chan time.Time
	silence := missedHeartbeats * time.Duration(mesos.OperatorHeartbeatInterval*float64(time.Second))
	watchdog := time.NewTimer(silence)
	defer watchdog.Stop()

	flush := func() {
		if !synced || !headReady || !c.due() {
			return
		}
		ms := st.snapshot()
		emit(ms)
		c.emitted()
		s.mu.Lock()
		s.lastPoll = [sha256.Size]byte{}
		s.mu.Unlock()
	}
	apply := func(ev mesos.OperatorEvent) {
		if ev.Type == mesos.OperatorEventSubscribed && ev.Subscribed != nil {
			if hb := ev.Subscribed.HeartbeatIntervalSeconds; hb > 0 && hb < 3600 {
				silence = missedHeartbeats * time.Duration(hb*float64(time.Second))
			}
			// The master fields are the new leader's: read them again and
			// hold the first snapshot until they come (or RequestTimeout).
			st.head = mesos.MasterState{}
			st.setLeaderAddr(addr)
			synced, headReady = true, false
			headWait = time.After(s.cfg.RequestTimeout)
			s.log.Info("following the master's events", "master", addr)
		}
		changed, fw := st.apply(ev)
		if changed {
			c.dirty = true
		}
		if fw {
			request()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return synced, ctx.Err()
		case ev, ok := <-events:
			if !ok {
				// What arrived before the end is as valid as ever.
				c.force()
				flush()
				return synced, readErr
			}
			apply(ev)
			// Apply everything already read before a snapshot.
		drain:
			for range eventBuffer {
				select {
				case ev, ok := <-events:
					if !ok {
						break drain
					}
					apply(ev)
				default:
					break drain
				}
			}
			if synced {
				s.synced(addr, true)
			}
			watchdog.Reset(silence)
			flush()
		case <-c.timer():
			c.fired()
			flush()
		case h := <-heads:
			if h.err != nil {
				s.log.Warn("reading framework PIDs and master info failed", "master", addr, "err", h.err)
			} else {
				st.setHead(h.state)
				st.setLeaderAddr(addr)
				c.dirty = true
			}
			if !headReady {
				headReady, headWait = true, nil
				c.force()
			}
			flush()
		case <-headWait:
			headReady, headWait = true, nil
			c.force()
			flush()
		case <-watchdog.C:
			return synced, fmt.Errorf("no event or heartbeat from %s for %v", addr, silence)
		}
	}
}

// subscribe opens the SUBSCRIBE stream under ctx; it waits RequestTimeout
// at most for the answer's headers, then calls cancel.
func (s *Source) subscribe(ctx context.Context, cancel context.CancelFunc, leader string) (*http.Response, error) {
	req, err := s.newRequest(ctx, http.MethodPost, s.url(leader, mesos.OperatorAPIPath),
		strings.NewReader(`{"type":"SUBSCRIBE"}`))
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", leader, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// The request's context is the stream's: bound only the wait for the
	// answer, by cancelling the stream if it does not come in time.
	timeout := time.AfterFunc(s.cfg.RequestTimeout, cancel)
	resp, err := s.client.Do(req)
	if err != nil {
		timeout.Stop()
		return nil, fmt.Errorf("subscribing to %s: %w", leader, err)
	}
	if !timeout.Stop() {
		resp.Body.Close()
		return nil, fmt.Errorf("subscribing to %s: no answer within %v", leader, s.cfg.RequestTimeout)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusNotImplemented,
		http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answers %s %q", errNoOperatorAPI, leader, resp.Status, strings.TrimSpace(string(msg)))
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("subscribing to %s: %s", leader, resp.Status)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && mt != mesos.RecordIOContentType {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answers SUBSCRIBE with Content-Type %q", errNoOperatorAPI, leader, resp.Header.Get("Content-Type"))
	}
	return resp, nil
}

// readEvents decodes RecordIO records from r until it fails or ctx ends.
func readEvents(ctx context.Context, r io.Reader, out chan<- mesos.OperatorEvent) error {
	rr := mesos.NewRecordReader(r)
	for {
		var ev mesos.OperatorEvent
		if err := rr.Read(&ev); err != nil {
			if err == io.EOF {
				return errors.New("the master ended the event stream")
			}
			return err
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// headResult is one read of /master/state for the master fields and the
// framework PIDs.
type headResult struct {
	state mesos.MasterState
	err   error
}

// fetchHeads reads /master/state from addr once per request, one at a time.
func (s *Source) fetchHeads(ctx context.Context, addr string, requests <-chan struct{}, out chan<- headResult) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-requests:
		}
		ms, _, err := s.getState(ctx, addr)
		select {
		case out <- headResult{state: ms, err: err}:
		case <-ctx.Done():
			return
		}
	}
}

// coalescer spaces snapshots at least every apart: a change after a quiet
// spell goes out at once, the changes that follow within every go out
// together when it has passed.
type coalescer struct {
	every time.Duration
	dirty bool // changes not emitted yet
	last  time.Time
	t     *time.Timer
	armed bool
}

// due reports whether a snapshot should go out now; when one is pending
// but too early, it arms the timer.
func (c *coalescer) due() bool {
	if !c.dirty {
		return false
	}
	wait := c.every - time.Since(c.last)
	if wait <= 0 {
		return true
	}
	if !c.armed {
		if c.t == nil {
			c.t = time.NewTimer(wait)
		} else {
			c.t.Reset(wait)
		}
		c.armed = true
	}
	return false
}

// force makes the pending changes due at once.
func (c *coalescer) force() { c.last = time.Time{} }

func (c *coalescer) emitted() { c.dirty, c.last = false, time.Now() }

func (c *coalescer) fired() { c.armed = false }

// timer is the channel of the armed timer, nil when none is armed.
func (c *coalescer) timer() <-chan time.Time {
	if !c.armed {
		return nil
	}
	return c.t.C
}

func (c *coalescer) stop() {
	if c.t != nil {
		c.t.Stop()
	}
}
