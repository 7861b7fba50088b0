package task

import (
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

// Usage is one running task's cgroup usage.
type Usage struct {
	FrameworkID string
	TaskID      string
	CPUsLimit   float64 // the task's cpus resource
	isolation.Stats
}

// Usage reads the cgroup usage of every running task (linux isolation
// only; posix tasks have no cgroup of their own).
func (m *Manager) Usage() []Usage {
	if m.cfg.Isolation != shim.Linux {
		return nil
	}
	rt, err := isolation.NewRuntime(m.containersDir())
	if err != nil {
		m.log.Warn("reading task statistics", "err", err)
		return nil
	}
	m.mu.Lock()
	var running []*Task
	for _, t := range m.tasks {
		if t.State() == mesos.TaskRunning || t.State() == mesos.TaskKilling {
			running = append(running, t)
		}
	}
	m.mu.Unlock()
	var out []Usage
	for _, t := range running {
		c, err := rt.Load(t.ContainerID)
		if err != nil {
			continue
		}
		s, err := c.Stats()
		if err != nil {
			continue
		}
		out = append(out, Usage{FrameworkID: t.FrameworkID, TaskID: t.Info.TaskID,
			CPUsLimit: t.Info.Resources.Scalar(mesos.CPUs), Stats: s})
	}
	return out
}

// Statistics is Usage as the Mesos agent's /monitor/statistics has it.
func (m *Manager) Statistics() []Statistics {
	out := []Statistics{}
	for _, u := range m.Usage() {
		out = append(out, Statistics{
			ExecutorID: u.TaskID, FrameworkID: u.FrameworkID, Source: u.TaskID,
			Statistics: map[string]any{
				"timestamp":             float64(time.Now().UnixNano()) / 1e9,
				"cpus_user_time_secs":   u.CPUUserSeconds,
				"cpus_system_time_secs": u.CPUSystemSeconds,
				"cpus_limit":            u.CPUsLimit,
				"mem_total_bytes":       u.MemUsageBytes,
				"mem_rss_bytes":         u.MemRSSBytes,
				"mem_limit_bytes":       u.MemLimitBytes,
				"processes":             u.Pids,
				"mem_oom_kills":         u.OOMKills,
			},
		})
	}
	return out
}
