package task

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/mesos"
)

func TestGCMaxAge(t *testing.T) {
	const week = 7 * 24 * time.Hour
	for _, tt := range []struct {
		headroom, usage float64
		want            time.Duration
	}{
		{0.1, 0, 9 * week / 10},
		{0.1, 0.5, 4 * week / 10},
		{0, 0.25, 3 * week / 4},
		{0.1, 0.9, 0}, // the headroom is used up: at once
		{0.1, 0.97, 0},
	} {
		if got := gcMaxAge(week, tt.headroom, tt.usage); (got - tt.want).Abs() > time.Second {
			t.Errorf("gcMaxAge(1 week, headroom %v, usage %v) = %v, want %v", tt.headroom, tt.usage, got, tt.want)
		}
	}
}

// TestCollect: the directories of tasks retired longer ago than the
// allowed age go, with what /state and /files know of them; younger ones,
// live tasks' and a task being retired stay.
func TestCollect(t *testing.T) {
	work := t.TempDir()
	m := testManager(t, work)
	now := time.Now()
	mk := func(taskID string, retired time.Duration, live bool) string {
		dir := filepath.Join(work, "tasks", name("fw-1", taskID))
		if err := os.MkdirAll(filepath.Join(dir, "sandbox"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "sandbox", "stdout"), []byte("output"), 0o644)
		if err := shim.WriteJSON(filepath.Join(dir, completedFile), completedTask{FrameworkID: "fw-1", Info: mesos.TaskInfo{TaskID: taskID}, State: mesos.TaskFinished}); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-retired)
		os.Chtimes(filepath.Join(dir, completedFile), at, at)
		if live {
			shim.WriteJSON(filepath.Join(dir, taskFile), &Task{FrameworkID: "fw-1", Info: mesos.TaskInfo{TaskID: taskID}})
		}
		return dir
	}
	old := mk("old", 3*time.Hour, false)
	young := mk("young", time.Hour, false)
	retiring := mk("retiring", 3*time.Hour, true)
	m.recoverCompleted([]string{old, young})
	if _, done := m.Sandboxes(); len(done) != 2 {
		t.Fatalf("before: %d completed sandboxes, want 2", len(done))
	}

	m.collect(now, 2*time.Hour, 0.5)
	for dir, want := range map[string]bool{old: false, young: true, retiring: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	if _, done := m.Sandboxes(); len(done) != 1 || done[0].Info.TaskID != "young" {
		t.Errorf("after: completed sandboxes %+v, want young only", done)
	}
	// Forgotten too, not only filtered out by Sandboxes.
	m.mu.Lock()
	remembered := len(m.completed["fw-1"])
	m.mu.Unlock()
	if remembered != 1 {
		t.Errorf("the manager remembers %d completed tasks, want 1", remembered)
	}

	if trash, _ := os.ReadDir(m.trashDir()); len(trash) != 0 {
		t.Errorf("the trash still holds %v", trash)
	}
	// What a crash left in the trash goes at the next pass.
	left := filepath.Join(m.trashDir(), "half-removed", "sandbox")
	os.MkdirAll(left, 0o755)
	m.collect(now, 2*time.Hour, 0.5)
	if _, err := os.Stat(filepath.Dir(left)); err == nil {
		t.Errorf("a half-removed directory stayed in the trash")
	}

	// A full disk: everything retired goes at once.
	m.collect(now, 0, 0.95)
	if _, err := os.Stat(young); err == nil {
		t.Errorf("with no age allowed, %s stayed", filepath.Base(young))
	}
	if _, err := os.Stat(retiring); err != nil {
		t.Errorf("a task being retired (task.json still there) was removed")
	}
}
