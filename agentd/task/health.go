package task

// A task's Mesos-level health check: the agent runs it, reports each
// verdict in a TASK_RUNNING update and kills the task after too many
// consecutive failures.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"corral/agentd/health"
	"corral/agentd/shim"
	"corral/mesos"
)

// startHealth runs t's health check, if it has one, until ctx ends.
func (m *Manager) startHealth(ctx context.Context, t *Task) {
	hc := t.Info.HealthCheck
	if hc == nil {
		return
	}
	check := *hc
	target := health.Target{Host: m.cfg.IP}
	if ip := t.net.IP(); ip != "" {
		// The container's own address, which the host reaches, at the
		// container port a host port (Marathon's portIndex) is forwarded to.
		target.Host = ip
		check.Port = t.net.ContainerPort(check.Port)
	}
	if check.Port != 0 {
		target.Port = int(check.Port)
	}
	exec := func(ctx context.Context, command string) (int, string, error) {
		return m.execInTask(ctx, t, command)
	}
	started := time.Now()
	c, err := health.New(check, target, exec, started, func(r health.Result) {
		healthy := r.Healthy
		if r.Kill {
			m.log.Warn("task failed its health checks, killing it", "task", t.Info.TaskID, "failures", r.ConsecutiveFailures)
			m.kill(t, nil, mesos.ReasonTaskHealthCheckStatusUpdated,
				fmt.Sprintf("killed after %d consecutive failed health checks: %s", r.ConsecutiveFailures, r.LastFailureCause))
			return
		}
		if t.State() == mesos.TaskRunning {
			m.send(t, mesos.TaskStatus{State: mesos.TaskRunning, Healthy: &healthy, Reason: mesos.ReasonTaskHealthCheckStatusUpdated})
		}
	})
	if err != nil {
		m.log.Error("invalid health check", "task", t.Info.TaskID, "err", err)
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		c.Run(ctx)
	}()
}

// execInTask runs a COMMAND health check. With posix isolation it runs on
// the host in the sandbox with the task's environment; with linux isolation
// inside the container's namespaces.
func (m *Manager) execInTask(ctx context.Context, t *Task, command string) (int, string, error) {
	var spec shim.Spec
	if _, err := shim.ReadJSON(filepath.Join(t.runDir(), shim.SpecFile), &spec); err != nil {
		return -1, "", err
	}
	var cmd *exec.Cmd
	if m.cfg.Isolation == shim.Linux {
		p, ok, _ := shim.ReadPid(t.runDir())
		if !ok {
			return -1, "", errors.New("task not running")
		}
		args := []string{"--target", fmt.Sprint(p.TaskPID), "--mount", "--uts", "--ipc", "--pid"}
		if t.net.NetNS != "" {
			args = append(args, "--net")
		}
		cmd = exec.CommandContext(ctx, "nsenter", append(args, "--", "/bin/sh", "-c", command)...)
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", command)
		cmd.Dir = t.sandboxDir()
	}
	cmd.Env = spec.Container.Env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out), nil
	}
	if err != nil {
		return -1, string(out), err
	}
	return 0, string(out), nil
}
