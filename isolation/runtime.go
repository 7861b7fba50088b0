package isolation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// hostRootDir is the skeleton root of host-root containers inside the
// runtime's root; '@' keeps it apart from container IDs.
const hostRootDir = "@hostroot"

// stopTimeout bounds how long Destroy waits for a killed container's init
// to go away when this process is not its parent.
const stopTimeout = 10 * time.Second

// Runtime creates and finds containers whose libcontainer state lives in
// one directory.
type Runtime struct {
	root string
	mode cgroupMode
	// execHelper is corral-exec's path, "" to have libcontainer's init
	// compile each container's seccomp filter (see seccompexec.go).
	execHelper string
}

// NewRuntime returns a Runtime keeping container state under root (e.g.
// <agent work dir>/containers), which it creates.
func NewRuntime(root string) (*Runtime, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving container state root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating container state root: %w", err)
	}
	mode, err := detectCgroups()
	if err != nil {
		return nil, err
	}
	return &Runtime{root: abs, mode: mode, execHelper: defaultExecHelper()}, nil
}

// CgroupMode says which cgroup layout the host has: "v2", "hybrid" (v1
// controllers plus /sys/fs/cgroup/unified) or "v1".
func (r *Runtime) CgroupMode() string { return r.mode.String() }

// Start creates the container and starts its process. The calling process
// becomes the parent of the container's init, so only it can Wait. The ID
// must be free: Remove the leftovers of an earlier container first. Like
// runc, Start marks every file descriptor of the calling process from 3 up
// close-on-exec, so that none leaks into the container.
func (r *Runtime) Start(spec Spec) (_ *Container, retErr error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg, err := containerConfig(&spec, r.mode, filepath.Join(r.root, hostRootDir))
	if err != nil {
		return nil, err
	}
	if cfg.Seccomp != nil && !SeccompSupported {
		return nil, fmt.Errorf("starting container %s with a seccomp profile: %w", spec.ID, ErrSeccompUnsupported)
	}
	userRoot := cfg.Rootfs
	if spec.HostRoot {
		userRoot = "/"
	}
	u, err := lookupUser(&spec, userRoot)
	if err != nil {
		return nil, err
	}
	if spec.Sandbox != "" && u.uid != 0 {
		// The task's user must be able to write its sandbox, as Mesos
		// chowns the sandbox to the task's user.
		if err := os.Chown(spec.Sandbox, u.uid, u.gid); err != nil {
			return nil, fmt.Errorf("handing the sandbox to uid %d: %w", u.uid, err)
		}
	}
	stdout, stderr, err := openOutputs(spec.Stdout, spec.Stderr)
	if err != nil {
		return nil, err
	}
	// The child holds its own copies once started.
	defer closeAll(stdout, stderr)

	// The filter, compiled once per profile, is loaded by corral-exec in
	// place of libcontainer's init compiling it anew; any trouble on that
	// way leaves it to the init, which compiles it as it always did.
	// corral-exec loads it under no_new_privs, where the init loads it last
	// too (confine always asks for no_new_privs).
	var (
		prog      []byte
		flags     uint
		sealed    *os.File
		cachePath string
	)
	if cfg.Seccomp != nil && cfg.NoNewPrivileges && r.execHelper != "" {
		if f, ok := seccompFlags(cfg.Seccomp); ok {
			if b, path, err := r.seccompProgram(cfg.Seccomp); err == nil {
				if helper, err := sealHelper(r.execHelper, r.root); err == nil {
					prog, flags, sealed, cachePath = b, f, helper, path
					cfg.Seccomp = nil
					defer sealed.Close() // also passed on, and closed, by execHelper
				}
			}
		}
	}

	// The container's init prepares the container (mounts, pivot_root,
	// the seccomp filter) inside the task's cgroup. Under the CFS quota of a
	// small task (cpus 0.01: 1 ms per 100 ms period) that takes the better
	// part of a second, and even the init's last steps (closing its file
	// descriptors, the execve of a multi-threaded Go process) overrun 1 ms
	// and wait out a period, so the quota is set once init has executed the
	// task's command.
	limited := *cfg
	limited.Cgroups = new(*cfg.Cgroups)
	limited.Cgroups.Resources = new(*cfg.Cgroups.Resources)
	cfg.Cgroups.Resources.CpuQuota = 0 // no quota until then
	lc, err := libcontainer.Create(r.root, spec.ID, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating container %s: %w", spec.ID, err)
	}
	c := &Container{lc: lc, mode: r.mode}
	defer func() {
		if retErr != nil {
			_ = c.Destroy()
		}
	}()
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
		if spec.Sandbox != "" {
			cwd = SandboxPath
		}
	}
	p := &libcontainer.Process{
		Args:             spec.Args,
		Env:              processEnv(spec.Env),
		UID:              u.uid,
		GID:              u.gid,
		AdditionalGroups: u.groups,
		Cwd:              cwd,
		Init:             true,
	}
	// A nil *os.File in an io.Writer is not nil; leave unset for /dev/null.
	if stdout != nil {
		p.Stdout = stdout
	}
	if stderr != nil {
		p.Stderr = stderr
	}
	if spec.StdoutWriter != nil {
		p.Stdout = spec.StdoutWriter
	}
	if spec.StderrWriter != nil {
		p.Stderr = spec.StderrWriter
	}
	var helper *execHelper
	if prog != nil {
		if helper, err = prepareExecHelper(p, sealed, prog, flags); err != nil {
			return nil, fmt.Errorf("starting container %s: %w", spec.ID, err)
		}
		defer helper.close()
	}
	c.proc = p
	if err := lc.Start(p); err != nil {
		return nil, fmt.Errorf("starting container %s: %w", spec.ID, err)
	}
	if helper != nil {
		helper.started()
	}
	pid := c.Pid()
	initExe, _ := os.Readlink(procExe(pid))
	if err := lc.Exec(); err != nil {
		return nil, fmt.Errorf("starting the command of container %s: %w", spec.ID, err)
	}
	if helper != nil {
		// corral-exec reports a command it cannot execute, as the init
		// would have; once it has executed the command, the quota can go on.
		late, err := helper.wait()
		if err != nil {
			dropRefusedFilter(err.Error(), cachePath)
			return nil, fmt.Errorf("starting container %s: %w", spec.ID, err)
		}
		if late != nil {
			c.lateExec = lateExecError(late, cachePath)
		}
	} else if limited.Cgroups.Resources.CpuQuota != 0 {
		waitExec(pid, initExe, execWait)
	}
	if limited.Cgroups.Resources.CpuQuota != 0 {
		// A command that has ended already needs no quota; Wait reports it.
		if err := lc.Set(limited); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			return nil, fmt.Errorf("setting the CPU quota of container %s: %w", spec.ID, err)
		}
	}
	return c, nil
}

// dropRefusedFilter removes the cached program when corral-exec's error
// says the kernel refused it: the next start compiles it anew.
func dropRefusedFilter(msg, cachePath string) {
	if strings.HasPrefix(msg, filterLoadFailed) {
		os.Remove(cachePath)
	}
}

// lateExecError passes on what corral-exec reports after Start stopped
// waiting for it ("" once it executed the command), dropping a refused
// cached program as Start would have.
func lateExecError(late <-chan string, cachePath string) <-chan string {
	out := make(chan string, 1)
	go func() {
		msg := <-late
		dropRefusedFilter(msg, cachePath)
		out <- msg
	}()
	return out
}

// execWait bounds how long Start waits for the container's init to execute
// the task's command before it sets the CPU quota anyway.
const execWait = 100 * time.Millisecond

func procExe(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/exe" }

// waitExec waits, at most timeout, until process pid no longer runs the
// executable initExe: the container's init has executed the task's command,
// or exited.
func waitExec(pid int, initExe string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		exe, err := os.Readlink(procExe(pid))
		if err != nil || exe != initExe {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// Load finds a container started earlier, possibly by another process (a
// restarted agent). Its process cannot be waited for, but State, Signal,
// Stats and Destroy work.
func (r *Runtime) Load(id string) (*Container, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	lc, err := libcontainer.Load(r.root, id)
	if err != nil {
		return nil, fmt.Errorf("loading container %s: %w", id, err)
	}
	return &Container{lc: lc, mode: r.mode}, nil
}

// List returns the IDs of the containers with state on disk, running or
// not, so that leftovers can be destroyed. Load can fail for one whose
// creation was cut short; Remove cleans up any.
func (r *Runtime) List() ([]string, error) {
	entries, err := os.ReadDir(r.root)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && validateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Remove destroys whatever is left of container id: its processes, cgroups
// and state, even when the state is incomplete. It is idempotent.
func (r *Runtime) Remove(id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	if c, err := r.Load(id); err == nil {
		return c.Destroy()
	}
	m, err := manager.New(&cgroups.Cgroup{Path: cgroupPath(id), Resources: &cgroups.Resources{}})
	if err != nil {
		return fmt.Errorf("finding the cgroup of %s: %w", id, err)
	}
	if err := signalCgroup(m, unix.SIGKILL); err != nil {
		return err
	}
	if err := waitEmpty(m, stopTimeout); err != nil {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("removing the cgroup of %s: %w", id, err)
	}
	if err := os.RemoveAll(filepath.Join(r.root, id)); err != nil {
		return fmt.Errorf("removing the state of %s: %w", id, err)
	}
	return nil
}

// Container is one task container.
type Container struct {
	lc   *libcontainer.Container
	mode cgroupMode
	proc *libcontainer.Process // nil when Loaded: not our child

	// lateExec delivers corral-exec's report when it came after Start
	// stopped waiting: its error, or "" once the command was executed.
	lateExec <-chan string

	waitOnce sync.Once
	status   ExitStatus // set by waitOnce
	waitErr  error      // set by waitOnce
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.lc.ID() }

// Pid returns the host PID of the container's init, or -1 if it never ran.
func (c *Container) Pid() int {
	if c.proc != nil {
		if pid, err := c.proc.Pid(); err == nil {
			return pid
		}
	}
	st, err := c.lc.State()
	if err != nil {
		return -1
	}
	return st.InitProcessPid
}

// Wait waits for the container's init to exit and reports how it ended.
// Only the process that started the container can wait; others get
// ErrNotChild. Wait can be called more than once.
func (c *Container) Wait() (ExitStatus, error) {
	if c.proc == nil {
		return ExitStatus{}, ErrNotChild
	}
	c.waitOnce.Do(func() {
		// A non-zero exit comes as an *exec.ExitError with the state.
		ps, err := c.proc.Wait()
		if ps == nil {
			c.waitErr = fmt.Errorf("waiting for container %s: %w", c.ID(), err)
			return
		}
		ws := ps.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			c.status = ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
		default:
			c.status = ExitStatus{Code: ws.ExitStatus()}
		}
		// The cgroup outlives the init until Destroy, so its OOM count is
		// still there to read.
		c.status.OOMKilled, _ = c.OOMKilled()
		if c.lateExec != nil {
			// The init has exited, so the status pipe's last writer is gone.
			select {
			case c.status.ExecError = <-c.lateExec:
			case <-time.After(time.Second):
			}
		}
	})
	return c.status, c.waitErr
}

// Signal sends sig to the container's init, or with all to every process in
// the container's cgroup.
func (c *Container) Signal(sig os.Signal, all bool) error {
	if all {
		s, ok := sig.(syscall.Signal)
		if !ok {
			return fmt.Errorf("signal %v is not a syscall.Signal", sig)
		}
		m, err := c.cgroupManager()
		if err != nil {
			return err
		}
		return signalCgroup(m, s)
	}
	if err := c.lc.Signal(sig); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return ErrNotRunning
		}
		return fmt.Errorf("signalling container %s: %w", c.ID(), err)
	}
	return nil
}

// Running reports whether the container's init is alive.
func (c *Container) Running() bool {
	st, err := c.lc.Status()
	return err == nil && st != libcontainer.Stopped
}

// Destroy kills every process of the container and removes its cgroups and
// state. Mounts live in the container's mount namespace and go with its last
// process. Destroy is idempotent.
func (c *Container) Destroy() error {
	m, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if err := signalCgroup(m, unix.SIGKILL); err != nil {
		return err
	}
	if c.proc != nil {
		// Reap our child, so it is not left a zombie.
		if _, err := c.proc.Pid(); err == nil {
			_, _ = c.Wait()
		}
	} else {
		deadline := time.Now().Add(stopTimeout)
		for c.Running() {
			if time.Now().After(deadline) {
				return fmt.Errorf("destroying container %s: init still running %v after SIGKILL", c.ID(), stopTimeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := waitEmpty(m, stopTimeout); err != nil {
		return fmt.Errorf("destroying container %s: %w", c.ID(), err)
	}
	if err := c.lc.Destroy(); err != nil {
		return fmt.Errorf("destroying container %s: %w", c.ID(), err)
	}
	return nil
}

// Stats returns the container's resource usage.
func (c *Container) Stats() (Stats, error) {
	return c.mode.stats(cgroupPath(c.ID()))
}

// OOMKilled reports whether the kernel OOM-killed a process in the
// container's memory cgroup (v1 memory.oom_control oom_kill, v2
// memory.events oom_kill). It needs the cgroup, so ask before Destroy.
func (c *Container) OOMKilled() (bool, error) {
	st, err := c.Stats()
	if err != nil {
		return false, err
	}
	return st.OOMKills > 0, nil
}

// cgroupManager returns libcontainer's manager of the container's cgroups,
// with the paths it recorded.
func (c *Container) cgroupManager() (cgroups.Manager, error) {
	st, err := c.lc.State()
	if err != nil {
		return nil, fmt.Errorf("reading the state of container %s: %w", c.ID(), err)
	}
	cfg := c.lc.Config()
	m, err := manager.NewWithPaths(cfg.Cgroups, st.CgroupPaths)
	if err != nil {
		return nil, fmt.Errorf("finding the cgroup of container %s: %w", c.ID(), err)
	}
	return m, nil
}

// waitEmpty waits until no process is left in the cgroup (SIGKILLed
// processes take a moment to exit), so that it can be removed.
func waitEmpty(m cgroups.Manager, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := m.GetAllPids()
		if err != nil || len(pids) == 0 {
			return nil // no cgroup is an empty cgroup
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in the cgroup %v after SIGKILL", len(pids), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openOutputs opens the files the container's stdout and stderr append to;
// the same path for both yields one file.
func openOutputs(stdout, stderr string) (out, errf *os.File, err error) {
	open := func(p string) (*os.File, error) {
		if p == "" {
			return nil, nil
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening the container's output: %w", err)
		}
		return f, nil
	}
	if out, err = open(stdout); err != nil {
		return nil, nil, err
	}
	if stderr == stdout {
		return out, out, nil
	}
	if errf, err = open(stderr); err != nil {
		closeAll(out)
		return nil, nil, err
	}
	return out, errf, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close() // a second Close of the same file just errors
		}
	}
}
