// Package isolation runs a task in a container built by runc's libcontainer:
// its own mount, PID, IPC and UTS namespaces (and a network namespace when
// one is given), runc's default masked and read-only paths, Docker's default
// capabilities and seccomp profile with no_new_privileges, and a cgroup at
// /corral/<id> limiting CPU, memory and processes, on cgroup v2 or
// v1/hybrid hosts alike.
//
// The root file system is either the host's own, read-only, with a writable
// sandbox directory (a Mesos command task), or an unpacked image.
//
// The process that calls Runtime.Start becomes the parent of the
// container's init and is the only one that can Wait for it; any process can
// Load the container later to signal, inspect or destroy it. A binary that
// uses this package must call Init first thing when run as "<binary> init",
// should pin its main goroutine to the main thread (see Init), and must be
// built with cgo (libcontainer's nsenter runs as a C constructor) and, to
// filter system calls, with the "seccomp" build tag and libseccomp
// (SeccompSupported). With corral-exec (ExecHelperName) installed next to
// it, containers load a filter compiled once per profile rather than
// compiling it at every start (seccompexec.go).
package isolation

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// SandboxPath is where the sandbox appears inside the container.
const SandboxPath = "/mnt/mesos/sandbox"

// Spec describes one task container.
type Spec struct {
	ID       string   // container ID, [A-Za-z0-9_.-]+, also the cgroup leaf: /corral/<ID>
	Args     []string // argv; Args[0] resolved inside the container's root with Env's PATH
	Env      []string // KEY=VALUE; PATH defaults to the usual system directories
	Cwd      string   // working directory inside the container
	User     string   // "" (root) or a user name / uid[:gid]; names resolved from the rootfs /etc/passwd
	Hostname string   // "" keeps the host's

	// Root file system: exactly one of the two.
	HostRoot bool   // the host's / mounted read-only (a Mesos command task)
	Rootfs   string // a directory holding an unpacked image root (read-write is fine)

	Sandbox   string  // host directory bind-mounted read-write at SandboxPath and used as Cwd when Cwd is empty
	CPUs      float64 // cpu shares (1024 per cpu) and CFS quota (period 100ms, quota = CPUs*period); 0 = unlimited
	MemMB     float64 // memory limit in MiB (and swap the same, so no swap escape); 0 = unlimited
	PidsLimit int64   // 0 = no limit
	NetNS     string  // path of an existing network namespace to join; "" = share the host's network

	Stdout, Stderr string // host file paths the process's stdout/stderr are appended to; "" = /dev/null
	// StdoutWriter and StderrWriter, when set, receive the output instead
	// of the files (the shim caps and rotates the sandbox's logs this way);
	// the caller of Start copies from the container's pipes until it exits.
	StdoutWriter, StderrWriter io.Writer `json:"-"`

	// Mounts are extra bind mounts, made after the default ones; one with the
	// same Destination as a default bind (/etc/resolv.conf, /etc/hosts)
	// replaces it.
	Mounts []Mount

	// Seccomp is the container's system-call filter; nil is Docker's
	// default profile (DefaultSeccomp). SeccompUnconfined runs the
	// container without a filter, as Docker's seccomp=unconfined does.
	Seccomp           *specs.LinuxSeccomp `json:",omitempty"`
	SeccompUnconfined bool                `json:",omitempty"`
}

// Mount is a bind mount of a host path into the container.
type Mount struct {
	Source      string // host path, file or directory
	Destination string // path inside the container
	ReadOnly    bool
}

// ExitStatus is how a container's init ended.
type ExitStatus struct {
	Code      int            // exit code; 128+signal when killed by a signal, as a shell reports it
	Signal    syscall.Signal // the signal that killed it, 0 if none
	OOMKilled bool           // the memory cgroup OOM-killed a process of the container
	// ExecError is why the command was never executed, when the container
	// reported it only after Start had stopped waiting (a start slower
	// than 10 s); a quicker report fails Start itself.
	ExecError string
}

// Stats are a container's resource usage, read from its cgroup.
type Stats struct {
	CPUUserSeconds   float64
	CPUSystemSeconds float64
	MemUsageBytes    uint64 // as the memory controller counts it (includes page cache)
	MemRSSBytes      uint64 // anonymous memory
	MemLimitBytes    uint64 // 0 when unlimited
	Pids             uint64 // processes and threads in the cgroup
	OOMKills         uint64 // processes the kernel OOM-killed in the cgroup
}

// ErrNotChild is returned by Wait on a Container that this process did not start.
var ErrNotChild = errors.New("container was not started by this process")

// ErrNotRunning is returned by Signal when the container's init is gone.
var ErrNotRunning = errors.New("container not running")

// cgroupParent is the one cgroup every container's cgroup lives under.
const cgroupParent = "/corral"

func cgroupPath(id string) string { return cgroupParent + "/" + id }

// Validate reports the first problem with s.
func (s *Spec) Validate() error {
	if err := validateID(s.ID); err != nil {
		return err
	}
	if len(s.Args) == 0 || s.Args[0] == "" {
		return errors.New("invalid Args: no command to run")
	}
	switch {
	case s.HostRoot && s.Rootfs != "":
		return fmt.Errorf("invalid Rootfs %q, must be empty with HostRoot", s.Rootfs)
	case !s.HostRoot && s.Rootfs == "":
		return errors.New("invalid root: set HostRoot or Rootfs")
	}
	for _, p := range []struct{ field, path string }{
		{"Rootfs", s.Rootfs}, {"Sandbox", s.Sandbox}, {"Cwd", s.Cwd}, {"NetNS", s.NetNS},
		{"Stdout", s.Stdout}, {"Stderr", s.Stderr},
	} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("invalid %s %q, must be an absolute path", p.field, p.path)
		}
	}
	if s.CPUs < 0 {
		return fmt.Errorf("invalid CPUs %v, must be >= 0", s.CPUs)
	}
	if s.MemMB < 0 {
		return fmt.Errorf("invalid MemMB %v, must be >= 0", s.MemMB)
	}
	if s.PidsLimit < 0 {
		return fmt.Errorf("invalid PidsLimit %d, must be >= 0", s.PidsLimit)
	}
	if s.SeccompUnconfined && s.Seccomp != nil {
		return errors.New("invalid Seccomp: a profile given with SeccompUnconfined, set one or the other")
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("invalid Mounts[%d] %s:%s, source and destination must be absolute paths", i, m.Source, m.Destination)
		}
	}
	return nil
}

func validateID(id string) error {
	if id == "" || id == "." || id == ".." {
		return fmt.Errorf("invalid ID %q, must match [A-Za-z0-9_.-]+ and not be . or ..", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("invalid ID %q, must match [A-Za-z0-9_.-]+", id)
		}
	}
	return nil
}
