package isolation

import (
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerCapMask is Docker's default capability set as /proc/<pid>/status
// prints it: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
// SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
const dockerCapMask = "00000000a80425fb"

// allows reports whether p lets name through unconditionally (no argument
// filter), and whether it lets it through at all.
func allows(p *specs.LinuxSeccomp, name string) (always, some bool) {
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) {
			some = true
			always = always || len(sc.Args) == 0
		}
	}
	return always, some
}

func TestDefaultSeccomp(t *testing.T) {
	withAdmin := append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN")
	newKernel, oldKernel := kernelVersion{6, 1}, kernelVersion{4, 4}
	tests := []struct {
		name     string
		caps     []string
		goarch   string
		kernel   kernelVersion
		always   []string // allowed whatever the arguments
		filtered []string // allowed for some arguments only
		denied   []string // never allowed
	}{
		{"docker defaults", DefaultCapabilities, "amd64", newKernel,
			[]string{"read", "execve", "chroot", "ptrace", "arch_prctl", "setuid", "io_uring_setup"},
			[]string{"clone", "socket", "personality"},
			[]string{"unshare", "mount", "umount2", "setns", "clone3", "keyctl", "add_key", "reboot", "bpf",
				"init_module", "kexec_load", "open_by_handle_at", "userfaultfd", "settimeofday", "swapon", "pivot_root"}},
		{"ptrace needs Linux 4.8", DefaultCapabilities, "amd64", oldKernel,
			nil, nil, []string{"ptrace", "process_vm_readv"}},
		{"CAP_SYS_ADMIN", withAdmin, "amd64", newKernel,
			[]string{"mount", "unshare", "setns", "clone", "clone3", "umount2"}, nil, []string{"reboot"}},
		{"arm64", DefaultCapabilities, "arm64", newKernel,
			[]string{"set_tls", "cacheflush"}, []string{"clone"}, []string{"arch_prctl", "modify_ldt"}},
		{"s390x", DefaultCapabilities, "s390x", newKernel,
			[]string{"s390_runtime_instr"}, []string{"clone"}, []string{"arch_prctl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultSeccomp(tt.caps, tt.goarch, tt.kernel, true)
			if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
				t.Errorf("default action %s errno %v, want SCMP_ACT_ERRNO with EPERM (1)", p.DefaultAction, p.DefaultErrnoRet)
			}
			for _, name := range tt.always {
				if always, _ := allows(p, name); !always {
					t.Errorf("%s not allowed, want it allowed", name)
				}
			}
			for _, name := range tt.filtered {
				if always, some := allows(p, name); always || !some {
					t.Errorf("%s: allowed always %v, for some arguments %v; want only for some", name, always, some)
				}
			}
			for _, name := range tt.denied {
				if _, some := allows(p, name); some {
					t.Errorf("%s allowed, want it denied", name)
				}
			}
		})
	}

	for _, tt := range []struct {
		goarch string
		x32    bool
		want   []specs.Arch
	}{
		{"amd64", true, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}},
		{"amd64", false, []specs.Arch{specs.ArchX86_64, specs.ArchX86}},
		{"arm64", false, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}},
	} {
		if got := defaultSeccomp(DefaultCapabilities, tt.goarch, newKernel, tt.x32).Architectures; !slices.Equal(got, tt.want) {
			t.Errorf("%s with x32 %v: architectures %v, want %v", tt.goarch, tt.x32, got, tt.want)
		}
	}
	p := defaultSeccomp(DefaultCapabilities, "amd64", newKernel, true)
	// Without CAP_SYS_ADMIN, clone3 fails with ENOSYS so that glibc falls
	// back to clone, whose namespace flags the filter can see.
	i := slices.IndexFunc(p.Syscalls, func(sc specs.LinuxSyscall) bool { return slices.Contains(sc.Names, "clone3") })
	if i < 0 || p.Syscalls[i].Action != specs.ActErrno || p.Syscalls[i].ErrnoRet == nil || *p.Syscalls[i].ErrnoRet != 38 {
		t.Errorf("clone3 rule %+v, want SCMP_ACT_ERRNO with ENOSYS (38)", p.Syscalls[max(i, 0)])
	}
}

// TestKernelHasX32: the probe agrees with the running kernel's build
// configuration (CONFIG_X86_X32_ABI), read from /proc/config.gz or
// /boot/config-<release>.
func TestKernelHasX32(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		if kernelHasX32() {
			t.Errorf("kernelHasX32() on %s = true, want false", runtime.GOARCH)
		}
		return
	}
	config := kernelConfig(t)
	want := strings.Contains(config, "\nCONFIG_X86_X32_ABI=y\n")
	if got := kernelHasX32(); got != want {
		t.Errorf("kernelHasX32() = %v, want %v (CONFIG_X86_X32_ABI=y in the kernel's config: %v)", got, want, want)
	}
	if got := slices.Contains(DefaultSeccomp(DefaultCapabilities).Architectures, specs.ArchX32); got != want {
		t.Errorf("DefaultSeccomp covers x32: %v, want %v", got, want)
	}
}

// kernelConfig returns the running kernel's build configuration, or skips
// the test when the kernel does not expose it.
func kernelConfig(t *testing.T) string {
	t.Helper()
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		return "\n" + string(b)
	}
	b, err := os.ReadFile("/boot/config-" + runningRelease(t))
	if err != nil {
		t.Skipf("the kernel's configuration is not readable (no /proc/config.gz, %v)", err)
	}
	return "\n" + string(b)
}

func runningRelease(t *testing.T) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

func TestLoadSeccompProfile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, json string
		want       string // substring of the error; "" for none
	}{
		{"oci", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
			"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`, ""},
		{"docker format", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[],"syscalls":[]}`, `unknown field "archMap"`},
		{"no default action", `{"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, "defaultAction is missing"},
		{"bad action", `{"defaultAction":"SCMP_ACT_MAYBE"}`, "SCMP_ACT_MAYBE"},
		{"bad operator", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SORTOF"}]}]}`, "SCMP_CMP_SORTOF"},
		{"not json", `defaultAction: allow`, "must be an OCI linux.seccomp object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadSeccompProfile(path)
			if tt.want == "" && (err != nil || p == nil) || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("LoadSeccompProfile = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if _, err := LoadSeccompProfile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadSeccompProfile(missing) = %v, want ErrNotExist", err)
	}
}

// confinementScript reports, one line each, the container's seccomp mode and
// capability sets and how the system calls the profile governs fare.
const confinementScript = `
grep -E '^(Seccomp|CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\t'
busybox unshare -m true 2>&1 && echo unshare-m=ok
busybox unshare -U true 2>&1 && echo unshare-U=ok
busybox mount -t tmpfs x /mnt 2>&1 && echo mount=ok
mkdir /tmp/d && echo mkdir=ok
true`

// TestSeccompDefault is the confinement a task gets without asking: the
// namespace and mount calls a container could escape or attack the host with
// fail with EPERM, and the capability sets are exactly Docker's.
func TestSeccompDefault(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	st, out := e.run(t, e.spec("seccomp", confinementScript))
	if st != (ExitStatus{}) {
		t.Fatalf("status %+v, stderr %q", st, e.output(t, "stderr"))
	}
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"Seccomp:2", "NoNewPrivs:1",
		"CapEff:" + dockerCapMask, "CapPrm:" + dockerCapMask, "CapBnd:" + dockerCapMask,
		"CapInh:0000000000000000", "CapAmb:0000000000000000",
		"unshare: unshare(0x20000): Operation not permitted",    // CLONE_NEWNS
		"unshare: unshare(0x10000000): Operation not permitted", // CLONE_NEWUSER: needs no capability, only the filter stops it
		"mount: permission denied (are you root?)",              // busybox's words for EPERM
		"mkdir=ok",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"unshare-m=ok", "unshare-U=ok", "mount=ok"} {
		if slices.Contains(lines, bad) {
			t.Errorf("container output has %q, want it refused:\n%s", bad, out)
		}
	}
}

// TestSeccompUnconfined opts a container out of the filter: the user
// namespace the filter refused is created, while the capability set still
// keeps mount and mount namespaces out of reach.
func TestSeccompUnconfined(t *testing.T) {
	e := newEnv(t)
	s := e.spec("unconfined", confinementScript)
	s.SeccompUnconfined = true
	st, out := e.run(t, s)
	if st != (ExitStatus{}) {
		t.Fatalf("status %+v, stderr %q", st, e.output(t, "stderr"))
	}
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"Seccomp:0", "NoNewPrivs:1", "CapEff:" + dockerCapMask, "CapBnd:" + dockerCapMask,
		"unshare-U=ok",
		"unshare: unshare(0x20000): Operation not permitted", // no CAP_SYS_ADMIN
		"mount: permission denied (are you root?)",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
}

// TestSeccompProfile runs a container under an operator's own profile.
func TestSeccompProfile(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	path := filepath.Join(e.dir, "profile.json")
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadSeccompProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := e.spec("profile", confinementScript)
	s.Seccomp = p
	st, out := e.run(t, s)
	if st != (ExitStatus{}) {
		t.Fatalf("status %+v, stderr %q", st, e.output(t, "stderr"))
	}
	lines := strings.Split(out, "\n")
	if !slices.Contains(lines, "Seccomp:2") || slices.Contains(lines, "mkdir=ok") || !slices.Contains(lines, "unshare-U=ok") {
		t.Errorf("under a profile refusing only mkdir: want Seccomp:2, mkdir refused, unshare -U allowed; got\n%s\nstderr %q", out, e.output(t, "stderr"))
	}
}

// TestSeccompUnsupported: a binary built without seccomp support refuses
// to start a filtered container rather than start it unfiltered.
func TestSeccompUnsupported(t *testing.T) {
	e := newEnv(t)
	if SeccompSupported {
		t.Skip("built with seccomp support")
	}
	_, err := e.rt.Start(e.spec("nofilter", "true"))
	if !errors.Is(err, ErrSeccompUnsupported) {
		t.Errorf("Start = %v, want ErrSeccompUnsupported", err)
	}
	checkGone(t, e, "nofilter")
}
