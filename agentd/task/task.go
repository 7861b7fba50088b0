// Package task runs an agent's tasks: for each LAUNCH it prepares the
// sandbox, fetches artifacts, starts a shim (see package shim) that runs the
// task in a container, reports TASK_RUNNING, runs health checks, carries
// out kills, and turns the shim's exit status into the final status update.
// Tasks outlive agentd; Recover re-attaches to them from the work directory.
package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corral/agentd/fetch"
	"corral/agentd/image"
	"corral/agentd/network"
	"corral/agentd/shim"
	"corral/isolation"
	"corral/mesos"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/prometheus/client_golang/prometheus"
)

// Config says where tasks live and how they are isolated.
type Config struct {
	WorkDir   string // tasks live in <WorkDir>/tasks/<name>/{sandbox,run}, see name
	Isolation string // shim.Linux or shim.Posix
	Binary    string // run as `<Binary> shim <run dir>`: corral-shim or agentd (shim.Binary)
	Hostname  string // HOST of the task environment
	IP        string // where health checks reach host-network tasks
	AgentID   func() string
	// DefaultKillGrace applies when a task has no kill policy (Mesos: 3 s).
	DefaultKillGrace time.Duration
	PidsLimit        int64
	// LogMaxBytes caps each of a task's stdout and stderr files; a full file
	// rotates, keeping LogKeep older ones (Mesos's logrotate logger).
	LogMaxBytes int64
	LogKeep     int
	Fetch       fetch.Config
	// Images pulls container images; nil refuses image tasks.
	Images *image.Store
	// Network wires tasks' bridge and CNI networks; nil (posix isolation)
	// runs every task on the host's network and refuses the others.
	Network *network.Manager
	// Poll is how often a task's shim is checked on after an agentd restart.
	Poll time.Duration
	// MaxStarting bounds the tasks being started at once (network, shim and
	// container up to the task running); the others wait their turn, in
	// TASK_STARTING. 0 means no bound.
	MaxStarting int
	// StartTime, if set, observes how long each container took to start:
	// from starting its shim to the task's process running, in seconds.
	StartTime prometheus.Observer
	// Seccomp is the system-call filter of linux containers, nil for
	// Docker's default profile; SeccompUnconfined runs every task without
	// one. A task opts out alone with the mesos.LabelSeccomp label.
	Seccomp           *specs.LinuxSeccomp
	SeccompUnconfined bool
	// GCDelay is how long a completed task's directory stays with the disk
	// empty; less as it fills beyond GCDiskHeadroom (0 to 1), checked every
	// DiskWatchInterval (gc.go). 0 keeps every directory.
	GCDelay           time.Duration
	GCDiskHeadroom    float64
	DiskWatchInterval time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.WorkDir == "":
		return errors.New("invalid task config: empty work dir")
	case c.Isolation != shim.Linux && c.Isolation != shim.Posix:
		return fmt.Errorf("invalid --isolation %q, must be linux or posix", c.Isolation)
	case c.Binary == "":
		return errors.New("invalid task config: agentd's executable is unknown")
	case c.DefaultKillGrace < 0:
		return fmt.Errorf("invalid kill grace period %v, must be >= 0", c.DefaultKillGrace)
	case c.Poll <= 0:
		return fmt.Errorf("invalid poll interval %v, must be > 0", c.Poll)
	case c.MaxStarting < 0:
		return fmt.Errorf("invalid --max-starting-tasks %d, must be >= 0", c.MaxStarting)
	case c.GCDelay < 0:
		return fmt.Errorf("invalid --gc-delay %v, must be >= 0", c.GCDelay)
	case !(c.GCDiskHeadroom >= 0 && c.GCDiskHeadroom <= 1):
		return fmt.Errorf("invalid --gc-disk-headroom %v, must be between 0 and 1", c.GCDiskHeadroom)
	case c.GCDelay > 0 && c.DiskWatchInterval <= 0:
		return fmt.Errorf("invalid --disk-watch-interval %v, must be > 0", c.DiskWatchInterval)
	}
	return nil
}

// UpdateFunc records a status update for sending (the status manager).
type UpdateFunc func(frameworkID string, st mesos.TaskStatus)

// Manager runs the agent's tasks.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	update UpdateFunc
	wg     sync.WaitGroup // owns the tasks' watchers
	// starting holds a token per task being started; nil: no bound.
	starting chan struct{}

	mu        sync.Mutex // guards tasks and completed
	tasks     map[taskKey]*Task
	completed map[string][]*completedEntry // by framework, oldest first (sandbox.go)
}

// taskKey identifies a task: task IDs are unique only within a framework,
// and two frameworks may launch tasks of the same ID on one agent.
type taskKey struct{ framework, task string }

func (t *Task) key() taskKey { return taskKey{t.FrameworkID, t.Info.TaskID} }

// Task is one task on this agent.
type Task struct {
	FrameworkID string         `json:"framework_id"`
	Info        mesos.TaskInfo `json:"info"`
	// ContainerID names the task's container, cgroups and network records.
	ContainerID string `json:"container_id"`
	dir         string

	// net is the task's network, set before its shim starts (or when it
	// is recovered) and not changed after.
	net network.Attachment
	// shimStarted is when launch started the shim; zero for recovered
	// tasks. Only the launching goroutine uses it.
	shimStarted time.Time

	mu          sync.Mutex // guards state, proc, killing, killed, killReason and killMessage
	state       mesos.TaskState
	proc        shim.Process // the shim and task, once running; a kill needs no run directory
	hasProc     bool
	killing     bool
	killed      chan struct{} // closed when killing starts; nil until a launch waits on it
	killReason  string        // why the agent killed it, e.g. failed health checks
	killMessage string
}

// taskFile holds the task's FrameworkID and Info in its directory.
const taskFile = "task.json"

// NewManager returns a manager; call Recover before launching.
func NewManager(cfg Config, update UpdateFunc, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Sandboxes are named by absolute paths in /state and /files.
	dir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("resolving the work dir %q: %w", cfg.WorkDir, err)
	}
	cfg.WorkDir = dir
	m := &Manager{cfg: cfg, log: log.With("component", "task"), update: update,
		tasks: map[taskKey]*Task{}, completed: map[string][]*completedEntry{}}
	if cfg.MaxStarting > 0 {
		m.starting = make(chan struct{}, cfg.MaxStarting)
	}
	return m, nil
}

// Wait waits for every task watcher to end (they end with their tasks or
// with the context passed to Launch and Recover).
func (m *Manager) Wait() { m.wg.Wait() }

func (m *Manager) tasksDir() string { return filepath.Join(m.cfg.WorkDir, "tasks") }

// containersDir is the container runtime's root, which the shims share.
func (m *Manager) containersDir() string { return filepath.Join(m.cfg.WorkDir, "containers") }

func (t *Task) runDir() string     { return filepath.Join(t.dir, "run") }
func (t *Task) sandboxDir() string { return filepath.Join(t.dir, "sandbox") }

func (t *Task) setState(s mesos.TaskState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state = s
}

// State returns the task's latest state.
func (t *Task) State() mesos.TaskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

func (m *Manager) send(t *Task, st mesos.TaskStatus) {
	st.TaskID = t.Info.TaskID
	if st.Source == "" {
		st.Source = mesos.SourceExecutor
	}
	st.Timestamp = float64(time.Now().UnixNano()) / 1e9
	t.setState(st.State)
	m.update(t.FrameworkID, st)
}

// Launch starts a task. A task the agent already has (the same framework
// and task ID) is not launched twice: the master refuses such a launch with
// TASK_ERROR before it reaches an agent, so a duplicate here is only logged
// and the task's own updates answer for it.
func (m *Manager) Launch(ctx context.Context, frameworkID string, info mesos.TaskInfo) {
	k := taskKey{frameworkID, info.TaskID}
	m.mu.Lock()
	if old := m.tasks[k]; old != nil {
		m.mu.Unlock()
		m.log.Warn("duplicate launch ignored", "framework", frameworkID, "task", info.TaskID, "state", old.State())
		return
	}
	n := name(frameworkID, info.TaskID)
	for _, o := range m.tasks {
		// A task recovered from an agentd that named tasks ambiguously
		// (a framework ID with "_") may hold the name.
		if o.ContainerID == n || filepath.Base(o.dir) == n {
			n = hashedName(frameworkID, info.TaskID)
			break
		}
	}
	t := &Task{FrameworkID: frameworkID, Info: info, ContainerID: n, dir: filepath.Join(m.tasksDir(), n), state: mesos.TaskStaging}
	m.tasks[k] = t
	m.mu.Unlock()

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.launch(ctx, t)
	}()
}

func (m *Manager) launch(ctx context.Context, t *Task) {
	started := func() {} // gives the start turn back once taken
	fail := func(state mesos.TaskState, reason, msg string) {
		started()
		if hasImage(t.Info) {
			releaseRoot(t)
		}
		m.releaseNetwork(t)
		m.log.Warn("task failed to launch", "task", t.Info.TaskID, "reason", msg)
		m.send(t, mesos.TaskStatus{State: state, Reason: reason, Message: msg})
	}
	for _, d := range []string{t.runDir(), t.sandboxDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fail(mesos.TaskFailed, mesos.ReasonExecutorTerminated, "creating task directories: "+err.Error())
			return
		}
	}
	if err := shim.WriteJSON(filepath.Join(t.dir, taskFile), t); err != nil {
		fail(mesos.TaskFailed, mesos.ReasonExecutorTerminated, "recording the task: "+err.Error())
		return
	}
	spec, err := m.spec(t)
	if err != nil {
		fail(mesos.TaskError, mesos.ReasonTaskInvalid, err.Error())
		return
	}
	m.send(t, mesos.TaskStatus{State: mesos.TaskStarting})
	var ok bool
	if started, ok = m.turn(ctx, t); !ok {
		if ctx.Err() == nil {
			m.send(t, mesos.TaskStatus{State: mesos.TaskKilled, Message: "Command killed before it started"})
		}
		return
	}
	if t.Info.Command != nil && len(t.Info.Command.URIs) > 0 {
		if err := fetch.Fetch(ctx, m.cfg.Fetch, t.Info.Command.URIs, t.sandboxDir()); err != nil {
			fail(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "fetching artifacts: "+err.Error())
			return
		}
	}
	if hasImage(t.Info) {
		root, cfg, err := m.imageRoot(ctx, t)
		if err != nil {
			fail(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "preparing image "+t.Info.Container.Image+": "+err.Error())
			return
		}
		argv, err := imageArgv(t.Info.Command, cfg)
		if err != nil {
			releaseRoot(t)
			fail(mesos.TaskError, mesos.ReasonTaskInvalid, err.Error())
			return
		}
		c := &spec.Container
		c.HostRoot, c.Rootfs, c.Args = false, root, argv
		c.Env = mergeEnv(cfg.Env, c.Env)
		c.Cwd = cfg.WorkingDir
		if c.User == "" {
			c.User = cfg.User
		}
	}
	if m.cfg.Network != nil {
		att, err := m.cfg.Network.Setup(ctx, t.ContainerID, t.Info)
		if errors.Is(err, network.ErrInvalid) {
			fail(mesos.TaskError, mesos.ReasonTaskInvalid, err.Error())
			return
		}
		if err != nil {
			fail(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "setting up the task's network: "+err.Error())
			return
		}
		t.net = att
		c := &spec.Container
		c.NetNS = att.NetNS
		if att.ResolvConf != "" {
			c.Mounts = append(c.Mounts, isolation.Mount{Source: att.ResolvConf, Destination: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	t.shimStarted = time.Now()
	sh, err := shim.Start(m.cfg.Binary, t.runDir(), spec)
	if err != nil {
		fail(mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, err.Error())
		return
	}
	reaped := make(chan struct{})
	go func() {
		sh.Cmd.Wait()
		close(reaped)
	}()
	m.supervise(ctx, t, reaped, sh.Started(), started)
}

// turn waits until the task may start: fewer than MaxStarting others are
// starting. started gives the turn back; it is safe to call more than
// once. ok is false when the task was killed or the agent stops meanwhile.
func (m *Manager) turn(ctx context.Context, t *Task) (started func(), ok bool) {
	if m.starting == nil {
		return func() {}, true
	}
	t.mu.Lock()
	if t.killed == nil {
		t.killed = make(chan struct{})
		if t.killing {
			close(t.killed)
		}
	}
	killed := t.killed
	t.mu.Unlock()
	select {
	case m.starting <- struct{}{}:
	case <-killed:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { <-m.starting }) }, true
}

// spec builds what the shim runs.
func (m *Manager) spec(t *Task) (shim.Spec, error) {
	info := t.Info
	noCommand := info.Command == nil || info.Command.Value == "" && len(info.Command.Arguments) == 0
	if noCommand && !hasImage(info) {
		return shim.Spec{}, errors.New("task has no command to run")
	}
	if hasImage(info) && m.cfg.Isolation != shim.Linux {
		return shim.Spec{}, fmt.Errorf("container image %q needs --isolation=linux", info.Container.Image)
	}
	if network.Wants(info) && m.cfg.Network == nil {
		return shim.Spec{}, errors.New("container networks (bridge, CNI) need --isolation=linux")
	}
	argv := Argv(info.Command)
	sandboxInside := t.sandboxDir()
	if m.cfg.Isolation == shim.Linux {
		sandboxInside = isolation.SandboxPath
	}
	agentID := ""
	if m.cfg.AgentID != nil {
		agentID = m.cfg.AgentID()
	}
	grace := m.cfg.DefaultKillGrace
	if info.KillPolicy != nil && info.KillPolicy.GracePeriodSeconds > 0 {
		grace = time.Duration(info.KillPolicy.GracePeriodSeconds * float64(time.Second))
	}
	user := ""
	if info.Command != nil {
		user = info.Command.User
	}
	unconfined, err := seccompUnconfined(info)
	if err != nil {
		return shim.Spec{}, err
	}
	unconfined = unconfined || m.cfg.SeccompUnconfined
	profile := m.cfg.Seccomp
	if unconfined {
		profile = nil
	}
	return shim.Spec{
		Isolation:   m.cfg.Isolation,
		Root:        m.containersDir(),
		KillGrace:   grace,
		LogMaxBytes: m.cfg.LogMaxBytes,
		LogKeep:     m.cfg.LogKeep,
		Container: isolation.Spec{
			ID:        t.ContainerID,
			Args:      argv,
			Env:       Env(info, t.FrameworkID, agentID, m.cfg.Hostname, sandboxInside),
			User:      user,
			Hostname:  m.cfg.Hostname,
			HostRoot:  true,
			Sandbox:   t.sandboxDir(),
			CPUs:      info.Resources.Scalar(mesos.CPUs),
			MemMB:     info.Resources.Scalar(mesos.Mem),
			PidsLimit: m.cfg.PidsLimit,
			Stdout:    filepath.Join(t.sandboxDir(), "stdout"),
			Stderr:    filepath.Join(t.sandboxDir(), "stderr"),

			Seccomp:           profile,
			SeccompUnconfined: unconfined,
		},
	}, nil
}

// supervise reports RUNNING once the shim runs the task, runs its health
// check, and reports the end. shimGone closes when the shim has exited;
// ready yields once the shim runs the task (shim.Shim.Started). A task
// recovered after a restart runs already, without a ready channel or a
// shim to reap: supervise checks every Poll that its shim lives.
// started is called once the task runs or its shim is gone.
func (m *Manager) supervise(ctx context.Context, t *Task, shimGone <-chan struct{}, ready <-chan shim.Process, started func()) {
	defer started()
	hctx, stopHealth := context.WithCancel(ctx)
	defer stopHealth()
	var poll <-chan time.Time
	var proc shim.Process
	if ready == nil {
		var ok bool
		if proc, ok, _ = shim.ReadPid(t.runDir()); ok {
			t.setProcess(proc)
		}
		m.startHealth(hctx, t)
		tick := time.NewTicker(m.cfg.Poll)
		defer tick.Stop()
		poll = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return // agentd stops; the task keeps running under its shim
		case <-shimGone:
			m.finish(t)
			return
		case <-poll:
			if !proc.Alive() {
				m.finish(t)
				return
			}
		case p, ok := <-ready:
			ready = nil
			if !ok {
				continue // the shim ended before the task ran; shimGone follows
			}
			t.setProcess(p)
			started()
			if m.cfg.StartTime != nil && !t.shimStarted.IsZero() {
				m.cfg.StartTime.Observe(time.Since(t.shimStarted).Seconds())
			}
			m.send(t, mesos.TaskStatus{State: mesos.TaskRunning, ContainerStatus: m.containerStatus(t, p.TaskPID)})
			m.startHealth(hctx, t)
		}
	}
}

// setProcess records the task's shim and process once they run.
func (t *Task) setProcess(p shim.Process) {
	t.mu.Lock()
	t.proc, t.hasProc = p, true
	t.mu.Unlock()
}

// process returns the task's shim and process, if they have run.
func (t *Task) process() (shim.Process, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proc, t.hasProc
}

func hasImage(info mesos.TaskInfo) bool { return info.Container != nil && info.Container.Image != "" }

// containerStatus is what TASK_RUNNING reports of the container: its
// networks and addresses (the agent's own on the host network).
func (m *Manager) containerStatus(t *Task, pid int) *mesos.ContainerStatus {
	nets := t.net.NetworkInfos
	if len(nets) == 0 {
		nets = []mesos.NetworkInfo{{IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: m.cfg.IP}}}}
	}
	return &mesos.ContainerStatus{ExecutorPID: pid, NetworkInfos: nets}
}

// releaseNetwork releases the task's network, if it has one of its own.
func (m *Manager) releaseNetwork(t *Task) {
	if m.cfg.Network == nil {
		return
	}
	if err := m.cfg.Network.Teardown(context.Background(), t.ContainerID); err != nil {
		m.log.Error("releasing the task's network", "task", t.Info.TaskID, "err", err)
	}
}

// finish turns the shim's exit file into the terminal status update.
func (m *Manager) finish(t *Task) {
	if hasImage(t.Info) {
		releaseRoot(t)
	}
	m.releaseNetwork(t)
	e, ok, err := shim.ReadExit(t.runDir())
	st := mesos.TaskStatus{}
	switch {
	case err != nil || !ok:
		st.State, st.Reason = mesos.TaskFailed, mesos.ReasonExecutorTerminated
		st.Message = "the task's shim ended without recording an exit status"
		if err != nil {
			st.Message += ": " + err.Error()
		} else if _, serr := os.Stat(t.runDir()); errors.Is(serr, os.ErrNotExist) {
			st.Message += " (its run directory " + t.runDir() + " was removed)"
		}
		t.mu.Lock()
		if t.killing {
			// Killed, where the shim could not record it (its run
			// directory was removed): still the kill's end.
			st.State, st.Reason = mesos.TaskKilled, t.killReason
			if t.killMessage != "" {
				st.Message = t.killMessage + "; " + st.Message
			}
		}
		t.mu.Unlock()
	case e.Error != "":
		st.State, st.Reason, st.Message = mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, e.Describe()
	case e.Killed:
		st.State, st.Reason, st.Message = mesos.TaskKilled, "", "Command killed: "+e.Describe()
		t.mu.Lock()
		if t.killReason != "" {
			st.Reason, st.Message = t.killReason, t.killMessage
		}
		t.mu.Unlock()
	case e.OOMKilled:
		st.State, st.Reason, st.Message = mesos.TaskFailed, mesos.ReasonContainerLimitationMemory, e.Describe()
	case e.Code == 0 && e.Signal == 0:
		st.State, st.Message = mesos.TaskFinished, e.Describe()
	default:
		st.State, st.Reason, st.Message = mesos.TaskFailed, mesos.ReasonCommandExecutorFailed, e.Describe()
	}
	m.send(t, st)
	m.log.Info("task ended", "task", t.Info.TaskID, "state", st.State, "message", st.Message)
}

// Tasks lists the agent's tasks with their latest states, ended ones
// included until Remove, for re-registration.
func (m *Manager) Tasks() []mesos.Task {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mesos.Task
	for _, t := range m.tasks {
		out = append(out, mesos.Task{Info: t.Info, FrameworkID: t.FrameworkID, State: t.State()})
	}
	return out
}

// Remove forgets an ended task whose final status was acknowledged. Its
// sandbox stays on disk for the operator, listed by Sandboxes.
func (m *Manager) Remove(frameworkID, taskID string) {
	k := taskKey{frameworkID, taskID}
	m.mu.Lock()
	t := m.tasks[k]
	forgotten := t != nil && t.State().Terminal()
	if forgotten {
		delete(m.tasks, k)
		m.remember(t, t.State())
	}
	m.mu.Unlock()
	switch {
	case forgotten:
		retire(t, t.State())
	case t != nil:
		os.Remove(filepath.Join(t.dir, taskFile))
	}
}

// MarshalJSON keeps the unexported fields out of task.json.
func (t *Task) MarshalJSON() ([]byte, error) {
	type plain struct {
		FrameworkID string         `json:"framework_id"`
		Info        mesos.TaskInfo `json:"info"`
		ContainerID string         `json:"container_id"`
	}
	return json.Marshal(plain{t.FrameworkID, t.Info, t.ContainerID})
}
