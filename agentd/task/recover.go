package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"corral/agentd/shim"
	"corral/isolation"
	"corral/mesos"
)

// Recover re-attaches to the tasks in the work directory after a restart.
// latest reports the last status recorded for a task (by the status
// manager); tasks whose last status is terminal are kept, without a shim,
// until Remove.
func (m *Manager) Recover(ctx context.Context, latest func(frameworkID, taskID string) (mesos.TaskState, bool)) error {
	entries, err := os.ReadDir(m.tasksDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading tasks: %w", err)
	}
	var live []string      // container IDs of the tasks still running
	var completed []string // directories of forgotten tasks
	for _, e := range entries {
		dir := filepath.Join(m.tasksDir(), e.Name())
		var t Task
		ok, err := shim.ReadJSON(filepath.Join(dir, taskFile), &t)
		if err == nil && !ok {
			completed = append(completed, dir)
			continue
		}
		if err != nil {
			m.log.Warn("skipping unreadable task directory", "dir", dir, "err", err)
			continue
		}
		t.dir = dir
		if t.ContainerID == "" { // written by an agentd that did not record it
			t.ContainerID = legacyContainerID(t.FrameworkID, t.Info.TaskID)
		}
		state, known := latest(t.FrameworkID, t.Info.TaskID)
		t.state = mesos.TaskStaging
		if known {
			t.state = state
		}
		task := &t
		m.mu.Lock()
		dup := m.tasks[t.key()]
		if dup == nil {
			m.tasks[t.key()] = task
		}
		m.mu.Unlock()
		if dup != nil {
			m.log.Error("skipping a second directory of a task", "framework", t.FrameworkID, "task", t.Info.TaskID, "dir", dir, "first", dup.dir)
			continue
		}
		if state.Terminal() {
			continue // ended; its final update is still being delivered
		}
		p, running, _ := shim.ReadPid(task.runDir())
		if _, exited, _ := shim.ReadExit(task.runDir()); exited || (running && !p.Alive()) || !running {
			// It ended while agentd was away (or never started).
			m.log.Info("recovered a task that ended while the agent was down", "task", t.Info.TaskID)
			m.finish(task)
			continue
		}
		if m.cfg.Network != nil {
			att, err := m.cfg.Network.Recover(ctx, task.ContainerID)
			if err != nil {
				m.log.Error("re-attaching to the task's network", "task", t.Info.TaskID, "err", err)
			}
			task.net = att
		}
		live = append(live, task.ContainerID)
		if task.state != mesos.TaskRunning && task.state != mesos.TaskKilling {
			m.send(task, mesos.TaskStatus{State: mesos.TaskRunning, ContainerStatus: m.containerStatus(task, p.TaskPID)})
		}
		m.log.Info("re-attached to task", "task", t.Info.TaskID, "pid", p.TaskPID)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.supervise(ctx, task, nil, nil, func() {})
		}()
	}
	m.recoverCompleted(completed)
	if m.cfg.Isolation == shim.Linux {
		m.destroyOrphans(live)
	}
	if m.cfg.Network != nil {
		// Before any launch: CNI GC must not see a new task as a leak.
		if err := m.cfg.Network.Collect(ctx, live); err != nil {
			m.log.Warn("collecting leftover network resources", "err", err)
		}
	}
	return nil
}

// destroyOrphans destroys the containers that belong to no running task
// the agent knows and have no task directory: those whose directory was
// removed while they ran (by an operator freeing disk) would otherwise
// run on unseen, holding the ports and memory the master offers to
// others, as the Mesos agent destroys unknown containers when it
// recovers. A container whose directory is there but could not be read
// is left alone. A task's directory is named by its container ID.
func (m *Manager) destroyOrphans(live []string) {
	rt, err := isolation.NewRuntime(m.containersDir())
	if err != nil {
		m.log.Warn("looking for containers of no task", "err", err)
		return
	}
	ids, err := rt.List()
	if err != nil {
		m.log.Warn("looking for containers of no task", "err", err)
		return
	}
	for _, id := range ids {
		if slices.Contains(live, id) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(m.tasksDir(), id)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := rt.Remove(id); err != nil {
			m.log.Error("destroying a container of no task", "container", id, "err", err)
			continue
		}
		m.log.Warn("destroyed a container of no task (its task directory is gone)", "container", id)
	}
}
