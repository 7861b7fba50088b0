package task

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/agentd/files"
	"corral/agentd/shim"
	"corral/mesos"
)

func testManager(t *testing.T, workDir string) *Manager {
	t.Helper()
	m, err := NewManager(Config{WorkDir: workDir, Isolation: shim.Posix, Binary: "/bin/true", Poll: time.Second},
		func(string, mesos.TaskStatus) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLocateSandbox(t *testing.T) {
	work := t.TempDir()
	m := testManager(t, work)
	tasks := filepath.Join(work, "tasks")
	web := name("fw-1", "web.1")
	tests := []struct {
		path string
		want files.Location
		ok   bool
	}{
		{tasks + "/" + web + "/sandbox", files.Location{Base: tasks, Sandbox: web + "/sandbox"}, true},
		{tasks + "/" + web + "/sandbox/stdout", files.Location{Base: tasks, Sandbox: web + "/sandbox", Rest: "stdout"}, true},
		{tasks + "/" + web + "/sandbox/../task.json", files.Location{Base: tasks, Sandbox: web + "/sandbox", Rest: "../task.json"}, true},
		{"/frameworks/fw-1/executors/web.1/runs/latest", files.Location{Base: tasks, Sandbox: web + "/sandbox"}, true},
		{"/frameworks/fw-1/executors/web.1/runs/latest/d/stderr", files.Location{Base: tasks, Sandbox: web + "/sandbox", Rest: "d/stderr"}, true},
		// The virtual path's IDs are escaped as directory names are, so
		// they never name another directory.
		{"/frameworks/../executors/../runs/latest/x", files.Location{Base: tasks, Sandbox: name("..", "..") + "/sandbox", Rest: "x"}, true},
		{tasks + "/" + web + "/task.json", files.Location{}, false},
		{tasks + "/" + web + "/run/pid", files.Location{}, false},
		{tasks + "/../meta/agent_id", files.Location{}, false},
		{tasks + "/./sandbox/x", files.Location{}, false},
		{tasks + "//sandbox/x", files.Location{}, false},
		{tasks, files.Location{}, false},
		{"/etc/passwd", files.Location{}, false},
		{"/frameworks/fw-1/executors/web.1/runs/other/stdout", files.Location{}, false},
		{"/frameworks//executors/web.1/runs/latest", files.Location{}, false},
		{"frameworks/fw-1/executors/web.1/runs/latest", files.Location{}, false},
	}
	for _, tt := range tests {
		got, ok := m.LocateSandbox(tt.path)
		if ok != tt.ok || got != tt.want {
			t.Errorf("LocateSandbox(%q) = %+v, %v, want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

// TestCompletedSandboxes follows a task from running to forgotten to its
// sandbox removed, across a restart: /state lists it while its sandbox
// exists.
func TestCompletedSandboxes(t *testing.T) {
	work := t.TempDir()
	m := testManager(t, work)
	dir := filepath.Join(work, "tasks", name("fw-1", "web.1"))
	if err := os.MkdirAll(filepath.Join(dir, "sandbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	info := mesos.TaskInfo{TaskID: "web.1", Name: "web"}
	if err := shim.WriteJSON(filepath.Join(dir, taskFile), &Task{FrameworkID: "fw-1", Info: info}); err != nil {
		t.Fatal(err)
	}
	finished := func(string, string) (mesos.TaskState, bool) { return mesos.TaskFinished, true }
	if err := m.Recover(context.Background(), finished); err != nil {
		t.Fatal(err)
	}
	live, done := m.Sandboxes()
	if len(live) != 1 || len(done) != 0 || live[0].Directory != filepath.Join(dir, "sandbox") || live[0].State != mesos.TaskFinished {
		t.Fatalf("before Remove: Sandboxes() = %+v, %+v, want web.1 live at %s", live, done, filepath.Join(dir, "sandbox"))
	}
	m.Remove("fw-1", "web.1")
	live, done = m.Sandboxes()
	if len(live) != 0 || len(done) != 1 || done[0].Info.TaskID != "web.1" || done[0].State != mesos.TaskFinished {
		t.Fatalf("after Remove: Sandboxes() = %+v, %+v, want web.1 completed", live, done)
	}

	m = testManager(t, work) // agentd restarts
	if err := m.Recover(context.Background(), func(string, string) (mesos.TaskState, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	live, done = m.Sandboxes()
	if len(live) != 0 || len(done) != 1 || done[0].Directory != filepath.Join(dir, "sandbox") || done[0].State != mesos.TaskFinished {
		t.Fatalf("after a restart: Sandboxes() = %+v, %+v, want web.1 completed", live, done)
	}
	os.RemoveAll(dir)
	if live, done = m.Sandboxes(); len(live)+len(done) != 0 {
		t.Fatalf("sandbox removed: Sandboxes() = %+v, %+v, want none", live, done)
	}
}
