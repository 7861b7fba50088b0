// Package shim is the small per-task process that outlives agentd (Mesos's
// "mesos-containerizer launch", Nomad's executor): agentd runs
// `corral-shim shim <run dir>` (or `agentd shim <run dir>`, see Binary) in
// a new session; the shim starts the task
// (a libcontainer container, or a plain process with --isolation=posix),
// stays its parent, waits for it, carries out kills with their grace period,
// and writes the exit status atomically into the run directory, where a
// restarted agentd finds it.
package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"corral/atomicfile"
	"corral/isolation"
)

// Files in a task's run directory.
const (
	SpecFile = "spec.json" // written by agentd before starting the shim
	PidFile  = "pid"       // "<shim pid> <shim start time> <task pid>", written by the shim once the task runs
	ExitFile = "exit.json" // written by the shim when the task has ended
	KillFile = "kill.json" // written by agentd before it signals the shim to kill
)

// Isolation modes.
const (
	Linux = "linux" // libcontainer: namespaces, cgroups, read-only root
	Posix = "posix" // a plain process in its own process group (development only)
)

// Spec is what the shim runs.
type Spec struct {
	Isolation string         `json:"isolation"`
	Container isolation.Spec `json:"container"`
	// Root is where libcontainer keeps container state (linux isolation).
	Root      string        `json:"root"`
	KillGrace time.Duration `json:"kill_grace"`
	// LogMaxBytes caps each of the sandbox's stdout and stderr files; a full
	// file rotates to .1 … .LogKeep. 0 leaves them uncapped.
	LogMaxBytes int64 `json:"log_max_bytes,omitempty"`
	LogKeep     int   `json:"log_keep,omitempty"`
}

// Kill is a kill request.
type Kill struct {
	Grace time.Duration `json:"grace"`
}

// Exit is how the task ended.
type Exit struct {
	Code      int       `json:"code"`
	Signal    int       `json:"signal,omitempty"`
	OOMKilled bool      `json:"oom_killed,omitempty"`
	Killed    bool      `json:"killed,omitempty"` // ended after a kill request
	Error     string    `json:"error,omitempty"`  // the task could not start
	At        time.Time `json:"at"`
}

// Describe says how the task ended, as a status update's message.
func (e Exit) Describe() string {
	switch {
	case e.Error != "":
		return "failed to start: " + e.Error
	case e.OOMKilled:
		return "Memory limit exceeded: the container was OOM-killed"
	case e.Signal != 0:
		return "Command terminated with signal " + strings.ToUpper(syscall.Signal(e.Signal).String())
	default:
		return "Command exited with status " + strconv.Itoa(e.Code)
	}
}

// WriteJSON writes v to path atomically and durably (package atomicfile).
func WriteJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

// ReadJSON reads path into v; ok is false when the file does not exist.
func ReadJSON(path string, v any) (ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decoding %s: %w", path, err)
	}
	return true, nil
}

// ReadExit returns the task's exit status once the shim wrote it.
func ReadExit(runDir string) (Exit, bool, error) {
	var e Exit
	ok, err := ReadJSON(filepath.Join(runDir, ExitFile), &e)
	return e, ok, err
}

// BinaryName is the shim's own binary, installed next to agentd.
const BinaryName = "corral-shim"

// Binary returns the executable to run as the shim: BinaryName in the
// directory of agentd's executable when it is there, else agentd itself,
// which serves `agentd shim` too.
func Binary(agentd string) string {
	p := filepath.Join(filepath.Dir(agentd), BinaryName)
	if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
		return p
	}
	return agentd
}

// Shim is a shim started by this process.
type Shim struct {
	// Cmd is the shim's process; the caller should Wait on it to reap it
	// while agentd lives.
	Cmd     *exec.Cmd
	started chan Process
}

// Started yields what the shim wrote to PidFile once the task runs, and is
// closed, without a value, if the shim ends (or its task fails to start)
// first.
func (s *Shim) Started() <-chan Process { return s.started }

// readyFD is the shim's file descriptor on which it reports that the task
// runs: the write end of a pipe from Start.
const readyFD = 3

// Start launches `binary shim runDir` (binary: see Binary) in its own session, so that it
// survives agentd, and hears through a pipe when the task runs (Started).
//
// spec.json is written without fsync: the shim reads it once, right away,
// and only a machine crash could lose it, which ends the task too. A task
// whose shim is gone, with no exit status, is reported failed on recovery
// without its spec (Manager.Recover).
func Start(binary, runDir string, spec Spec) (*Shim, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding shim spec: %w", err)
	}
	if err := os.WriteFile(filepath.Join(runDir, SpecFile), b, 0o600); err != nil {
		return nil, fmt.Errorf("writing shim spec: %w", err)
	}
	log, err := os.OpenFile(filepath.Join(runDir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	ready, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the shim's ready pipe: %w", err)
	}
	defer w.Close() // the shim holds its own copy
	cmd := exec.Command(binary, "shim", runDir)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{w} // readyFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		ready.Close()
		return nil, fmt.Errorf("starting shim: %w", err)
	}
	s := &Shim{Cmd: cmd, started: make(chan Process, 1)}
	// Ends when the shim writes its line, or exits.
	go func() {
		defer close(s.started)
		defer ready.Close()
		line, err := bufio.NewReader(ready).ReadString('\n')
		if err != nil {
			return
		}
		if p, err := parseProcess(line); err == nil {
			s.started <- p
		}
	}()
	return s, nil
}

// Process identifies a running shim across agentd restarts.
type Process struct {
	ShimPID   int
	StartTime uint64 // the shim's start time in clock ticks, against PID reuse
	TaskPID   int
}

// ReadPid returns what the shim recorded; ok is false before the task runs.
func ReadPid(runDir string) (Process, bool, error) {
	b, err := os.ReadFile(filepath.Join(runDir, PidFile))
	if errors.Is(err, os.ErrNotExist) {
		return Process{}, false, nil
	}
	if err != nil {
		return Process{}, false, err
	}
	p, err := parseProcess(string(b))
	if err != nil {
		return Process{}, false, fmt.Errorf("decoding %s: %w", PidFile, err)
	}
	return p, true, nil
}

func (p Process) String() string { return fmt.Sprintf("%d %d %d", p.ShimPID, p.StartTime, p.TaskPID) }

func parseProcess(s string) (Process, error) {
	var p Process
	_, err := fmt.Sscanf(s, "%d %d %d", &p.ShimPID, &p.StartTime, &p.TaskPID)
	return p, err
}

// Alive reports whether the recorded shim still runs (same PID, same
// start). A shim that has exited but is not reaped yet (a zombie: its
// parent, agentd, is gone and init reaps at leisure) is not alive.
func (p Process) Alive() bool {
	st, zombie, err := procStat(p.ShimPID)
	return err == nil && st == p.StartTime && !zombie
}

// RequestKill asks the shim to kill its task: SIGTERM, then SIGKILL after
// grace. It is safe to repeat; a second request shortens nothing.
func RequestKill(runDir string, p Process, grace time.Duration) error {
	// A shim that finds no request uses its spec's grace period; the
	// signal goes even when the request cannot be written (its directory
	// was removed), for a task must not outlive its kill.
	var werr error
	if err := WriteJSON(filepath.Join(runDir, KillFile), Kill{Grace: grace}); err != nil {
		werr = fmt.Errorf("writing kill request: %w", err)
	}
	if !p.Alive() {
		return werr
	}
	if err := syscall.Kill(p.ShimPID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return errors.Join(werr, fmt.Errorf("signalling shim %d: %w", p.ShimPID, err))
	}
	return werr
}

// startTime reads field 22 of /proc/<pid>/stat.
func startTime(pid int) (uint64, error) {
	st, _, err := procStat(pid)
	return st, err
}

// procStat reads the start time (field 22) and state (field 3) of
// /proc/<pid>/stat.
func procStat(pid int) (start uint64, zombie bool, _ error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, false, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0] == "Z", err
}
