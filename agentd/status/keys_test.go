package status

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corral/mesos"
)

// Two frameworks may use the same task ID: each task has its own stream,
// log and acknowledgements, before and after a restart.
func TestSameTaskIDInTwoFrameworks(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	f := &master{}
	m1 := open(t, cfg, f.send)
	run(t, m1)
	updateOf := func(m *Manager, fid string, state mesos.TaskState) mesos.TaskStatus {
		t.Helper()
		st, err := m.Update(fid, mesos.TaskStatus{TaskID: "t1", State: state})
		if err != nil {
			t.Fatalf("Update(%s, t1, %s): %v", fid, state, err)
		}
		return st
	}
	a := []mesos.TaskStatus{updateOf(m1, "fw-a", mesos.TaskRunning), updateOf(m1, "fw-a", mesos.TaskFinished)}
	b := []mesos.TaskStatus{updateOf(m1, "fw-b", mesos.TaskRunning), updateOf(m1, "fw-b", mesos.TaskKilled)}
	if got, want := m1.Tasks(), []TaskKey{{"fw-a", "t1"}, {"fw-b", "t1"}}; !slices.Equal(got, want) {
		t.Fatalf("Tasks() = %q, want %q", got, want)
	}
	for _, st := range []mesos.TaskStatus{a[0], b[0]} {
		waitFor(t, 5*time.Second, "update "+st.UUID+" sent", func() bool { return f.count(st.UUID) > 0 })
	}
	for _, c := range f.calls() {
		if want := map[string]string{a[0].UUID: "fw-a", b[0].UUID: "fw-b"}[c.status.UUID]; c.frameworkID != want {
			t.Errorf("update %s sent for framework %q, want %q", c.status.UUID, c.frameworkID, want)
		}
	}

	// An acknowledgement names the framework, or is matched by its UUID.
	for _, tc := range []struct {
		fid string
		st  mesos.TaskStatus
	}{{"fw-b", a[0]}, {"fw-a", b[0]}} {
		if got, err := m1.Acknowledge(tc.fid, "t1", tc.st.UUID); err != nil || got != "" {
			t.Errorf("Acknowledge(%s, t1, the other framework's update) = %q, %v; want it ignored", tc.fid, got, err)
		}
	}
	if got, err := m1.Acknowledge("fw-a", "t1", a[0].UUID); err != nil || got != "fw-a" {
		t.Errorf("Acknowledge(fw-a, t1, %s) = %q, %v; want fw-a", a[0].UUID, got, err)
	}
	if got, err := m1.Acknowledge("", "t1", b[0].UUID); err != nil || got != "fw-b" {
		t.Errorf("Acknowledge(\"\", t1, %s) = %q, %v; want fw-b", b[0].UUID, got, err)
	}
	if got, err := m1.Acknowledge("", "t1", a[1].UUID); err != nil || got != "fw-a" {
		t.Errorf("Acknowledge(\"\", t1, %s) = %q, %v; want fw-a", a[1].UUID, got, err)
	}
	if !m1.Completed("fw-a", "t1") || m1.Completed("fw-b", "t1") {
		t.Errorf("Completed = %v, %v; want fw-a's task only", m1.Completed("fw-a", "t1"), m1.Completed("fw-b", "t1"))
	}
	if err := m1.Forget("fw-a", "t1"); err != nil {
		t.Fatalf("Forget(fw-a, t1): %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, dirName(TaskKey{"fw-a", "t1"}))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("fw-a's t1 directory after Forget: %v, want it removed", err)
	}
	if got := m1.Pending("fw-b", "t1"); !slices.Equal(got, b[1:]) {
		t.Errorf("Pending(fw-b, t1) after fw-a's task was forgotten = %+v, want %+v", got, b[1:])
	}
	// fw-a may use the task ID again.
	a2 := updateOf(m1, "fw-a", mesos.TaskStaging)
	m1.Close()

	m2 := open(t, cfg, (&master{}).send)
	for _, tc := range []struct {
		fid  string
		want []mesos.TaskStatus
	}{{"fw-a", []mesos.TaskStatus{a2}}, {"fw-b", b[1:]}} {
		if got := m2.Pending(tc.fid, "t1"); !slices.Equal(got, tc.want) {
			t.Errorf("after a restart Pending(%s, t1) = %+v, want %+v", tc.fid, got, tc.want)
		}
	}
}

// writeLegacyLog writes a task's log as agentd did when it named a task's
// directory by the task ID alone.
func writeLegacyLog(t *testing.T, dir string, recs ...record) {
	t.Helper()
	dir = filepath.Join(dir, legacyDirName(recs[0].Status.TaskID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, r := range recs {
		b = append(b, frame(mustJSON(t, r))...)
	}
	if err := os.WriteFile(filepath.Join(dir, logName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An upgraded agentd recovers the logs of the previous layout, keeps
// them in their directories, and gives another framework's task of the same
// ID a directory of its own.
func TestOpenRecoversLegacyLayout(t *testing.T) {
	cfg := testConfig(t, time.Minute, time.Minute)
	running := mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning, UUID: "u-running", Timestamp: 1}
	killed := mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskKilled, UUID: "u-killed", Timestamp: 2}
	other := mesos.TaskStatus{TaskID: "../db", State: mesos.TaskRunning, UUID: "u-db", Timestamp: 3}
	writeLegacyLog(t, cfg.Dir,
		record{Type: recUpdate, FrameworkID: "fw-a", Status: &running},
		record{Type: recAck, UUID: running.UUID},
		record{Type: recUpdate, FrameworkID: "fw-a", Status: &killed})
	writeLegacyLog(t, cfg.Dir, record{Type: recUpdate, FrameworkID: "fw-a", Status: &other})
	legacy := filepath.Join(cfg.Dir, legacyDirName("web.1"))

	f := &master{}
	m := open(t, cfg, f.send)
	if got, want := m.Tasks(), []TaskKey{{"fw-a", "../db"}, {"fw-a", "web.1"}}; !slices.Equal(got, want) {
		t.Fatalf("Tasks() = %q, want %q", got, want)
	}
	if got := m.Pending("fw-a", "web.1"); !slices.Equal(got, []mesos.TaskStatus{killed}) {
		t.Errorf("Pending(fw-a, web.1) = %+v, want %+v", got, killed)
	}
	run(t, m)
	waitFor(t, 5*time.Second, "the recovered update resent", func() bool { return f.count(killed.UUID) > 0 })
	if c := f.calls()[0]; c.frameworkID != "fw-a" {
		t.Errorf("recovered update sent for framework %q, want fw-a", c.frameworkID)
	}
	b, err := m.Update("fw-b", mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning})
	if err != nil {
		t.Fatalf("Update(fw-b, web.1): %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, dirName(TaskKey{"fw-b", "web.1"}), logName)); err != nil {
		t.Errorf("fw-b's web.1 log: %v", err)
	}
	// The old directory goes on serving its task, through the restart that
	// follows, until the task is forgotten.
	if got, err := m.Acknowledge("fw-a", "web.1", killed.UUID); err != nil || got != "fw-a" {
		t.Fatalf("Acknowledge(fw-a, web.1, %s) = %q, %v; want fw-a", killed.UUID, got, err)
	}
	m.Close()
	m2 := open(t, cfg, (&master{}).send)
	if !m2.Completed("fw-a", "web.1") {
		t.Errorf("Completed(fw-a, web.1) = false after a restart, want the acknowledgement kept")
	}
	if got := m2.Pending("fw-b", "web.1"); !slices.Equal(got, []mesos.TaskStatus{b}) {
		t.Errorf("Pending(fw-b, web.1) = %+v, want %+v", got, b)
	}
	if err := m2.Forget("fw-a", "web.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old-layout directory after Forget: %v, want it removed", err)
	}
	if _, ok := m2.Latest("fw-a", "../db"); !ok {
		t.Errorf("Latest(fw-a, ../db) unknown, want the old-layout task recovered")
	}
}

// A log in a directory that names another task is refused, as is a second
// log of one task.
func TestOpenRejectsMisplacedLogs(t *testing.T) {
	st := mesos.TaskStatus{TaskID: "t1", State: mesos.TaskRunning, UUID: "u1", Timestamp: 1}
	for _, tc := range []struct {
		name string
		dirs []string
	}{
		{"wrong directory", []string{"t2"}},
		{"another framework's directory", []string{dirName(TaskKey{"fw-b", "t1"})}},
		{"two logs of one task", []string{legacyDirName("t1"), dirName(TaskKey{"fw-a", "t1"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, time.Minute, time.Minute)
			for _, d := range tc.dirs {
				dir := filepath.Join(cfg.Dir, d)
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				line := frame(mustJSON(t, record{Type: recUpdate, FrameworkID: "fw-a", Status: &st}))
				if err := os.WriteFile(filepath.Join(dir, logName), line, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if m, err := Open(cfg, (&master{}).send, nil); err == nil {
				m.Close()
				t.Errorf("Open with logs in %q succeeded, want an error", tc.dirs)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
