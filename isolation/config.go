package isolation

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/user"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	securejoin "github.com/cyphar/filepath-securejoin"
)

const (
	cfsPeriod    = 100_000 // µs: the 100ms CFS period Mesos and Docker use
	minCPUShares = 2       // the kernel's minimum cpu.shares
	minCFSQuota  = 1_000   // µs: the kernel's minimum cpu.cfs_quota_us
	// minMemMB is the least memory limit a container gets, as under
	// Mesos's memory isolator (MIN_MEMORY): less does not even hold the
	// container's init, and every start of a task asking for it would
	// fail ("unable to set memory limit").
	minMemMB    = 32
	defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// execUser is who the container's process runs as.
type execUser struct {
	uid, gid int
	groups   []int
}

// containerConfig turns s into libcontainer's configuration. It starts from
// runc's default spec (`runc spec`, specconv.Example) so namespaces, masked
// and read-only paths, /dev and the pseudo file systems are what runc users
// know, gives it Docker's capabilities and seccomp profile (see confine), and
// converts it the way runc does (specconv.CreateLibcontainerConfig). hostRoot is the skeleton
// directory host-root containers use as their root (see prepareHostRoot).
func containerConfig(s *Spec, mode cgroupMode, hostRoot string) (*configs.Config, error) {
	spec := specconv.Example()
	spec.Hostname = s.Hostname
	// Rlimits (runc's example caps open files at 1024) are left to the
	// caller's, as a Mesos task inherits the agent's.
	spec.Process.Rlimits = nil
	spec.Process.Terminal = false
	confine(spec, s)

	var (
		rootfs    string
		hostBinds []string
		err       error
	)
	if s.HostRoot {
		if hostBinds, err = prepareHostRoot(hostRoot); err != nil {
			return nil, err
		}
		rootfs = hostRoot
	} else {
		abs, err := filepath.Abs(s.Rootfs)
		if err != nil {
			return nil, fmt.Errorf("resolving Rootfs %q: %w", s.Rootfs, err)
		}
		// libcontainer wants the rootfs path free of symlinks.
		if rootfs, err = filepath.EvalSymlinks(abs); err != nil {
			return nil, fmt.Errorf("resolving Rootfs %q: %w", s.Rootfs, err)
		}
	}
	spec.Root = &specs.Root{Path: rootfs, Readonly: s.HostRoot}

	var ns []specs.LinuxNamespace
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			if s.NetNS == "" {
				continue // host network
			}
			n.Path = s.NetNS
		}
		ns = append(ns, n)
	}
	spec.Linux.Namespaces = ns

	mounts := extraMounts(s, hostBinds)
	if s.HostRoot {
		if err := ensureMountpoints(mounts, hostBinds); err != nil {
			return nil, err
		}
	}
	spec.Mounts = append(spec.Mounts, mounts...)

	spec.Linux.CgroupsPath = cgroupPath(s.ID)
	spec.Linux.Resources.CPU, spec.Linux.Resources.Memory, spec.Linux.Resources.Pids = limits(s, mode)

	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: s.ID, Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("converting the container spec: %w", err)
	}
	return cfg, nil
}

// CPULimits returns the cgroup CPU settings of a task with cpus: 1024
// shares per CPU and a CFS quota of cpus periods of 100 ms, each at least
// the kernel's minimum; nil for 0 (no limit).
func CPULimits(cpus float64) *specs.LinuxCPU {
	if cpus <= 0 {
		return nil
	}
	shares := max(uint64(cpus*1024), minCPUShares)
	quota := max(int64(cpus*cfsPeriod), minCFSQuota)
	period := uint64(cfsPeriod)
	return &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
}

// limits converts the task's resources to cgroup settings.
func limits(s *Spec, mode cgroupMode) (*specs.LinuxCPU, *specs.LinuxMemory, *specs.LinuxPids) {
	var (
		cpu *specs.LinuxCPU
		mem *specs.LinuxMemory
		pid *specs.LinuxPids
	)
	cpu = CPULimits(s.CPUs)
	if s.MemMB > 0 {
		limit := int64(max(s.MemMB, minMemMB) * 1024 * 1024)
		mem = &specs.LinuxMemory{Limit: &limit}
		// memory+swap equal to memory: no swap. v1 only has the knob with
		// swap accounting on (memory.memsw.*); v2 writes memory.swap.max=0
		// and ignores a kernel without swap.
		if mode.unified || mode.memsw {
			mem.Swap = &limit
		}
	}
	if s.PidsLimit > 0 {
		n := s.PidsLimit
		pid = &specs.LinuxPids{Limit: &n}
	}
	return cpu, mem, pid
}

// extraMounts are the mounts that follow runc's defaults: the host's
// top-level directories read-only and a private /tmp for a host-root task,
// then the sandbox, the host's resolver files and the caller's binds.
func extraMounts(s *Spec, hostBinds []string) []specs.Mount {
	var out []specs.Mount
	if s.HostRoot {
		for _, p := range hostBinds {
			out = append(out, bind(p, p, true))
		}
		// The root is read-only and shared with every other task, so each
		// container gets its own /tmp, charged to its memory cgroup.
		out = append(out, specs.Mount{
			Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=1777"},
		})
	}
	if s.Sandbox != "" {
		out = append(out, bind(s.Sandbox, SandboxPath, false))
	}
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if slices.ContainsFunc(s.Mounts, func(m Mount) bool { return filepath.Clean(m.Destination) == f }) {
			continue
		}
		if _, err := os.Stat(f); err == nil {
			out = append(out, bind(f, f, true))
		}
	}
	for _, m := range s.Mounts {
		out = append(out, bind(m.Source, filepath.Clean(m.Destination), m.ReadOnly))
	}
	return out
}

func bind(src, dst string, ro bool) specs.Mount {
	opts := []string{"rbind", "rw"}
	if ro {
		// rro (mount_setattr, Linux 5.12) makes every mount beneath
		// read-only too; plain ro would only cover the top one.
		opts = []string{"rbind", "ro", "rro"}
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// freshDirs are the host's top-level directories a container mounts anew.
var freshDirs = map[string]bool{"proc": true, "sys": true, "dev": true, "tmp": true}

// prepareHostRoot makes dir the root of host-root containers: a skeleton
// of the host's / holding its top-level symlinks and an empty mount point
// for every top-level directory and file, and returns the host paths to bind
// read-only onto them. Binding the host's / itself would not do:
// libcontainer remounts only the root read-only, not the file systems
// beneath it, and a host-network container could not mount a fresh sysfs
// over the host's (the same superblock on the same mount point is EBUSY).
// The skeleton is shared by all containers and kept up to date at each
// start; only mount points are ever created in it.
func prepareHostRoot(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the host-root skeleton: %w", err)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return nil, fmt.Errorf("reading the host's root: %w", err)
	}
	var binds []string
	for _, e := range entries {
		host, dst := "/"+e.Name(), filepath.Join(dir, e.Name())
		switch t := e.Type(); {
		case freshDirs[e.Name()]:
			err = mkdirIfMissing(dst)
		case t&fs.ModeSymlink != 0:
			err = syncSymlink(host, dst)
		case t.IsDir():
			if err = mkdirIfMissing(dst); err == nil {
				binds = append(binds, host)
			}
		case t.IsRegular():
			if err = touchIfMissing(dst); err == nil {
				binds = append(binds, host)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("preparing the host-root skeleton: %w", err)
		}
	}
	return binds, nil
}

func mkdirIfMissing(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

func touchIfMissing(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// syncSymlink makes dst a symlink with host's target (/bin -> usr/bin).
func syncSymlink(host, dst string) error {
	target, err := os.Readlink(host)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(dst); err == nil && cur == target {
		return nil
	}
	// Replace atomically: a concurrent start may be using the old one.
	tmp := fmt.Sprintf("%s.%d.%d.tmp", dst, os.Getpid(), rand.Uint64())
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// ensureMountpoints creates, on the host, the mount points of binds that
// land inside a host directory bound read-only into a host-root container
// (the sandbox at /mnt/mesos/sandbox): there libcontainer could not create
// them. Mount points elsewhere are created in the skeleton by libcontainer.
func ensureMountpoints(mounts []specs.Mount, hostBinds []string) error {
	for _, m := range mounts {
		if m.Type != "bind" || slices.Contains(hostBinds, m.Destination) ||
			!slices.ContainsFunc(hostBinds, func(b string) bool { return under(m.Destination, b) }) {
			continue
		}
		if _, err := os.Lstat(m.Destination); err == nil || !errors.Is(err, os.ErrNotExist) {
			continue
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind source %q: %w", m.Source, err)
		}
		if fi.IsDir() {
			err = os.MkdirAll(m.Destination, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(m.Destination), 0o755); err == nil {
			err = touchIfMissing(m.Destination)
		}
		if err != nil {
			return fmt.Errorf("creating mount point %q on the host: %w", m.Destination, err)
		}
	}
	return nil
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// lookupUser resolves s.User against the container root's /etc/passwd and
// /etc/group, as runc's `process.user` would be filled in by a caller.
func lookupUser(s *Spec, rootfs string) (execUser, error) {
	if s.User == "" {
		return execUser{}, nil
	}
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return execUser{}, err
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return execUser{}, err
	}
	u, err := user.GetExecUserPath(s.User, &user.ExecUser{}, passwd, group)
	if err != nil {
		return execUser{}, fmt.Errorf("resolving user %q in %s: %w", s.User, passwd, err)
	}
	return execUser{uid: u.Uid, gid: u.Gid, groups: u.Sgids}, nil
}

// processEnv is s.Env with a default PATH, which exec needs to find Args[0].
func processEnv(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return env
		}
	}
	return append(slices.Clip(env), defaultPath)
}
