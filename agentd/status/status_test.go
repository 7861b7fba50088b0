package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/mesos"
)

const ms = time.Millisecond

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// sent is one Sender call.
type sent struct {
	frameworkID string
	status      mesos.TaskStatus
	at          time.Time
}

// master is a fake master behind a Sender: it records calls, fails the
// first fails of them, and hands the others to onSend.
type master struct {
	mu     sync.Mutex // guards the fields below
	sends  []sent
	fails  int
	onSend func(frameworkID string, st mesos.TaskStatus)
}

func (f *master) send(_ context.Context, frameworkID string, st mesos.TaskStatus) error {
	f.mu.Lock()
	f.sends = append(f.sends, sent{frameworkID, st, time.Now()})
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	hook := f.onSend
	f.mu.Unlock()
	if fail {
		return errors.New("master unreachable")
	}
	if hook != nil {
		hook(frameworkID, st)
	}
	return nil
}

func (f *master) calls() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sends)
}

// count returns how often the update with the given UUID was sent.
func (f *master) count(uuid string) int {
	n := 0
	for _, c := range f.calls() {
		if c.status.UUID == uuid {
			n++
		}
	}
	return n
}

// uuids returns the UUIDs sent for a task, repeats collapsed.
func (f *master) uuids(taskID string) []string {
	var out []string
	for _, c := range f.calls() {
		if c.status.TaskID == taskID && (len(out) == 0 || out[len(out)-1] != c.status.UUID) {
			out = append(out, c.status.UUID)
		}
	}
	return out
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testConfig(t *testing.T, minBackoff, maxBackoff time.Duration) Config {
	return Config{Dir: filepath.Join(t.TempDir(), "status"), MinBackoff: minBackoff, MaxBackoff: maxBackoff}
}

func open(t *testing.T, cfg Config, send Sender) *Manager {
	t.Helper()
	m, err := Open(cfg, send, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// run runs m until the test ends.
func run(t *testing.T, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func update(t *testing.T, m *Manager, taskID string, state mesos.TaskState) mesos.TaskStatus {
	t.Helper()
	st, err := m.Update("fw-1", mesos.TaskStatus{TaskID: taskID, State: state, Source: mesos.SourceExecutor})
	if err != nil {
		t.Fatalf("Update(%s, %s): %v", taskID, state, err)
	}
	return st
}

// ack acknowledges st; it may run on any goroutine.
func ack(t *testing.T, m *Manager, st mesos.TaskStatus) {
	t.Helper()
	if _, err := m.Acknowledge("fw-1", st.TaskID, st.UUID); err != nil {
		t.Errorf("Acknowledge(fw-1, %s, %s): %v", st.TaskID, st.UUID, err)
	}
}

func uuidsOf(sts []mesos.TaskStatus) []string {
	var out []string
	for _, st := range sts {
		out = append(out, st.UUID)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"default", Config{Dir: "/d", MinBackoff: DefaultConfig().MinBackoff, MaxBackoff: DefaultConfig().MaxBackoff}, ""},
		{"min equals max", Config{Dir: "/d", MinBackoff: ms, MaxBackoff: ms}, ""},
		{"no dir", Config{MinBackoff: ms, MaxBackoff: ms}, "invalid status update Dir"},
		{"zero min", Config{Dir: "/d", MaxBackoff: ms}, "invalid status update backoff [0s, 1ms]"},
		{"max below min", Config{Dir: "/d", MinBackoff: 2 * ms, MaxBackoff: ms}, "must be 0 < min <= max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.err)
			}
		})
	}
}

func TestUpdateValidates(t *testing.T) {
	m := open(t, testConfig(t, ms, ms), (&master{}).send)
	for _, tc := range []struct {
		name string
		fid  string
		st   mesos.TaskStatus
	}{
		{"no task", "fw", mesos.TaskStatus{State: mesos.TaskRunning}},
		{"no framework", "", mesos.TaskStatus{TaskID: "t", State: mesos.TaskRunning}},
		{"no state", "fw", mesos.TaskStatus{TaskID: "t"}},
	} {
		if _, err := m.Update(tc.fid, tc.st); err == nil {
			t.Errorf("%s: Update(%q, %+v) succeeded, want an error", tc.name, tc.fid, tc.st)
		}
	}
	if got := m.Tasks(); len(got) != 0 {
		t.Errorf("Tasks() = %q after rejected updates, want none", got)
	}
}

func TestUpdateSetsUUIDAndTimestamp(t *testing.T) {
	m := open(t, testConfig(t, ms, ms), (&master{}).send)
	healthy := true
	a, err := m.Update("fw-1", mesos.TaskStatus{TaskID: "t", State: mesos.TaskRunning, Healthy: &healthy})
	if err != nil {
		t.Fatal(err)
	}
	b := update(t, m, "t", mesos.TaskRunning)
	if len(a.UUID) != 36 || a.UUID == b.UUID {
		t.Errorf("UUIDs %q and %q, want two distinct UUIDs", a.UUID, b.UUID)
	}
	if now := float64(time.Now().Unix()); a.Timestamp < now-60 || a.Timestamp > now+1 {
		t.Errorf("Timestamp = %f, want about %f", a.Timestamp, now)
	}
	healthy = false // the stored status shares no memory with the caller's
	if p := m.Pending("fw-1", "t"); len(p) != 2 || p[0].Healthy == nil || !*p[0].Healthy {
		t.Errorf("Pending = %+v, want the first still healthy", p)
	}

	given := mesos.TaskStatus{TaskID: "u", State: mesos.TaskStaging, UUID: "given", Timestamp: 42}
	got, err := m.Update("fw-1", given)
	if err != nil || got != given {
		t.Errorf("Update(%+v) = %+v, %v; want it unchanged", given, got, err)
	}
	// The same UUID again is a duplicate, also after acknowledgement.
	for range 2 {
		dup := given
		dup.State = mesos.TaskRunning
		if got, err := m.Update("fw-1", dup); err != nil || got != given {
			t.Errorf("duplicate Update = %+v, %v; want the stored %+v", got, err, given)
		}
		if p := m.Pending("fw-1", "u"); len(p) > 1 {
			t.Errorf("Pending after a duplicate = %+v, want one update at most", p)
		}
		ack(t, m, given)
	}
}

func TestUpdateAfterTerminal(t *testing.T) {
	m := open(t, testConfig(t, ms, ms), (&master{}).send)
	failed := update(t, m, "t", mesos.TaskFailed)
	for _, acked := range []bool{false, true} {
		if _, err := m.Update("fw-1", mesos.TaskStatus{TaskID: "t", State: mesos.TaskRunning}); !errors.Is(err, ErrTerminated) {
			t.Errorf("Update after TASK_FAILED (acknowledged %v) = %v, want ErrTerminated", acked, err)
		}
		ack(t, m, failed)
	}
	if !m.Completed("fw-1", "t") {
		t.Errorf("Completed(t) = false after the terminal update was acknowledged")
	}
}

func TestInOrderDelivery(t *testing.T) {
	f := &master{}
	m := open(t, testConfig(t, ms, 4*ms), f.send)
	run(t, m)
	sts := []mesos.TaskStatus{
		update(t, m, "web.1", mesos.TaskStarting),
		update(t, m, "web.1", mesos.TaskRunning),
		update(t, m, "web.1", mesos.TaskFinished),
	}
	for i, st := range sts {
		// The head goes out again and again, the next one not at all.
		waitFor(t, 5*time.Second, fmt.Sprintf("update %d sent 3 times", i), func() bool { return f.count(st.UUID) >= 3 })
		if got, want := f.uuids("web.1"), uuidsOf(sts[:i+1]); !slices.Equal(got, want) {
			t.Fatalf("sent %q before acknowledging update %d, want %q", got, i, want)
		}
		if m.Completed("fw-1", "web.1") {
			t.Fatalf("Completed before the terminal update was acknowledged")
		}
		ack(t, m, st)
	}
	if p := m.Pending("fw-1", "web.1"); len(p) != 0 {
		t.Errorf("Pending = %+v after acknowledging all, want none", p)
	}
	if !m.Completed("fw-1", "web.1") {
		t.Errorf("Completed = false after acknowledging TASK_FINISHED")
	}
	for _, c := range f.calls() {
		if c.frameworkID != "fw-1" {
			t.Errorf("sent with framework %q, want fw-1", c.frameworkID)
		}
	}
}

func TestRetriesUntilSent(t *testing.T) {
	const minB, maxB = 5 * ms, 20 * ms
	f := &master{fails: 4}
	m := open(t, testConfig(t, minB, maxB), f.send)
	// The master acknowledges before the Sender returns, as a fast one does.
	f.onSend = func(_ string, st mesos.TaskStatus) { ack(t, m, st) }
	run(t, m)
	st := update(t, m, "t", mesos.TaskRunning)
	waitFor(t, 5*time.Second, "the acknowledgement", func() bool { return len(m.Pending("fw-1", "t")) == 0 })
	calls := f.calls()
	if len(calls) != 5 {
		t.Fatalf("sent %d times, want 4 failures and 1 success", len(calls))
	}
	for i, want := range []time.Duration{minB, 2 * minB, maxB, maxB} {
		if gap := calls[i+1].at.Sub(calls[i].at); gap < want || gap > want+time.Second {
			t.Errorf("attempt %d came %v after the previous one, want %v", i+2, gap, want)
		}
	}
	if got, ok := m.Latest("fw-1", "t"); !ok || got.UUID != st.UUID {
		t.Errorf("Latest = %+v, %v; want %+v", got, ok, st)
	}
}

func TestBackoffDoublesToMax(t *testing.T) {
	for _, tc := range []struct {
		minB, maxB time.Duration
		want       []time.Duration
	}{
		{10 * ms, 40 * ms, []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}},
		{10 * time.Second, 10 * time.Minute, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 320 * time.Second, 10 * time.Minute, 10 * time.Minute}},
		{ms, ms, []time.Duration{ms, ms}},
	} {
		m := &Manager{cfg: Config{MinBackoff: tc.minB, MaxBackoff: tc.maxB}, log: slog.New(slog.DiscardHandler),
			send: func(context.Context, string, mesos.TaskStatus) error { return errors.New("down") }}
		s := newStream(TaskKey{"fw-1", "t"}, t.TempDir(), tc.minB)
		var got []time.Duration
		for range tc.want {
			wait, before := s.backoff, time.Now()
			m.sendHead(context.Background(), s, entry{}, s.epoch)
			if s.due.Before(before.Add(wait)) {
				t.Errorf("due %v, want at least %v after the send", s.due.Sub(before), wait)
			}
			got = append(got, wait)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("waits with backoff [%v, %v] = %v, want %v", tc.minB, tc.maxB, got, tc.want)
		}
		// A send that finishes after an acknowledgement leaves the new head due now.
		s.headChanged(tc.minB)
		m.sendHead(context.Background(), s, entry{}, s.epoch-1)
		if !s.due.IsZero() || s.backoff != tc.minB {
			t.Errorf("after a stale send: due %v, backoff %v; want now, %v", s.due, s.backoff, tc.minB)
		}
	}
}

func TestAcknowledgeIgnoresOthers(t *testing.T) {
	m := open(t, testConfig(t, time.Minute, time.Minute), (&master{}).send)
	first := update(t, m, "t", mesos.TaskStarting)
	head := update(t, m, "t", mesos.TaskRunning)
	next := update(t, m, "t", mesos.TaskKilling)
	ack(t, m, first)
	for _, tc := range []struct{ name, task, uuid string }{
		{"unknown task", "nope", head.UUID},
		{"unknown uuid", "t", "0b5e0f6e-0000-4000-8000-000000000000"},
		{"uuid of another task", "other", head.UUID},
		{"not the head", "t", next.UUID},
		{"duplicate", "t", first.UUID},
		{"empty", "t", ""},
	} {
		for _, fid := range []string{"fw-1", ""} {
			if got, err := m.Acknowledge(fid, tc.task, tc.uuid); err != nil || got != "" {
				t.Errorf("%s: Acknowledge(%q, %q, %q) = %q, %v; want it ignored", tc.name, fid, tc.task, tc.uuid, got, err)
			}
		}
		if got, want := uuidsOf(m.Pending("fw-1", "t")), []string{head.UUID, next.UUID}; !slices.Equal(got, want) {
			t.Fatalf("%s: Pending = %q, want %q", tc.name, got, want)
		}
	}
	ack(t, m, head)
	if got := uuidsOf(m.Pending("fw-1", "t")); !slices.Equal(got, []string{next.UUID}) {
		t.Errorf("Pending after acknowledging the head = %q, want %q", got, next.UUID)
	}
}

func TestRecoverAfterRestart(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	f1 := &master{}
	m1 := open(t, cfg, f1.send)
	run(t, m1)
	a := []mesos.TaskStatus{update(t, m1, "a", mesos.TaskStarting), update(t, m1, "a", mesos.TaskRunning), update(t, m1, "a", mesos.TaskFinished)}
	b := []mesos.TaskStatus{update(t, m1, "b/1", mesos.TaskStarting), update(t, m1, "b/1", mesos.TaskRunning), update(t, m1, "b/1", mesos.TaskKilling)}
	c := []mesos.TaskStatus{update(t, m1, "c", mesos.TaskRunning), update(t, m1, "c", mesos.TaskFailed)}
	for _, st := range []mesos.TaskStatus{a[0], a[1], b[0], c[0], c[1]} {
		waitFor(t, 5*time.Second, "update "+st.UUID+" sent", func() bool { return f1.count(st.UUID) > 0 })
		ack(t, m1, st)
	}
	m1.Close() // as good as a crash: every call above was already on disk

	f2 := &master{}
	m2 := open(t, cfg, f2.send)
	if got, want := m2.Tasks(), []TaskKey{{"fw-1", "a"}, {"fw-1", "b/1"}, {"fw-1", "c"}}; !slices.Equal(got, want) {
		t.Errorf("Tasks() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		task    string
		pending []mesos.TaskStatus
		latest  mesos.TaskStatus
		done    bool
	}{
		{"a", a[2:], a[2], false},
		{"b/1", b[1:], b[2], false},
		{"c", nil, c[1], true},
	} {
		if got := m2.Pending("fw-1", tc.task); !slices.Equal(got, tc.pending) {
			t.Errorf("Pending(%s) = %+v, want %+v", tc.task, got, tc.pending)
		}
		if got, ok := m2.Latest("fw-1", tc.task); !ok || got != tc.latest {
			t.Errorf("Latest(fw-1, %s) = %+v, %v; want %+v", tc.task, got, ok, tc.latest)
		}
		if got := m2.Completed("fw-1", tc.task); got != tc.done {
			t.Errorf("Completed(%s) = %v, want %v", tc.task, got, tc.done)
		}
	}

	f2.onSend = func(_ string, st mesos.TaskStatus) { ack(t, m2, st) }
	run(t, m2)
	waitFor(t, 5*time.Second, "all updates acknowledged", func() bool {
		return len(m2.Pending("fw-1", "a")) == 0 && len(m2.Pending("fw-1", "b/1")) == 0
	})
	for _, tc := range []struct {
		task string
		want []mesos.TaskStatus
	}{
		{"a", a[2:]},
		{"b/1", b[1:]},
		{"c", nil},
	} {
		if got, want := f2.uuids(tc.task), uuidsOf(tc.want); !slices.Equal(got, want) {
			t.Errorf("resent for %s: %q, want %q", tc.task, got, want)
		}
	}
	if n := len(f2.calls()); n != 3 {
		t.Errorf("resent %d times, want each of the 3 unacknowledged updates once", n)
	}
}

// logBuffer collects log output.
type logBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTornWriteTolerated(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	m1 := open(t, cfg, (&master{}).send)
	first := update(t, m1, "t", mesos.TaskStarting)
	second := update(t, m1, "t", mesos.TaskRunning)
	ack(t, m1, first)
	m1.Close()

	// A crash in the middle of appending an update.
	path := filepath.Join(cfg.Dir, dirName(TaskKey{"fw-1", "t"}), logName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`1234abcd {"type":"update","framework_id":"fw-1","sta`)
	f.Close()

	var logs logBuffer
	m2, err := Open(cfg, (&master{}).send, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Open with a torn record: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn") {
		t.Errorf("Open logged %q, want a warning about the torn record", logs.String())
	}
	if got := m2.Pending("fw-1", "t"); !slices.Equal(got, []mesos.TaskStatus{second}) {
		t.Errorf("Pending = %+v, want %+v", got, second)
	}
	third := update(t, m2, "t", mesos.TaskKilling)
	m2.Close()

	// The torn bytes are gone, so the append after them reads back.
	logs = logBuffer{}
	m3, err := Open(cfg, (&master{}).send, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Open after appending past a torn record: %v", err)
	}
	defer m3.Close()
	if logs.String() != "" {
		t.Errorf("second Open logged %q, want nothing", logs.String())
	}
	if got := m3.Pending("fw-1", "t"); !slices.Equal(got, []mesos.TaskStatus{second, third}) {
		t.Errorf("Pending = %+v, want %+v", got, []mesos.TaskStatus{second, third})
	}
}

func TestOpenRejectsCorruption(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	m := open(t, cfg, (&master{}).send)
	update(t, m, "t", mesos.TaskStarting)
	update(t, m, "t", mesos.TaskRunning)
	m.Close()
	path := filepath.Join(cfg.Dir, dirName(TaskKey{"fw-1", "t"}), logName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[20] ^= 1 // inside the first of two records
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg, (&master{}).send, nil); err == nil || !strings.Contains(err.Error(), "corrupt record") {
		t.Errorf("Open with a corrupt record in the middle = %v, want an error", err)
	}
}

func TestOpenDropsEmptyLog(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	dir := filepath.Join(cfg.Dir, dirName(TaskKey{"fw-1", "t"}))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{logName, logName + ".tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := open(t, cfg, (&master{}).send)
	if got := m.Tasks(); len(got) != 0 {
		t.Errorf("Tasks() = %q, want none", got)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%s) = %v, want it removed", dir, err)
	}
}

func TestReconnectedResendsHeads(t *testing.T) {
	f := &master{}
	m := open(t, testConfig(t, time.Minute, time.Minute), f.send)
	run(t, m)
	heads := []mesos.TaskStatus{update(t, m, "a", mesos.TaskRunning), update(t, m, "b", mesos.TaskRunning)}
	queued := update(t, m, "b", mesos.TaskKilling)
	for round := 1; round <= 3; round++ {
		if round > 1 {
			m.Reconnected()
		}
		// Well before the minute of backoff is up.
		waitFor(t, 5*time.Second, fmt.Sprintf("send round %d", round), func() bool {
			return f.count(heads[0].UUID) == round && f.count(heads[1].UUID) == round
		})
	}
	if n := f.count(queued.UUID); n != 0 {
		t.Errorf("the update behind b's head was sent %d times, want none", n)
	}
}

func TestManyTasksConcurrently(t *testing.T) {
	const tasks, updates = 40, 5
	f := &master{}
	m := open(t, testConfig(t, ms, 5*ms), f.send)
	var acks sync.WaitGroup
	defer acks.Wait()
	f.onSend = func(_ string, st mesos.TaskStatus) {
		// Acknowledge some at once, some later, some only when resent.
		switch {
		case st.Timestamp == 1:
			ack(t, m, st)
		case st.Timestamp == 2:
			acks.Add(1)
			go func() {
				defer acks.Done()
				ack(t, m, st)
			}()
		case f.count(st.UUID) > 1:
			ack(t, m, st)
		}
	}
	run(t, m)

	want := make([][]string, tasks)
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("app_%d.%d", i, i*7919)
			for j := range updates {
				state := mesos.TaskRunning
				if j == updates-1 {
					state = mesos.TaskFinished
				}
				st, err := m.Update("fw-1", mesos.TaskStatus{TaskID: id, State: state, Timestamp: float64(1 + (i+j)%3)})
				if err != nil {
					t.Errorf("Update(%s): %v", id, err)
					return
				}
				want[i] = append(want[i], st.UUID)
			}
		}()
	}
	// Readers and reconnects race with the writers and the sender.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(ms):
			}
			m.Reconnected()
			for _, k := range m.Tasks() {
				m.Latest(k.FrameworkID, k.TaskID)
				m.Pending(k.FrameworkID, k.TaskID)
			}
		}
	}()
	wg.Wait()
	waitFor(t, 10*time.Second, "every task completed", func() bool {
		for _, k := range m.Tasks() {
			if !m.Completed(k.FrameworkID, k.TaskID) {
				return false
			}
		}
		return true
	})
	close(stop)
	readers.Wait()
	if n := len(m.Tasks()); n != tasks {
		t.Fatalf("Tasks() has %d tasks, want %d", n, tasks)
	}
	for i := range tasks {
		id := fmt.Sprintf("app_%d.%d", i, i*7919)
		if got := f.uuids(id); !slices.Equal(got, want[i]) {
			t.Errorf("sent for %s: %q, want %q in order", id, got, want[i])
		}
	}
}

func TestForget(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	m := open(t, cfg, (&master{}).send)
	const id = "../evil/web.1" // escaped: stays inside Dir
	running := update(t, m, id, mesos.TaskRunning)
	dir := filepath.Join(cfg.Dir, dirName(TaskKey{"fw-1", id}))
	if _, err := os.Stat(filepath.Join(dir, logName)); err != nil {
		t.Fatalf("log of %q: %v", id, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "..", "evil")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a task ID with .. reached outside Dir: %v", err)
	}
	if err := m.Forget("fw-1", id); err == nil {
		t.Fatal("Forget with an unacknowledged update succeeded, want an error")
	}
	ack(t, m, running)
	ack(t, m, update(t, m, id, mesos.TaskFinished))
	if !m.Completed("fw-1", id) {
		t.Fatal("Completed = false after the terminal update was acknowledged")
	}
	for range 2 { // the second time is a no-op
		if err := m.Forget("fw-1", id); err != nil {
			t.Fatalf("Forget: %v", err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%s) = %v after Forget, want it removed", dir, err)
	}
	if _, ok := m.Latest("fw-1", id); ok || len(m.Tasks()) != 0 || m.Completed("fw-1", id) {
		t.Errorf("task still known after Forget: Tasks() = %q", m.Tasks())
	}
	m.Close()
	if got := open(t, cfg, (&master{}).send).Tasks(); len(got) != 0 {
		t.Errorf("Tasks() after reopening = %q, want none", got)
	}
}

func TestCompaction(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	m1 := open(t, cfg, (&master{}).send)
	var last mesos.TaskStatus
	for i := range 3 * compactAt {
		healthy := i%2 == 0
		st, err := m1.Update("fw-1", mesos.TaskStatus{TaskID: "t", State: mesos.TaskRunning, Healthy: &healthy})
		if err != nil {
			t.Fatal(err)
		}
		ack(t, m1, st)
		last = st
	}
	m1.Close()
	b, err := os.ReadFile(filepath.Join(cfg.Dir, dirName(TaskKey{"fw-1", "t"}), logName))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n >= compactAt {
		t.Errorf("log has %d records after %d updates and acks, want fewer than %d", n, 3*compactAt, compactAt)
	}

	m2 := open(t, cfg, (&master{}).send)
	if got, ok := m2.Latest("fw-1", "t"); !ok || got.UUID != last.UUID || *got.Healthy != *last.Healthy {
		t.Errorf("Latest after compaction = %+v, %v; want %+v", got, ok, last)
	}
	if got := m2.Pending("fw-1", "t"); len(got) != 0 {
		t.Errorf("Pending after compaction = %+v, want none", got)
	}
	pending := update(t, m2, "t", mesos.TaskKilling)
	m2.Close()
	m3 := open(t, cfg, (&master{}).send)
	if got := m3.Pending("fw-1", "t"); !slices.Equal(got, []mesos.TaskStatus{pending}) {
		t.Errorf("Pending = %+v, want %+v", got, pending)
	}
}
