// Package status is agentd's status update manager, after Mesos's: every
// task status update is on disk before it is sent; each task's updates go to
// the master strictly in order, one at a time, the head of the task's queue
// re-sent with exponential backoff until the master acknowledges its UUID;
// and the queues survive agentd restarts, since Open recovers them from disk.
// A task's stream is complete once its terminal update is acknowledged.
//
// A task is identified by its framework and task IDs: two frameworks may
// use the same task ID, and each such task has its own stream.
//
// On disk each task has a directory, <Dir>/<escaped framework ID>+<escaped
// task ID> (see dirName), holding an append-only log, updates.log, of one
// record per line:
//
//	<CRC-32C of the JSON, 8 hex digits> <JSON>\n
//
// where the JSON is {"type":"update","framework_id":…,"status":{…}} or
// {"type":"ack","uuid":…}. Each record is fsync'd before the call that
// wrote it returns, and counts only once its newline is on disk, so a crash
// can leave bad bytes only at the end of a log; Open drops them with a
// warning. Logs are rewritten whole (temp file, fsync, rename, directory
// fsync) to drop such a tail, to recover from a failed write, and to compact
// acknowledged history. Open also recovers the directories of agentd
// versions that named them by the task ID alone (<Dir>/<escaped task ID>);
// a recovered stream keeps its directory until it is forgotten.
package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/atomicfile"
	"corral/mesos"
)

// ErrTerminated is returned by Update for a task that already has a
// terminal update: no state can follow a terminal one.
var ErrTerminated = errors.New("task already has a terminal status update")

// Sender posts one status update to the master (an UPDATE call). An error
// means the update may not have arrived and is sent again later. Success
// does not end the retries; only the master's acknowledgement does.
type Sender func(ctx context.Context, frameworkID string, st mesos.TaskStatus) error

// Config configures a Manager.
type Config struct {
	// Dir holds a directory per task with its status update log.
	Dir string
	// MinBackoff and MaxBackoff bound the wait for an acknowledgement
	// before an update is sent again; the wait doubles with every attempt.
	MinBackoff, MaxBackoff time.Duration
}

// DefaultConfig returns Mesos's retry intervals, 10s doubling up to 10m.
// Dir must still be set.
func DefaultConfig() Config {
	return Config{MinBackoff: 10 * time.Second, MaxBackoff: 10 * time.Minute}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New(`invalid status update Dir "", must name a directory`)
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("invalid status update backoff [%v, %v], must be 0 < min <= max", c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

// Manager keeps the tasks' status update streams and sends them.
type Manager struct {
	cfg     Config
	send    Sender
	log     *slog.Logger
	kick    chan struct{} // wakes Run; one pending wake-up is enough
	running atomic.Bool   // Run is active

	mu      sync.Mutex // guards streams; taken before a stream's mu, never after
	streams map[TaskKey]*stream
}

// TaskKey identifies a task: task IDs are unique only within a framework.
type TaskKey struct {
	FrameworkID string
	TaskID      string
}

// Open loads every task's stream from cfg.Dir, creating the directory if
// needed. Sending starts with Run. A torn record at the end of a log is
// dropped with a warning; other corruption is an error.
func Open(cfg Config, send Sender, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if send == nil {
		return nil, errors.New("status manager needs a Sender")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating status update directory: %w", err)
	}
	m := &Manager{cfg: cfg, send: send, log: log, kick: make(chan struct{}, 1), streams: map[TaskKey]*stream{}}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading status update directory: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := m.load(filepath.Join(cfg.Dir, e.Name()))
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("recovering status updates: %w", err)
		}
		if s == nil {
			continue
		}
		if other := m.streams[s.key]; other != nil {
			m.Close()
			return nil, fmt.Errorf("recovering status updates: task %q of framework %q has two logs, %s and %s", s.key.TaskID, s.key.FrameworkID, other.dir, s.dir)
		}
		m.streams[s.key] = s
	}
	return m, nil
}

// load loads one task's stream; it returns nil for a directory without
// records.
func (m *Manager) load(dir string) (*stream, error) {
	path := filepath.Join(dir, logName)
	// A rewrite cut short leaves a temporary file: the log itself is intact.
	os.Remove(path + ".tmp") // as named before atomicfile
	atomicfile.RemoveTemps(path)
	recs, torn, err := readLog(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if torn > 0 {
		m.log.Warn("dropping a torn record at the end of a status update log", "path", path, "bytes", torn)
	}
	if len(recs) == 0 {
		// Created, but nothing was ever written in full.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("removing empty status update log: %w", err)
		}
		return nil, nil
	}
	if recs[0].Type != recUpdate {
		return nil, fmt.Errorf("%s: log starts with an acknowledgement", path)
	}
	k := TaskKey{recs[0].FrameworkID, recs[0].Status.TaskID}
	if k.FrameworkID == "" {
		return nil, fmt.Errorf("%s: update of task %q without a framework ID", path, k.TaskID)
	}
	// Written by this version, or by one that named directories by the task
	// ID alone: that directory stays the stream's until it is forgotten.
	if name := filepath.Base(dir); name != dirName(k) && name != legacyDirName(k.TaskID) {
		return nil, fmt.Errorf("%s: log of task %q of framework %q is in the wrong directory", path, k.TaskID, k.FrameworkID)
	}
	s := newStream(k, dir, m.cfg.MinBackoff)
	for _, r := range recs {
		if err := s.replay(r, m.cfg.MinBackoff); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	s.records = len(recs)
	if torn > 0 {
		// Later appends must not follow the torn bytes.
		if err := s.rewrite(); err != nil {
			return nil, fmt.Errorf("rewriting %s without its torn tail: %w", path, err)
		}
	}
	return s, nil
}

// Close closes the open logs. Call it after Run has returned; the Manager
// is not to be used afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, s := range m.streams {
		s.mu.Lock()
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Update records a status update of a task of framework frameworkID and
// queues it for sending. It sets the UUID (random) and Timestamp (now) when
// they are unset, and returns the status as stored. The update is on disk
// when Update returns. An update whose UUID is already in the task's stream
// is a duplicate: Update returns the stored one and records nothing.
func (m *Manager) Update(frameworkID string, st mesos.TaskStatus) (mesos.TaskStatus, error) {
	switch {
	case st.TaskID == "":
		return st, errors.New("status update without a task ID")
	case frameworkID == "":
		return st, fmt.Errorf("status update for task %q without a framework ID", st.TaskID)
	case st.State == "":
		return st, fmt.Errorf("status update for task %q without a state", st.TaskID)
	}
	if st.UUID == "" {
		st.UUID = mesos.NewUUID()
	}
	if st.Timestamp == 0 {
		st.Timestamp = float64(time.Now().UnixNano()) / 1e9
	}
	// Stored as decoded from its JSON, the status shares no memory with the
	// caller's and reads the same before and after a restart.
	js, err := json.Marshal(record{Type: recUpdate, FrameworkID: frameworkID, Status: &st})
	if err != nil {
		return st, fmt.Errorf("encoding status update for task %q: %w", st.TaskID, err)
	}
	var stored record
	if err := json.Unmarshal(js, &stored); err != nil {
		return st, fmt.Errorf("decoding status update for task %q: %w", st.TaskID, err)
	}
	k := TaskKey{frameworkID, st.TaskID}
	for {
		s := m.stream(k)
		s.mu.Lock()
		if s.removed { // forgotten meanwhile: start a new stream
			s.mu.Unlock()
			continue
		}
		if e, ok := s.find(st.UUID); ok || s.seen[st.UUID] {
			s.mu.Unlock()
			if !ok { // compacted away; it was acknowledged
				e.status = *stored.Status
			}
			m.log.Debug("ignoring a duplicate status update", "framework", frameworkID, "task", st.TaskID, "uuid", st.UUID)
			return e.status, nil
		}
		if s.terminal {
			s.mu.Unlock()
			return st, fmt.Errorf("recording %s for task %q: %w", st.State, st.TaskID, ErrTerminated)
		}
		if err := s.write(js); err != nil {
			s.mu.Unlock()
			return st, fmt.Errorf("recording %s for task %q: %w", st.State, st.TaskID, err)
		}
		s.push(entry{frameworkID, *stored.Status}, m.cfg.MinBackoff)
		m.compact(s)
		s.mu.Unlock()
		m.wake()
		return *stored.Status, nil
	}
}

// Acknowledge records the master's acknowledgement of update uuid of a task
// and makes the next update due. frameworkID may be empty (a master that
// does not say it): the update is then the head of the stream of whichever
// framework's task taskID it is. An acknowledgement of anything but the
// head of a queue (an unknown task, a duplicate) is ignored. Acknowledge
// returns the framework of the task whose update it acknowledged, "" when
// it ignored it. An error means the acknowledgement could not be recorded;
// the update will be sent again and acknowledged again.
func (m *Manager) Acknowledge(frameworkID, taskID, uuid string) (string, error) {
	s := m.headOf(frameworkID, taskID, uuid)
	if s == nil {
		m.log.Debug("ignoring an acknowledgement of a status update that is not pending next", "framework", frameworkID, "task", taskID, "uuid", uuid)
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed || len(s.pending) == 0 || s.pending[0].status.UUID != uuid {
		m.log.Debug("ignoring an acknowledgement of a status update that is not pending next", "framework", s.key.FrameworkID, "task", taskID, "uuid", uuid)
		return "", nil
	}
	js, err := json.Marshal(record{Type: recAck, UUID: uuid})
	if err != nil {
		return "", err
	}
	if err := s.write(js); err != nil {
		return "", fmt.Errorf("recording acknowledgement of status update %s of task %q of framework %q: %w", uuid, taskID, s.key.FrameworkID, err)
	}
	s.pop(m.cfg.MinBackoff)
	m.compact(s)
	if len(s.pending) > 0 {
		m.wake()
	}
	return s.key.FrameworkID, nil
}

// headOf returns the stream an acknowledgement is for: the task's of
// frameworkID or, with none given, the one of the tasks named taskID whose
// head is update uuid.
func (m *Manager) headOf(frameworkID, taskID, uuid string) *stream {
	if frameworkID != "" {
		return m.lookup(TaskKey{frameworkID, taskID})
	}
	for _, s := range m.all() {
		if s.key.TaskID != taskID {
			continue
		}
		s.mu.Lock()
		head := !s.removed && len(s.pending) > 0 && s.pending[0].status.UUID == uuid
		s.mu.Unlock()
		if head {
			return s
		}
	}
	return nil
}

// compact rewrites a stream's overgrown log; s.mu must be held. The record
// that grew it is already durable, so a failure only costs disk space.
func (m *Manager) compact(s *stream) {
	if !s.compactable() {
		return
	}
	if err := s.rewrite(); err != nil {
		m.log.Warn("compacting a status update log failed", "framework", s.key.FrameworkID, "task", s.key.TaskID, "err", err)
	}
}

// Reconnected makes every task's head due now with a fresh backoff. Call it
// when the agent has (re-)subscribed: what was sent before may be lost.
func (m *Manager) Reconnected() {
	for _, s := range m.all() {
		s.mu.Lock()
		s.headChanged(m.cfg.MinBackoff)
		s.mu.Unlock()
	}
	m.wake()
}

// Latest returns a task's newest status update, acknowledged or not.
func (m *Manager) Latest(frameworkID, taskID string) (st mesos.TaskStatus, ok bool) {
	s := m.lookup(TaskKey{frameworkID, taskID})
	if s == nil {
		return st, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.latest()
	if !ok || s.removed {
		return st, false
	}
	return e.status, true
}

// Completed reports whether a task's terminal update was acknowledged, so
// its stream is complete and can be forgotten.
func (m *Manager) Completed(frameworkID, taskID string) bool {
	s := m.lookup(TaskKey{frameworkID, taskID})
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.removed && s.completed()
}

// Tasks returns the tasks with status updates, sorted by framework and
// task ID.
func (m *Manager) Tasks() []TaskKey {
	var keys []TaskKey
	for _, s := range m.all() {
		s.mu.Lock()
		if _, ok := s.latest(); ok && !s.removed {
			keys = append(keys, s.key)
		}
		s.mu.Unlock()
	}
	slices.SortFunc(keys, func(a, b TaskKey) int {
		return cmp.Or(strings.Compare(a.FrameworkID, b.FrameworkID), strings.Compare(a.TaskID, b.TaskID))
	})
	return keys
}

// Pending returns a task's unacknowledged updates, the next to send first.
func (m *Manager) Pending(frameworkID, taskID string) []mesos.TaskStatus {
	s := m.lookup(TaskKey{frameworkID, taskID})
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil
	}
	var sts []mesos.TaskStatus
	for _, e := range s.pending {
		sts = append(sts, e.status)
	}
	return sts
}

// PendingCount returns how many updates, of every task, are not
// acknowledged yet.
func (m *Manager) PendingCount() int {
	n := 0
	for _, s := range m.all() {
		s.mu.Lock()
		if !s.removed {
			n += len(s.pending)
		}
		s.mu.Unlock()
	}
	return n
}

// Forget removes a task's stream and its files. It refuses while updates
// are unacknowledged; normally a task is forgotten once Completed.
func (m *Manager) Forget(frameworkID, taskID string) error {
	// m.mu stays held so that no new stream for the task writes into the
	// directory while it is being removed.
	k := TaskKey{frameworkID, taskID}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[k]
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.pending); n > 0 {
		return fmt.Errorf("forgetting task %q of framework %q: %d status updates not acknowledged", taskID, frameworkID, n)
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing status updates of task %q of framework %q: %w", taskID, frameworkID, err)
	}
	if err := atomicfile.SyncDir(m.cfg.Dir); err != nil {
		// Should the removal be lost, the task comes back completed: harmless.
		m.log.Warn("syncing the status update directory", "err", err)
	}
	s.removed = true
	delete(m.streams, k)
	return nil
}

// stream returns the task's stream, creating it (without touching the disk).
func (m *Manager) stream(k TaskKey) *stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[k]
	if s == nil {
		s = newStream(k, filepath.Join(m.cfg.Dir, dirName(k)), m.cfg.MinBackoff)
		m.streams[k] = s
	}
	return s
}

func (m *Manager) lookup(k TaskKey) *stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.streams[k]
}

func (m *Manager) all() []*stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := make([]*stream, 0, len(m.streams))
	for _, s := range m.streams {
		ss = append(ss, s)
	}
	return ss
}

// wake tells Run that something may have become sendable.
func (m *Manager) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}
