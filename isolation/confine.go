package isolation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SeccompSupported reports whether this binary can filter a container's
// system calls: it was built with cgo and the "seccomp" build tag, linked
// against libseccomp (Debian's libseccomp-dev). make builds it so.
const SeccompSupported = seccomp.Enabled

// ErrSeccompUnsupported is returned by Runtime.Start for a container with a
// seccomp profile when the binary was built without seccomp support.
// Starting it unfiltered instead would silently drop a protection the
// operator did not choose to drop.
var ErrSeccompUnsupported = errors.New("this binary was built without seccomp support (build with cgo, libseccomp-dev and -tags seccomp, as make does), so it cannot filter the container's system calls; opt the task out of seccomp to run it unfiltered")

// kernelVersion is a Linux release's major and minor number.
type kernelVersion struct{ major, minor int }

func (k kernelVersion) atLeast(o kernelVersion) bool {
	return k.major > o.major || k.major == o.major && k.minor >= o.minor
}

// runningKernel is the version of the kernel this runs on; 0.0 when it
// cannot be read, which leaves out the rules that need a newer kernel.
func runningKernel() kernelVersion {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return kernelVersion{}
	}
	var k kernelVersion
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &k.major, &k.minor)
	return k
}

// x32Syscall is the bit that marks a system call of the x32 ABI on amd64
// (__X32_SYSCALL_BIT), and x32Getpid getpid's number in that ABI.
const (
	x32Syscall = 0x40000000
	x32Getpid  = x32Syscall | 39
)

// kernelHasX32 reports whether this kernel runs x32 binaries
// (CONFIG_X86_X32_ABI): without it, every x32 system call fails with
// ENOSYS. Most distribution kernels leave it out. Any other answer (EPERM
// from a filter around agentd, say) counts as x32 being there.
var kernelHasX32 = sync.OnceValue(func() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	_, _, errno := unix.RawSyscall(x32Getpid, 0, 0, 0)
	return errno != unix.ENOSYS
})

// DefaultSeccomp returns Docker's default seccomp profile for a container
// whose bounding capability set is caps, on this machine's architecture and
// kernel: system calls not on its allow list fail with EPERM, and those a
// capability governs (mount and unshare with CAP_SYS_ADMIN, say) are allowed
// only with that capability.
//
// On amd64 it covers x32 only when the kernel has that ABI: each
// architecture is a filter of its own that every container's init compiles
// (several ms of CPU each), and without the ABI no x32 binary can run. A
// 64-bit process that makes an x32 system call by hand then gets the
// filter's answer for an architecture it does not cover instead of the
// kernel's ENOSYS.
func DefaultSeccomp(caps []string) *specs.LinuxSeccomp {
	return defaultSeccomp(caps, runtime.GOARCH, runningKernel(), kernelHasX32())
}

func defaultSeccomp(caps []string, goarch string, kernel kernelVersion, x32 bool) *specs.LinuxSeccomp {
	eperm := uint(seccompEPERM)
	arches := slices.Clone(seccompArchMap[goarch])
	if !x32 {
		arches = slices.DeleteFunc(arches, func(a specs.Arch) bool { return a == specs.ArchX32 })
	}
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   arches,
	}
	arch := nativeArch[goarch]
	for _, r := range dockerSeccompRules {
		if !r.applies(caps, arch, kernel) {
			continue
		}
		sc := specs.LinuxSyscall{Names: slices.Clone(r.names), Action: r.action, Args: slices.Clone(r.args)}
		if sc.Action == "" {
			sc.Action = specs.ActAllow
		}
		if r.errnoRet != 0 {
			errno := r.errnoRet
			sc.ErrnoRet = &errno
		}
		p.Syscalls = append(p.Syscalls, sc)
	}
	return p
}

// applies resolves the rule's includes and excludes for a container.
func (r *seccompRule) applies(caps []string, arch string, kernel kernelVersion) bool {
	for _, c := range r.caps {
		if !slices.Contains(caps, c) {
			return false
		}
	}
	for _, c := range r.notCaps {
		if slices.Contains(caps, c) {
			return false
		}
	}
	if len(r.arches) > 0 && !slices.Contains(r.arches, arch) || slices.Contains(r.notArches, arch) {
		return false
	}
	return kernel.atLeast(r.minKernel)
}

// LoadSeccompProfile reads a seccomp profile in the OCI runtime spec's
// format (the "linux.seccomp" object of a config.json: defaultAction,
// architectures, syscalls with names, action and args). Docker's own
// profile format, with archMap, includes and excludes, is refused rather
// than half understood.
func LoadSeccompProfile(path string) (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the seccomp profile: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p specs.LinuxSeccomp
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("invalid seccomp profile %s, must be an OCI linux.seccomp object: %w", path, err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("invalid seccomp profile %s: defaultAction is missing", path)
	}
	// libcontainer's own conversion names an unknown action, architecture
	// or operator.
	if _, err := specconv.SetupSeccomp(&p); err != nil {
		return nil, fmt.Errorf("invalid seccomp profile %s: %w", path, err)
	}
	return &p, nil
}

// confine sets the container's capabilities and seccomp filter: Docker's
// default capability set in the bounding, effective and permitted sets
// (none inheritable or ambient, so a non-root user's execve drops them),
// no_new_privileges, and s's seccomp profile, Docker's default unless s
// opts out.
func confine(spec *specs.Spec, s *Spec) {
	spec.Process.NoNewPrivileges = true
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  slices.Clone(DefaultCapabilities),
		Effective: slices.Clone(DefaultCapabilities),
		Permitted: slices.Clone(DefaultCapabilities),
	}
	switch {
	case s.SeccompUnconfined:
		spec.Linux.Seccomp = nil
	case s.Seccomp != nil:
		spec.Linux.Seccomp = s.Seccomp
	default:
		spec.Linux.Seccomp = DefaultSeccomp(DefaultCapabilities)
	}
}
