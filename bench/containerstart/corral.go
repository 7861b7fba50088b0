package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"corral/agentd/shim"
	"corral/isolation"
)

// shimExitTimeout bounds how long removing a shim's container waits for the
// shim to kill its task, clean up and exit.
const shimExitTimeout = 15 * time.Second

// corralSpec is the container both Corral runtimes start: the shared root
// file system, stdout on the readiness FIFO, and no resource limits but the
// CPU of a task with cpus (0: none), as runc's bundle has (see
// isolation.CPULimits); with seccomp, Docker's default profile, as a task
// gets it.
func corralSpec(w *workDir, id, stdout string, cpus float64, seccomp bool) isolation.Spec {
	return isolation.Spec{
		ID:     id,
		Args:   workload,
		Rootfs: w.rootfs,
		Stdout: stdout,
		Stderr: w.log(id),
		CPUs:   cpus,

		SeccompUnconfined: !seccomp,
	}
}

// corralLauncher starts containers with isolation.Runtime.Start in this
// process, which becomes their parent.
type corralLauncher struct {
	rt      *isolation.Runtime
	w       *workDir
	cpus    float64 // the containers' Spec.CPUs
	seccomp bool    // the containers get the default seccomp profile

	mu   sync.Mutex // guards live
	live map[string]*isolation.Container
}

func newCorralLauncher(rt *isolation.Runtime, w *workDir, cpus float64, seccomp bool) *corralLauncher {
	return &corralLauncher{rt: rt, w: w, cpus: cpus, seccomp: seccomp, live: map[string]*isolation.Container{}}
}

func (l *corralLauncher) name() string { return rtCorral }

func (l *corralLauncher) prepare(string) error { return nil }

func (l *corralLauncher) launch(_ context.Context, id, stdout string) error {
	c, err := l.rt.Start(corralSpec(l.w, id, stdout, l.cpus, l.seccomp))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.live[id] = c
	l.mu.Unlock()
	return nil
}

func (l *corralLauncher) diagnose(id string) string { return "stderr: " + l.w.tail(id) }

// remove kills the container, reaps its init and removes its cgroups and
// state.
func (l *corralLauncher) remove(id string) error {
	l.mu.Lock()
	c := l.live[id]
	delete(l.live, id)
	l.mu.Unlock()
	if c == nil {
		return l.rt.Remove(id)
	}
	return c.Destroy()
}

// cleanup removes every container still there, ours or left by a start
// cut short.
func (l *corralLauncher) cleanup() error {
	l.mu.Lock()
	ids := make([]string, 0, len(l.live))
	for id := range l.live {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, l.remove(id))
	}
	errs = append(errs, removeLeftovers(l.rt))
	return errors.Join(errs...)
}

// removeLeftovers removes whatever container state is left in rt's root.
func removeLeftovers(rt *isolation.Runtime) error {
	ids, err := rt.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, rt.Remove(id))
	}
	return errors.Join(errs...)
}

// shimLauncher starts containers the way agentd does: this binary
// re-executed as `shim <run dir>` in its own session, which reads the spec,
// calls isolation.Runtime.Start and stays the container's parent.
type shimLauncher struct {
	rt      *isolation.Runtime // the shims' runtime root, for cleaning up
	root    string             // rt's root, passed to the shims
	self    string             // the binary run as the shim: this one, or -shim-binary
	w       *workDir
	cpus    float64 // the containers' Spec.CPUs
	seccomp bool    // the containers get the default seccomp profile

	mu   sync.Mutex // guards live
	live map[string]*exec.Cmd
}

// newShimLauncher returns a launcher running binary as the shim; "" is this
// binary.
func newShimLauncher(rt *isolation.Runtime, root, binary string, w *workDir, cpus float64, seccomp bool) (*shimLauncher, error) {
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this binary to run as the shim: %w", err)
		}
		binary = self
	}
	return &shimLauncher{rt: rt, root: root, self: binary, w: w, cpus: cpus, seccomp: seccomp, live: map[string]*exec.Cmd{}}, nil
}

func (l *shimLauncher) name() string { return rtShim }

func (l *shimLauncher) runDir(id string) string { return filepath.Join(l.w.dir, "shim", id) }

func (l *shimLauncher) prepare(id string) error {
	if err := os.MkdirAll(l.runDir(id), 0o700); err != nil {
		return fmt.Errorf("creating the run directory of %s: %w", id, err)
	}
	return nil
}

// launch is what agentd does to start a task: write the spec and start the
// shim. The container runs once the shim's Start has run it.
func (l *shimLauncher) launch(_ context.Context, id, stdout string) error {
	sh, err := shim.Start(l.self, l.runDir(id), shim.Spec{
		Isolation: shim.Linux,
		Container: corralSpec(l.w, id, stdout, l.cpus, l.seccomp),
		Root:      l.root,
		// No grace: the workload ignores SIGTERM (it is PID 1 without a
		// handler), and remove is timed like `runc delete -f`.
		KillGrace: 0,
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.live[id] = sh.Cmd
	l.mu.Unlock()
	return nil
}

func (l *shimLauncher) diagnose(id string) string {
	b, _ := os.ReadFile(filepath.Join(l.runDir(id), "shim.log"))
	e, _, _ := shim.ReadExit(l.runDir(id))
	return fmt.Sprintf("shim log: %q, exit: %+v, stderr: %s", b, e, l.w.tail(id))
}

// remove asks the shim to kill its task (SIGTERM to the shim, as
// shim.RequestKill sends) and waits for it to clean up and exit.
func (l *shimLauncher) remove(id string) error {
	l.mu.Lock()
	cmd := l.live[id]
	delete(l.live, id)
	l.mu.Unlock()
	if cmd == nil {
		return l.rt.Remove(id)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling the shim of %s: %w", id, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("shim of %s: %w (%s)", id, err, l.diagnose(id))
		}
		return nil
	case <-time.After(shimExitTimeout):
		_ = cmd.Process.Kill()
		<-done
		return errors.Join(fmt.Errorf("shim of %s still running %v after SIGTERM", id, shimExitTimeout), l.rt.Remove(id))
	}
}

func (l *shimLauncher) cleanup() error {
	l.mu.Lock()
	ids := make([]string, 0, len(l.live))
	for id := range l.live {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, l.remove(id))
	}
	errs = append(errs, removeLeftovers(l.rt))
	return errors.Join(errs...)
}
