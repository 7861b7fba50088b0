package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corral/atomicfile"
	"corral/mesos"
)

// compactAt is the log length from which an acknowledgement rewrites the log
// down to what recovery needs: the last acknowledged update and the pending
// ones. Mesos keeps such logs whole; a long-running task whose health flaps
// would otherwise grow its log for ever.
const compactAt = 64

// entry is one queued status update.
type entry struct {
	frameworkID string
	status      mesos.TaskStatus
}

// stream is one task's status updates: its log on disk and its queue.
type stream struct {
	key TaskKey
	dir string // <Dir>/<dirName(key)>, or where an older agentd put it

	mu       sync.Mutex      // guards the fields below and writes to the log
	f        *os.File        // the log, opened for appending on first use
	dirty    bool            // a failed write may have left a partial record: rewrite before appending
	records  int             // records in the log
	pending  []entry         // unacknowledged updates, the head (next to send) first
	acked    *entry          // the last acknowledged update
	seen     map[string]bool // UUIDs of the updates in the log, to drop duplicates
	terminal bool            // a terminal update is queued or acknowledged
	sending  bool            // a Sender call for the head is running
	due      time.Time       // when to send the head (again); zero means now
	backoff  time.Duration   // how long to wait for an acknowledgement after the next send
	epoch    uint64          // bumped by acknowledgements and reconnects, so an older send does not reschedule
	removed  bool            // forgotten: a new stream takes the task's key
}

func newStream(k TaskKey, dir string, backoff time.Duration) *stream {
	return &stream{
		key:     k,
		dir:     dir,
		seen:    map[string]bool{},
		backoff: backoff,
	}
}

func (s *stream) path() string { return filepath.Join(s.dir, logName) }

// latest returns the newest update, acknowledged or not.
func (s *stream) latest() (entry, bool) {
	if n := len(s.pending); n > 0 {
		return s.pending[n-1], true
	}
	if s.acked != nil {
		return *s.acked, true
	}
	return entry{}, false
}

// completed reports whether the task's terminal update was acknowledged.
func (s *stream) completed() bool {
	return len(s.pending) == 0 && s.acked != nil && s.acked.status.State.Terminal()
}

// find returns the stored update with the given UUID.
func (s *stream) find(uuid string) (entry, bool) {
	for _, e := range s.pending {
		if e.status.UUID == uuid {
			return e, true
		}
	}
	if s.acked != nil && s.acked.status.UUID == uuid {
		return *s.acked, true
	}
	return entry{}, false
}

// push queues an update that is already in the log.
func (s *stream) push(e entry, minBackoff time.Duration) {
	s.pending = append(s.pending, e)
	s.seen[e.status.UUID] = true
	if e.status.State.Terminal() {
		s.terminal = true
	}
	if len(s.pending) == 1 {
		s.headChanged(minBackoff)
	}
}

// pop drops the acknowledged head.
func (s *stream) pop(minBackoff time.Duration) {
	e := s.pending[0]
	s.acked = &e
	s.pending[0] = entry{}
	s.pending = s.pending[1:]
	s.headChanged(minBackoff)
}

// headChanged makes the head due now with a fresh backoff.
func (s *stream) headChanged(minBackoff time.Duration) {
	s.epoch++
	s.due = time.Time{}
	s.backoff = minBackoff
}

// replay applies a record read from the log at recovery.
func (s *stream) replay(r record, minBackoff time.Duration) error {
	switch r.Type {
	case recUpdate:
		if k := (TaskKey{r.FrameworkID, r.Status.TaskID}); k != s.key {
			return fmt.Errorf("update for task %q of framework %q in the log of task %q of framework %q", k.TaskID, k.FrameworkID, s.key.TaskID, s.key.FrameworkID)
		}
		if !s.seen[r.Status.UUID] {
			s.push(entry{r.FrameworkID, *r.Status}, minBackoff)
		}
	case recAck:
		// Acks are only logged for the head; anything else is a stale
		// duplicate and harmless.
		if len(s.pending) > 0 && s.pending[0].status.UUID == r.UUID {
			s.pop(minBackoff)
		}
	}
	return nil
}

// snapshot returns the records that rebuild the stream: the last
// acknowledged update with its ack, then the pending updates.
func (s *stream) snapshot() []record {
	var recs []record
	if a := s.acked; a != nil {
		st := a.status
		recs = append(recs, record{Type: recUpdate, FrameworkID: a.frameworkID, Status: &st}, record{Type: recAck, UUID: st.UUID})
	}
	for _, e := range s.pending {
		st := e.status
		recs = append(recs, record{Type: recUpdate, FrameworkID: e.frameworkID, Status: &st})
	}
	return recs
}

// write appends one record's JSON to the log and syncs it.
func (s *stream) write(js []byte) error {
	if s.dirty {
		if err := s.rewrite(); err != nil {
			return err
		}
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if _, err := s.f.Write(frame(js)); err != nil {
		s.dirty = true
		return err
	}
	if err := s.f.Sync(); err != nil {
		// After a failed fsync the page cache cannot be trusted either.
		s.dirty = true
		return err
	}
	s.records++
	return nil
}

// open opens the log for appending, creating it and the task's directory.
func (s *stream) open() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// The names of a new log and directory must be durable before any
	// record in them counts as written.
	err = atomicfile.SyncDir(s.dir)
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(s.dir))
	}
	if err != nil {
		f.Close()
		return err
	}
	s.f = f
	return nil
}

// rewrite replaces the log atomically with the stream's snapshot. It drops
// a torn tail and compacts acknowledged history.
func (s *stream) rewrite() error {
	var buf bytes.Buffer
	recs := s.snapshot()
	for _, r := range recs {
		js, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(frame(js))
	}
	if s.f != nil {
		s.f.Close() // the rename leaves it on the old file
		s.f = nil
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		s.dirty = true
		return err
	}
	if err := atomicfile.WriteFile(s.path(), buf.Bytes(), 0o600); err != nil {
		s.dirty = true
		return err
	}
	s.dirty = false
	s.records = len(recs)
	return nil
}

// compactable reports whether the log has grown well past its snapshot.
func (s *stream) compactable() bool {
	return s.records >= compactAt && s.records >= 4*(len(s.pending)+2)
}
