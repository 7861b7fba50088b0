package master

import "sync"

// queue is an unbounded FIFO between the master, which must never block on a
// slow peer while holding its lock, and the goroutine that writes a peer's
// stream. A peer that cannot keep up is cut off by its stream's writer, not
// by dropping events here, because launches and kills must not be lost.
type queue[T any] struct {
	mu     sync.Mutex // guards items and closed
	items  []T
	closed bool
	ready  chan struct{} // has a token while items is non-empty or closed
}

func newQueue[T any]() *queue[T] { return &queue[T]{ready: make(chan struct{}, 1)} }

func (q *queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// push appends v; it reports false once the queue is closed.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, v)
	q.signal()
	return true
}

// close ends the queue; pending items are still drained.
func (q *queue[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

// drain returns everything queued and whether the queue is closed and empty.
// Callers wait on q.ready between drains.
func (q *queue[T]) drain() (items []T, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, q.items = q.items, nil
	if q.closed && len(items) == 0 {
		return nil, true
	}
	if q.closed {
		q.signal() // come back for the done report
	}
	return items, false
}
