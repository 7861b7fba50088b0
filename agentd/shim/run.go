package shim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"corral/isolation"
)

// runner is a started task: a container or a plain process group.
type runner interface {
	Pid() int
	Wait() (Exit, error)
	Signal(sig syscall.Signal, all bool) error
	Cleanup() error
}

// Main runs the shim for the run directory args[0] and returns the shim's
// exit code; the task's own status goes to ExitFile.
func Main(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: agentd shim <run dir>")
		return 2
	}
	runDir := args[0]
	// agentd's Start passes the ready pipe; `agentd shim` run by hand may
	// have anything, or nothing, on that descriptor.
	var ready *os.File
	var st unix.Stat_t
	if unix.Fstat(readyFD, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		unix.CloseOnExec(readyFD) // not for the task (posix isolation execs it)
		ready = os.NewFile(readyFD, "ready")
	}
	if err := run(runDir, ready); err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		return 1
	}
	return 0
}

// run starts and supervises the task. Once the task runs, it writes the
// task's Process to PidFile and then, as a line, to ready, which it closes;
// ready may be nil.
func run(runDir string, ready *os.File) error {
	var spec Spec
	if ok, err := ReadJSON(filepath.Join(runDir, SpecFile), &spec); err != nil || !ok {
		return fmt.Errorf("reading %s: %v (present %v)", SpecFile, err, ok)
	}
	// Orphans of the task (posix mode) are re-parented to the shim, which
	// reaps them, rather than to init.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM)
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)

	r, err := start(spec)
	if err != nil {
		return WriteJSON(filepath.Join(runDir, ExitFile), Exit{Code: -1, Error: err.Error(), At: time.Now()})
	}
	self, err := startTime(os.Getpid())
	if err != nil {
		return err
	}
	pid := Process{ShimPID: os.Getpid(), StartTime: self, TaskPID: r.Pid()}.String()
	if err := os.WriteFile(filepath.Join(runDir, PidFile), []byte(pid), 0o600); err != nil {
		return err
	}
	if ready != nil {
		// agentd may be gone (EPIPE); it reads PidFile when it comes back.
		_, _ = ready.WriteString(pid + "\n")
		ready.Close()
	}
	// A kill requested before the task ran found no shim PID to signal.
	if _, err := os.Stat(filepath.Join(runDir, KillFile)); err == nil {
		sigs <- syscall.SIGTERM
	}

	type waited struct {
		exit Exit
		err  error
	}
	done := make(chan waited, 1)
	go func() {
		e, err := r.Wait()
		done <- waited{e, err}
	}()
	killed := false
	var escalate <-chan time.Time
	for {
		select {
		case <-sigs:
			grace := spec.KillGrace
			var k Kill
			if ok, _ := ReadJSON(filepath.Join(runDir, KillFile), &k); ok {
				grace = k.Grace
			}
			if !killed {
				killed = true
				_ = r.Signal(syscall.SIGTERM, false)
				escalate = time.After(grace)
			}
		case <-escalate:
			_ = r.Signal(syscall.SIGKILL, true)
		case w := <-done:
			// The task's init is gone; nothing else of it may linger.
			_ = r.Signal(syscall.SIGKILL, true)
			cerr := r.Cleanup()
			e := w.exit
			if w.err != nil {
				e = Exit{Code: -1, Error: "waiting for the task: " + w.err.Error()}
			}
			e.Killed, e.At = killed, time.Now()
			if err := WriteJSON(filepath.Join(runDir, ExitFile), e); err != nil {
				return err
			}
			if cerr != nil {
				return fmt.Errorf("cleaning up after the task: %w", cerr)
			}
			return nil
		}
	}
}

func start(spec Spec) (runner, error) {
	// The shim writes the task's output itself, so it can cap and rotate it.
	var logs []*rotatingFile
	for _, out := range []struct {
		path   *string
		writer *io.Writer
	}{{&spec.Container.Stdout, &spec.Container.StdoutWriter}, {&spec.Container.Stderr, &spec.Container.StderrWriter}} {
		if *out.path == "" {
			continue
		}
		f, err := openRotating(*out.path, spec.LogMaxBytes, spec.LogKeep)
		if err != nil {
			return nil, fmt.Errorf("opening the task's output: %w", err)
		}
		logs = append(logs, f)
		*out.path, *out.writer = "", f
	}
	r, err := startRunner(spec)
	if err != nil {
		for _, f := range logs {
			f.Close()
		}
		return nil, err
	}
	return withLogs{r, logs}, nil
}

// withLogs closes the task's output files once the task is cleaned up.
type withLogs struct {
	runner
	logs []*rotatingFile
}

func (w withLogs) Cleanup() error {
	err := w.runner.Cleanup()
	for _, f := range w.logs {
		f.Close()
	}
	return err
}

func startRunner(spec Spec) (runner, error) {
	switch spec.Isolation {
	case Linux:
		rt, err := isolation.NewRuntime(spec.Root)
		if err != nil {
			return nil, err
		}
		c, err := rt.Start(spec.Container)
		if err != nil {
			return nil, err
		}
		return containerRunner{c}, nil
	case Posix:
		return startProcess(spec.Container)
	default:
		return nil, fmt.Errorf("unknown isolation %q, must be linux or posix", spec.Isolation)
	}
}

type containerRunner struct{ c *isolation.Container }

func (r containerRunner) Pid() int { return r.c.Pid() }

func (r containerRunner) Wait() (Exit, error) {
	st, err := r.c.Wait()
	if err != nil {
		return Exit{}, err
	}
	e := Exit{Code: st.Code, Signal: int(st.Signal), OOMKilled: st.OOMKilled, Error: st.ExecError}
	if !e.OOMKilled {
		// The kernel may record the OOM kill after the process is reaped.
		e.OOMKilled, _ = r.c.OOMKilled()
	}
	return e, nil
}

func (r containerRunner) Signal(sig syscall.Signal, all bool) error { return r.c.Signal(sig, all) }
func (r containerRunner) Cleanup() error                            { return r.c.Destroy() }

// processRunner runs the task as a plain process group (posix isolation).
type processRunner struct{ cmd *exec.Cmd }

func startProcess(s isolation.Spec) (runner, error) {
	if len(s.Args) == 0 {
		return nil, errors.New("no command to run")
	}
	cmd := exec.Command(s.Args[0], s.Args[1:]...)
	cmd.Env = s.Env
	cmd.Dir = s.Cwd
	if cmd.Dir == "" {
		cmd.Dir = s.Sandbox
	}
	cmd.Stdout, cmd.Stderr = s.StdoutWriter, s.StderrWriter
	// A daemonised grandchild may hold the output pipes open forever.
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q: %w", s.Args[0], err)
	}
	return processRunner{cmd}, nil
}

func (r processRunner) Pid() int { return r.cmd.Process.Pid }

func (r processRunner) Wait() (Exit, error) {
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Exit{}, err
	}
	ws := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return Exit{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}, nil
	}
	return Exit{Code: ws.ExitStatus()}, nil
}

func (r processRunner) Signal(sig syscall.Signal, all bool) error {
	pid := r.cmd.Process.Pid
	if all {
		pid = -pid // the whole process group
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func (r processRunner) Cleanup() error { return nil }
