package task

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"corral/agentd/files"
	"corral/agentd/shim"
	"corral/mesos"
)

// completedFile replaces taskFile once a task's final update is
// acknowledged: its sandbox stays for the operator, and the agent's
// /state lists it among completed executors while it exists.
const completedFile = "completed.json"

// MaxCompletedPerFramework bounds the completed tasks remembered per
// framework, as Mesos's --max_completed_executors_per_framework (150).
const MaxCompletedPerFramework = 150

// completedTask is what completedFile holds.
type completedTask struct {
	FrameworkID string          `json:"framework_id"`
	Info        mesos.TaskInfo  `json:"info"`
	State       mesos.TaskState `json:"state"`
	ContainerID string          `json:"container_id"`
}

// Sandbox is a task with its sandbox directory, as the agent's /state
// lists them.
type Sandbox struct {
	mesos.Task
	Directory string
	Container string
}

// Sandboxes lists the agent's tasks with their sandboxes: those the
// manager runs or has not forgotten yet (live), and those forgotten
// whose sandbox is still on disk (completed), oldest first.
func (m *Manager) Sandboxes() (live, completed []Sandbox) {
	m.mu.Lock()
	for _, t := range m.tasks {
		live = append(live, sandboxOf(t, t.State()))
	}
	var done []*completedEntry
	for _, l := range m.completed {
		done = append(done, l...)
	}
	m.mu.Unlock()
	sort.Slice(live, func(i, j int) bool { return live[i].Info.TaskID < live[j].Info.TaskID })
	for _, c := range done {
		s := sandboxOf(c.task, c.state)
		if _, err := os.Stat(s.Directory); err == nil {
			completed = append(completed, s)
		}
	}
	return live, completed
}

func sandboxOf(t *Task, state mesos.TaskState) Sandbox {
	return Sandbox{
		Task:      mesos.Task{Info: t.Info, FrameworkID: t.FrameworkID, State: state},
		Directory: t.sandboxDir(),
		Container: t.ContainerID,
	}
}

// completedEntry is a forgotten task whose sandbox may still exist.
type completedEntry struct {
	task  *Task
	state mesos.TaskState
}

// remember keeps a forgotten task for /state, dropping the framework's
// oldest beyond MaxCompletedPerFramework. Caller holds m.mu.
func (m *Manager) remember(t *Task, state mesos.TaskState) {
	l := append(m.completed[t.FrameworkID], &completedEntry{task: t, state: state})
	if len(l) > MaxCompletedPerFramework {
		l = l[len(l)-MaxCompletedPerFramework:]
	}
	m.completed[t.FrameworkID] = l
}

// retire marks a forgotten task's directory as completed: completedFile
// is written before taskFile goes, so a crash in between leaves a task
// that is recovered and forgotten again.
func retire(t *Task, state mesos.TaskState) {
	if err := shim.WriteJSON(filepath.Join(t.dir, completedFile), completedTask{t.FrameworkID, t.Info, state, t.ContainerID}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return // keep taskFile: the task is recovered and retired again
	}
	os.Remove(filepath.Join(t.dir, taskFile))
}

// recoverCompleted loads the forgotten tasks of a previous run from the
// directories holding completedFile, oldest first.
func (m *Manager) recoverCompleted(dirs []string) {
	type found struct {
		e     *completedEntry
		mtime time.Time
	}
	var all []found
	for _, dir := range dirs {
		var c completedTask
		path := filepath.Join(dir, completedFile)
		if ok, err := shim.ReadJSON(path, &c); err != nil || !ok {
			m.log.Warn("skipping unreadable task directory", "dir", dir, "err", err)
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if c.ContainerID == "" { // retired by an agentd that did not record it
			c.ContainerID = legacyContainerID(c.FrameworkID, c.Info.TaskID)
		}
		t := &Task{FrameworkID: c.FrameworkID, Info: c.Info, ContainerID: c.ContainerID, dir: dir, state: c.State}
		all = append(all, found{&completedEntry{t, c.State}, st.ModTime()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mtime.Before(all[j].mtime) })
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range all {
		m.remember(f.e.task, f.e.state)
	}
}

// LocateSandbox maps a path as /files clients name it to the sandbox it
// lies in: a sandbox's directory as /state lists it (an absolute path
// under <work-dir>/tasks), or Mesos's virtual path of an executor's
// latest run, /frameworks/<framework>/executors/<task>/runs/latest, with
// or without a path inside. Whether the sandbox exists is left to the
// caller, which opens it.
func (m *Manager) LocateSandbox(p string) (files.Location, bool) {
	base := m.tasksDir()
	loc := files.Location{Base: base}
	if rest, ok := strings.CutPrefix(p, base+"/"); ok {
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 2 || parts[1] != "sandbox" || parts[0] == "" || parts[0] == "." || parts[0] == ".." {
			return files.Location{}, false
		}
		loc.Sandbox = filepath.Join(parts[0], "sandbox")
		if len(parts) == 3 {
			loc.Rest = parts[2]
		}
		return loc, true
	}
	// "", "frameworks", fid, "executors", eid, "runs", "latest", rest
	parts := strings.SplitN(p, "/", 8)
	if len(parts) < 7 || parts[0] != "" || parts[1] != "frameworks" || parts[3] != "executors" ||
		parts[5] != "runs" || parts[6] != "latest" || parts[2] == "" || parts[4] == "" {
		return files.Location{}, false
	}
	loc.Sandbox = filepath.Join(m.dirName(parts[2], parts[4]), "sandbox")
	if len(parts) == 8 {
		loc.Rest = parts[7]
	}
	return loc, true
}

// dirName returns the name of a task's directory: where the task is, if
// the manager has it or remembers it (a task of an older agentd may be
// elsewhere), else where it would be.
func (m *Manager) dirName(frameworkID, taskID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tasks[taskKey{frameworkID, taskID}]; t != nil {
		return filepath.Base(t.dir)
	}
	l := m.completed[frameworkID]
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].task.Info.TaskID == taskID {
			return filepath.Base(l[i].task.dir)
		}
	}
	return name(frameworkID, taskID)
}
