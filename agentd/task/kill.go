package task

import (
	"path/filepath"
	"time"

	"corral/agentd/shim"
	"corral/mesos"
)

// Kill kills a task: TASK_KILLING, SIGTERM, the grace period, SIGKILL,
// TASK_KILLED. An unknown task is reported lost.
func (m *Manager) Kill(frameworkID, taskID string, policy *mesos.KillPolicy) {
	m.mu.Lock()
	t := m.tasks[taskKey{frameworkID, taskID}]
	m.mu.Unlock()
	if t == nil {
		m.update(frameworkID, mesos.TaskStatus{TaskID: taskID, State: mesos.TaskLost, Source: mesos.SourceAgent,
			Reason: mesos.ReasonTaskUnknown, Message: "kill of a task this agent does not run", Timestamp: float64(time.Now().UnixNano()) / 1e9})
		return
	}
	m.kill(t, policy, "", "")
}

func (m *Manager) kill(t *Task, policy *mesos.KillPolicy, reason, msg string) {
	if t.State().Terminal() {
		return
	}
	grace := m.cfg.DefaultKillGrace
	if t.Info.KillPolicy != nil && t.Info.KillPolicy.GracePeriodSeconds > 0 {
		grace = time.Duration(t.Info.KillPolicy.GracePeriodSeconds * float64(time.Second))
	}
	if policy != nil && policy.GracePeriodSeconds > 0 {
		grace = time.Duration(policy.GracePeriodSeconds * float64(time.Second))
	}
	t.mu.Lock()
	first := !t.killing
	t.killing = true
	if first && t.killed != nil {
		close(t.killed)
	}
	if reason != "" {
		t.killReason, t.killMessage = reason, msg
	}
	t.mu.Unlock()
	if first {
		m.send(t, mesos.TaskStatus{State: mesos.TaskKilling})
	}
	p, ok, _ := shim.ReadPid(t.runDir())
	dirGone := false
	if !ok {
		// A task that ran has lost its run directory (removed by hand):
		// its shim is still signalled, from what the agent remembers, and
		// kills with the grace period it was started with.
		p, ok = t.process()
		dirGone = ok
	}
	if !ok {
		// The shim has not started the task yet: it finds the request when
		// it does. Look again in case it started meanwhile.
		_ = shim.WriteJSON(filepath.Join(t.runDir(), shim.KillFile), shim.Kill{Grace: grace})
		if p, ok, _ = shim.ReadPid(t.runDir()); !ok {
			return
		}
	}
	err := shim.RequestKill(t.runDir(), p, grace)
	switch {
	case dirGone:
		m.log.Warn("killing a task whose run directory is gone: its shim is signalled and uses its own grace period", "task", t.Info.TaskID, "dir", t.runDir(), "err", err)
	case err != nil:
		m.log.Error("killing task", "task", t.Info.TaskID, "err", err)
	}
}
