package task

import (
	"path/filepath"
	"time"

	"corral/agentd/shim"
	"corral/isolation"
	"corral/mesos"
)

// Statistics is one task's resource usage, in the shape of the Mesos
// agent's /monitor/statistics entries.
type Statistics struct {
	ExecutorID  string         `json:"executor_id"`
	FrameworkID string         `json:"framework_id"`
	Source      string         `json:"source"`
	Statistics  map[string]any `json:"statistics"`
}

// Statistics reads the cgroup usage of every running task (linux
// isolation only; posix tasks have no cgroup of their own).
func (m *Manager) Statistics() []Statistics {
	if m.cfg.Isolation != shim.Linux {
		return []Statistics{}
	}
	rt, err := isolation.NewRuntime(filepath.Join(m.cfg.WorkDir, "containers"))
	if err != nil {
		m.log.Warn("reading task statistics", "err", err)
		return []Statistics{}
	}
	m.mu.Lock()
	var running []*Task
	for _, t := range m.tasks {
		if t.State() == mesos.TaskRunning || t.State() == mesos.TaskKilling {
			running = append(running, t)
		}
	}
	m.mu.Unlock()
	out := []Statistics{}
	for _, t := range running {
		c, err := rt.Load(containerID(t))
		if err != nil {
			continue
		}
		s, err := c.Stats()
		if err != nil {
			continue
		}
		out = append(out, Statistics{
			ExecutorID: t.Info.TaskID, FrameworkID: t.FrameworkID, Source: t.Info.TaskID,
			Statistics: map[string]any{
				"timestamp":             float64(time.Now().UnixNano()) / 1e9,
				"cpus_user_time_secs":   s.CPUUserSeconds,
				"cpus_system_time_secs": s.CPUSystemSeconds,
				"cpus_limit":            t.Info.Resources.Scalar(mesos.CPUs),
				"mem_total_bytes":       s.MemUsageBytes,
				"mem_rss_bytes":         s.MemRSSBytes,
				"mem_limit_bytes":       s.MemLimitBytes,
				"processes":             s.Pids,
				"mem_oom_kills":         s.OOMKills,
			},
		})
	}
	return out
}
