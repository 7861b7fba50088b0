package status

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxInFlight bounds concurrent Sender calls, so that a reconnect with many
// tasks does not open a request per task at once.
const maxInFlight = 16

// Run sends the heads of the tasks' queues until ctx ends, then waits for
// the Sender calls it started and returns nil. Each head is sent when it
// becomes the head, and again after each backoff until acknowledged. Only
// one Run may be active.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("status manager is already running")
	}
	defer m.running.Store(false)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, maxInFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if next := m.dispatch(ctx, &wg, slots); next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.kick:
		case <-timer.C:
		}
	}
}

// dispatch starts a send for every head that is due and returns when the
// next one will be (zero if none is waiting on a timer).
func (m *Manager) dispatch(ctx context.Context, wg *sync.WaitGroup, slots chan struct{}) (next time.Time) {
	now := time.Now()
	for _, s := range m.all() {
		s.mu.Lock()
		if s.removed || s.sending || len(s.pending) == 0 {
			s.mu.Unlock()
			continue
		}
		if s.due.After(now) {
			if next.IsZero() || s.due.Before(next) {
				next = s.due
			}
			s.mu.Unlock()
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			// All slots busy: the send that frees one wakes Run again.
			s.mu.Unlock()
			return next
		}
		s.sending = true
		head, epoch := s.pending[0], s.epoch
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.sendHead(ctx, s, head, epoch)
			<-slots
			m.wake()
		}()
	}
	return next
}

// sendHead sends a head once and schedules its next attempt.
func (m *Manager) sendHead(ctx context.Context, s *stream, head entry, epoch uint64) {
	err := m.send(ctx, head.frameworkID, head.status)
	s.mu.Lock()
	s.sending = false
	if s.epoch != epoch {
		// Acknowledged or reconnected meanwhile: the head is due now.
		s.mu.Unlock()
		return
	}
	wait := s.backoff
	s.due = time.Now().Add(wait)
	s.backoff = min(2*wait, m.cfg.MaxBackoff)
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		m.log.Debug("sending a status update failed", "framework", head.frameworkID, "task", head.status.TaskID, "state", head.status.State, "uuid", head.status.UUID, "retry_in", wait, "err", err)
	}
}
