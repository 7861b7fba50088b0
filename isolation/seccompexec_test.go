package isolation

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// execHelperDir holds corral-exec, built once for the package's tests
// (TestMain removes it).
var execHelperDir string

var buildExecHelper = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "corral-exec-")
	if err != nil {
		return "", err
	}
	execHelperDir = dir
	p := filepath.Join(dir, ExecHelperName)
	if out, err := exec.Command("go", "build", "-o", p, "corral/isolation/corral-exec").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return p, nil
})

// execHelper returns corral-exec's path, built for the test binary.
func execHelperPath(t *testing.T) string {
	t.Helper()
	p, err := buildExecHelper()
	if err != nil {
		t.Fatalf("building corral-exec: %v", err)
	}
	return p
}

// startSleeper starts a container that sleeps, through corral-exec or not,
// and returns its init's pid once it runs the sleep.
func (e *testEnv) startSleeper(t *testing.T, id string, helper string) int {
	t.Helper()
	e.rt.execHelper = helper
	s := e.spec(id, "")
	s.Args = []string{"/bin/sleep", "600"}
	c := e.start(t, s)
	checkLoader(t, c, helper != "")
	pid := c.Pid()
	waitFor(t, 5*time.Second, id+" to run sleep", func() bool {
		exe, _ := os.Readlink(procExe(pid))
		return strings.HasSuffix(exe, "/sleep")
	})
	return pid
}

// checkLoader fails t unless c's filter was loaded by corral-exec (viaHelper)
// or by libcontainer's init: in the first case libcontainer's own config
// holds no profile.
func checkLoader(t *testing.T, c *Container, viaHelper bool) {
	t.Helper()
	if byInit := c.lc.Config().Seccomp != nil; byInit == viaHelper {
		t.Fatalf("container %s: libcontainer's init loads the filter: %v, want %v", c.ID(), byInit, !viaHelper)
	}
}

// TestPrecompiledSeccompIsLibcontainers: a container whose filter
// corral-exec loads runs under the program libcontainer's init loads when it
// compiles the profile itself, both read back from the kernel, and that
// program is what the cache holds. The init orders the blocks of its
// -ENOSYS stub by a Go map's iteration, so two of its own starts can differ
// in order; the programs must then give the same answer to every system
// call of every architecture.
func TestPrecompiledSeccompIsLibcontainers(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	byInit, err := loadedSeccomp(e.startSleeper(t, "by-init", ""))
	if err != nil {
		t.Fatal(err)
	}
	byHelper, err := loadedSeccomp(e.startSleeper(t, "by-helper", execHelperPath(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(byInit) < 100*8 {
		t.Fatalf("libcontainer's init loaded %d instructions; Docker's profile is hundreds", len(byInit)/8)
	}
	if len(byHelper) != len(byInit) {
		t.Errorf("corral-exec loaded %d instructions, libcontainer's init %d", len(byHelper)/8, len(byInit)/8)
	}
	sameVerdicts(t, byInit, byHelper)
	cached, _ := filepath.Glob(filepath.Join(e.root, seccompCacheDir, "*.bpf"))
	if len(cached) != 1 {
		t.Fatalf("cache holds %v, want one compiled profile", cached)
	}
	if b, err := readCached(cached[0]); err != nil || !bytes.Equal(b, byHelper) {
		t.Errorf("the program corral-exec loaded is not the cached one")
	}
}

// sameVerdicts runs two seccomp filters over every system call number
// below 1024 of amd64, i386, x32 and an architecture neither names, with
// arguments that select among a rule's conditions (clone's namespace
// flags, personality's values, socket's families), and fails t where
// their answers differ.
func sameVerdicts(t *testing.T, want, got []byte) {
	t.Helper()
	vm := func(prog []byte) *bpf.VM {
		raw := make([]bpf.RawInstruction, len(prog)/8)
		for i := range raw {
			in := prog[i*8:]
			raw[i] = bpf.RawInstruction{Op: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])}
		}
		insns, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatalf("a filter holds an instruction x/net/bpf cannot run")
		}
		v, err := bpf.NewVM(insns)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantVM, gotVM := vm(want), vm(got)
	const (
		auditAMD64 = 0xc000003e
		auditI386  = 0x40000003
		auditARM64 = 0xc00000b7
	)
	archs := []struct {
		audit uint32
		base  uint32
	}{{auditAMD64, 0}, {auditAMD64, x32Syscall}, {auditI386, 0}, {auditARM64, 0}}
	args := []uint64{0, 1, 2, 8, 10, 0x10, 0x20008, 0x7e020000, 0xffffffff, 0xffffffffffffffff}
	// seccomp_data in this machine's byte order, each 32-bit word then
	// turned big-endian, which is how x/net/bpf loads words.
	data := func(nr, arch uint32, a uint64) []byte {
		d := make([]byte, 64)
		binary.NativeEndian.PutUint32(d[0:], nr)
		binary.NativeEndian.PutUint32(d[4:], arch)
		for i := range 6 {
			binary.NativeEndian.PutUint64(d[16+8*i:], a)
		}
		for i := 0; i < 64; i += 4 {
			binary.BigEndian.PutUint32(d[i:], binary.NativeEndian.Uint32(d[i:]))
		}
		return d
	}
	differ := 0
	for _, arch := range archs {
		for nr := uint32(0); nr < 1024; nr++ {
			for _, a := range args {
				in := data(arch.base|nr, arch.audit, a)
				w, err1 := wantVM.Run(in)
				g, err2 := gotVM.Run(in)
				if err1 != nil || err2 != nil {
					t.Fatalf("running the filters: %v, %v", err1, err2)
				}
				if w != g && differ < 10 {
					t.Errorf("arch %#x syscall %d args %#x: libcontainer's init answers %#x, corral-exec's filter %#x", arch.audit, arch.base|nr, a, w, g)
				}
				if w != g {
					differ++
				}
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d answers differ", differ)
	}
}

// TestExecHelperLikeInit: what a task sees, and how a command that is not
// there fails, is the same whichever way its filter is loaded: no file
// descriptor of corral-exec's is left to the command.
func TestExecHelperLikeInit(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	// No pipeline before ls: the shell holds a pipe's fds while it starts one.
	const script = `ls /proc/$$/fd; grep -E '^(Seccomp|NoNewPrivs|CapEff|Speculation_Store_Bypass):' /proc/$$/status; cat /proc/$$/cmdline | tr '\0' ' '`
	var outs []string
	var errs []string
	for _, helper := range []string{"", execHelperPath(t)} {
		e.rt.execHelper = helper
		id := map[bool]string{true: "helper", false: "init"}[helper != ""]
		if err := os.Remove(filepath.Join(e.sandbox, "stdout")); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		c := e.start(t, e.spec(id, script))
		checkLoader(t, c, helper != "")
		st, err := c.Wait()
		if err != nil {
			t.Fatal(err)
		}
		out := e.output(t, "stdout")
		if st != (ExitStatus{}) {
			t.Fatalf("%s: status %+v, stderr %q", id, st, e.output(t, "stderr"))
		}
		outs = append(outs, out)

		s := e.spec(id+"-missing", "")
		s.Args = []string{"no-such-command", "x"}
		_, err = e.rt.Start(s)
		if err == nil {
			t.Fatalf("%s: starting a command that does not exist succeeded", id)
		}
		errs = append(errs, err.Error())
		checkGone(t, e, s.ID)
	}
	if outs[0] != outs[1] {
		t.Errorf("the task sees\n%s\nunder libcontainer's init, and\n%s\nunder corral-exec", outs[0], outs[1])
	}
	if !strings.HasPrefix(outs[1], "0\n1\n2\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n") {
		t.Errorf("under corral-exec the task sees %q, want fds 0 1 2 only, a filter and no_new_privs", outs[1])
	}
	for _, err := range errs {
		if !strings.Contains(err, `exec: "no-such-command": executable file not found in $PATH`) {
			t.Errorf("start error %q, want LookPath's", err)
		}
	}
}

// TestLateExecError: when corral-exec reports a command it cannot execute
// only after Start has stopped waiting (a start slower than
// execStatusWait), the report is not lost: Wait gives it with the exit
// status, and a command that does run reports none.
func TestLateExecError(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	defer func(d time.Duration) { execStatusWait = d }(execStatusWait)
	execStatusWait = 0 // Start never waits: every report comes late

	s := e.spec("late-missing", "")
	s.Args = []string{"no-such-command", "x"}
	c := e.start(t, s)
	st, err := c.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 127 || !strings.Contains(st.ExecError, `exec: "no-such-command": executable file not found in $PATH`) {
		t.Errorf("Wait() = %+v, want code 127 and LookPath's error", st)
	}

	st, out := e.run(t, e.spec("late-ok", "echo ran"))
	if st != (ExitStatus{}) || out != "ran\n" {
		t.Errorf("a command that runs: Wait() = %+v, output %q; want a clean exit and no error", st, out)
	}
}

// TestSeccompFlags: corral-exec passes seccomp(2) the flags libcontainer's
// init would (Docker's profile gets SPEC_ALLOW from specconv, as runc's
// containers do), and a filter it could not load the same way is left to
// the init.
func TestSeccompFlags(t *testing.T) {
	cfg, err := containerConfig(&Spec{ID: "flags", HostRoot: true, Args: []string{"/bin/true"}}, cgroupMode{unified: true}, filepath.Join(t.TempDir(), hostRootDir))
	if err != nil {
		t.Fatal(err)
	}
	want := uint(0)
	if slices.Contains(cfg.Seccomp.Flags, specs.LinuxSeccompFlagSpecAllow) {
		want = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	}
	if got, ok := seccompFlags(cfg.Seccomp); !ok || got != want {
		t.Errorf("Docker's profile (flags %v): seccompFlags = %#x, %v; want %#x, true", cfg.Seccomp.Flags, got, ok, want)
	}
	for _, tt := range []struct {
		name  string
		cfg   configs.Seccomp
		flags uint
		ok    bool
	}{
		{"none", configs.Seccomp{DefaultAction: configs.Allow}, 0, true},
		{"log and tsync", configs.Seccomp{DefaultAction: configs.Allow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_TSYNC"}}, unix.SECCOMP_FILTER_FLAG_LOG, true},
		{"wait killable", configs.Seccomp{DefaultAction: configs.Allow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, true},
		{"unknown flag", configs.Seccomp{DefaultAction: configs.Allow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW"}}, 0, false},
		{"notify", configs.Seccomp{DefaultAction: configs.Allow, Syscalls: []*configs.Syscall{{Name: "mkdir", Action: configs.Notify}}}, 0, false},
		{"listener", configs.Seccomp{DefaultAction: configs.Allow, ListenerPath: "/run/agent.sock"}, 0, false},
	} {
		if flags, ok := seccompFlags(&tt.cfg); flags != tt.flags || ok != tt.ok {
			t.Errorf("%s: seccompFlags = %#x, %v; want %#x, %v", tt.name, flags, ok, tt.flags, tt.ok)
		}
	}
}

// TestSealHelper: the file a container's init executes as corral-exec
// cannot be opened for writing through its /proc magic link, which is how
// a container would reach it (/proc/<pid>/exe), and executes.
func TestSealHelper(t *testing.T) {
	requireRoot(t)
	helper := execHelperPath(t)
	f, err := sealHelper(helper, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if w, err := os.OpenFile(link, os.O_WRONLY, 0); err == nil {
		w.Close()
		t.Fatalf("opened the sealed corral-exec for writing")
	} else if runningKernel().atLeast(kernelVersion{5, 12}) && !errors.Is(err, unix.EROFS) {
		// mount_setattr is there: a read-only mount, not a copy.
		t.Errorf("opening the sealed corral-exec for writing: %v, want EROFS", err)
	} else if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) {
		t.Errorf("opening the sealed corral-exec for writing: %v, want EROFS or EPERM", err)
	}
	// Without arguments it says how to use it, on its status fd (5).
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// As the init does: fd 3 is corral-exec.
	cmd := exec.Command("/proc/self/fd/3")
	cmd.ExtraFiles = []*os.File{f, nil, w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("executing the sealed corral-exec: %v", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(string(msg), "usage") {
		t.Errorf("corral-exec without arguments: %v, status %q; want exit 127 and its usage", err, msg)
	}
}

// TestSeccompCompileFailure: a profile that does not compile leaves its
// reason in <key>.err, is not compiled again at each start, and is tried
// again once compileRetry has passed.
func TestSeccompCompileFailure(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	bad := &configs.Seccomp{DefaultAction: configs.Action(99)}
	_, _, err := e.rt.seccompProgram(bad)
	if err == nil || !strings.Contains(err.Error(), "invalid default action") {
		t.Fatalf("compiling a profile with an invalid default action: %v, want libcontainer's error", err)
	}
	marks, _ := filepath.Glob(filepath.Join(e.root, seccompCacheDir, "*.err"))
	if len(marks) != 1 {
		t.Fatalf("failure marks %v, want one", marks)
	}
	before, _ := os.Stat(marks[0])
	if _, _, err2 := e.rt.seccompProgram(bad); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second try: %v, want the kept reason %v", err2, err)
	}
	if after, _ := os.Stat(marks[0]); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second try compiled again")
	}
	old := time.Now().Add(-compileRetry - time.Minute)
	if err := os.Chtimes(marks[0], old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.rt.seccompProgram(bad); err == nil {
		t.Fatal("compiled an invalid profile")
	}
	if after, _ := os.Stat(marks[0]); !after.ModTime().After(old) {
		t.Errorf("after compileRetry the profile was not compiled again")
	}
}

// TestUsableExecHelper: only a static executable is taken as corral-exec:
// a dynamically linked one would fail every task in a root without its
// loader.
func TestUsableExecHelper(t *testing.T) {
	if err := usableExecHelper(execHelperPath(t)); err != nil {
		t.Errorf("the corral-exec go build makes: %v", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	if err := usableExecHelper(sh); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("a dynamically linked %s: %v, want it refused as such", sh, err)
	}
	// A copy anyone in its group may change is refused.
	writable := filepath.Join(t.TempDir(), ExecHelperName)
	if b, err := os.ReadFile(execHelperPath(t)); err != nil || os.WriteFile(writable, b, 0o775) != nil {
		t.Fatal("copying corral-exec")
	}
	os.Chmod(writable, 0o775)
	if err := usableExecHelper(writable); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("a group-writable corral-exec: %v, want it refused", err)
	}
	notExec := filepath.Join(t.TempDir(), ExecHelperName)
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	if err := usableExecHelper(notExec); err == nil {
		t.Errorf("a file that is not executable was taken")
	}
}

// TestDamagedCache: a cache file that was damaged is compiled anew, and one
// the kernel refuses (intact, yet wrong for this kernel) fails only the start
// that loads it: the runtime drops it, and the next start compiles again.
func TestDamagedCache(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	e.startSleeper(t, "warm", execHelperPath(t))
	cached, _ := filepath.Glob(filepath.Join(e.root, seccompCacheDir, "*.bpf"))
	if len(cached) != 1 {
		t.Fatalf("cache holds %v, want one compiled profile", cached)
	}
	good, err := readCached(cached[0])
	if err != nil {
		t.Fatal(err)
	}

	// Damaged on disk: its checksum no longer matches.
	b, _ := os.ReadFile(cached[0])
	b[len(b)-1] ^= 0xff
	os.WriteFile(cached[0], b, 0o600)
	e.startSleeper(t, "after-damage", execHelperPath(t))
	// Compiled anew: the same answers (not always the same bytes, see
	// TestPrecompiledSeccompIsLibcontainers).
	if b, err := readCached(cached[0]); err != nil {
		t.Fatalf("a damaged cache file was not compiled anew: %v", err)
	} else {
		sameVerdicts(t, good, b)
	}

	// Intact but refused by the kernel: one all-zero instruction (a load
	// with no return) is no filter the kernel takes.
	os.WriteFile(cached[0], encodeCached(make([]byte, 8)), 0o600)
	s := e.spec("refused", "")
	s.Args = []string{"/bin/true"}
	if _, err := e.rt.Start(s); err == nil || !strings.Contains(err.Error(), filterLoadFailed) {
		t.Fatalf("start with a refused cached filter: %v, want corral-exec's load error", err)
	}
	checkGone(t, e, s.ID)
	if _, err := os.Stat(cached[0]); !os.IsNotExist(err) {
		t.Fatalf("the refused cache file stayed: %v", err)
	}
	e.startSleeper(t, "after-refusal", execHelperPath(t))
	if b, err := readCached(cached[0]); err != nil {
		t.Fatalf("after a refusal the filter was not compiled anew: %v", err)
	} else {
		sameVerdicts(t, good, b)
	}
}

// TestPrecompileSeccomp: what PrecompileSeccomp compiles is what a start
// with the same profile looks up, so the start compiles nothing.
func TestPrecompileSeccomp(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	if err := e.rt.PrecompileSeccomp(nil); err != nil {
		t.Fatal(err)
	}
	cached, _ := filepath.Glob(filepath.Join(e.root, seccompCacheDir, "*.bpf"))
	if len(cached) != 1 {
		t.Fatalf("after PrecompileSeccomp the cache holds %v, want Docker's profile", cached)
	}
	before, _ := os.Stat(cached[0])
	e.startSleeper(t, "after-precompile", execHelperPath(t))
	if after, _ := filepath.Glob(filepath.Join(e.root, seccompCacheDir, "*.bpf")); len(after) != 1 {
		t.Errorf("after a start the cache holds %v, want the precompiled file only", after)
	}
	if st, _ := os.Stat(cached[0]); !st.ModTime().Equal(before.ModTime()) {
		t.Errorf("the start compiled the profile again")
	}
	e.rt.execHelper = ""
	if err := e.rt.PrecompileSeccomp(nil); err != nil {
		t.Errorf("without corral-exec: %v, want nothing to do", err)
	}
}

// TestPrecompilePrunesStaleFilters: an agent starting after an upgrade of
// the kernel, libseccomp or itself removes the filters, and the marks of
// failed compiles, that the earlier one left, and keeps this one's.
func TestPrecompilePrunesStaleFilters(t *testing.T) {
	e := newEnv(t)
	if !SeccompSupported {
		t.Skip("built without the seccomp tag")
	}
	dir := filepath.Join(e.root, seccompCacheDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := []string{
		strings.Repeat("a", 64) + ".bpf",                       // cache format 2's names
		"0123456789abcdef-" + strings.Repeat("b", 64) + ".bpf", // another kernel's
		"0123456789abcdef-" + strings.Repeat("b", 64) + ".err",
	}
	current := []string{
		seccompKey([]byte(`{"another":"profile"}`)) + ".bpf", // this agent's, for a task's own profile
		seccompKey([]byte(`{"a":"third"}`)) + ".err",
		"lock",
	}
	for _, name := range append(append([]string{}, stale...), current...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.rt.PrecompileSeccomp(nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s stayed (%v), want it removed", name, err)
		}
	}
	for _, name := range current {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v, want it kept", name, err)
		}
	}
	if cached, _ := filepath.Glob(filepath.Join(dir, seccompEnv()+"-*.bpf")); len(cached) != 2 {
		t.Errorf("the cache holds %v, want the task's profile and Docker's, just compiled", cached)
	}
}
