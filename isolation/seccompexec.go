package isolation

// A container's seccomp filter, compiled once per profile instead of once per
// container. libcontainer's init compiles the profile with libseccomp every
// time it starts a container, the last thing before it executes the command:
// 7–9 ms of CPU per container for Docker's profile, the biggest single cost
// of a start (bench/RESULTS.md, "The burst gap, broken down"). Here the
// filter libcontainer's init would load is compiled once, by that very code,
// and kept under the runtime's root; containers then start with no profile
// for libcontainer and corral-exec, executed by the init in place of the
// command, loads the compiled filter at the same point and executes the
// command.
//
// The filter is not rebuilt from the profile by other code: a child process
// has libcontainer's seccomp.InitSeccomp load the profile into one of its
// threads, and this process reads the kernel's copy of it back with
// PTRACE_SECCOMP_GET_FILTER. A container started either way runs under a
// filter that answers every system call alike
// (TestPrecompiledSeccompIsLibcontainers).

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"corral/atomicfile"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/exeseal"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecHelperName is the program that loads a compiled filter and executes
// the container's command (corral/isolation/corral-exec). Runtime uses it
// when it lies next to the executable of the process that starts
// containers, and lets libcontainer's init compile the filter otherwise.
const ExecHelperName = "corral-exec"

// seccompCacheDir holds the compiled filters inside the runtime's root; '@'
// keeps it apart from container IDs.
const seccompCacheDir = "@seccomp"

// compileEnv in the environment of "<binary> init" makes Init compile a
// filter (compileMain) instead of running libcontainer's init.
const compileEnv = "_CORRAL_SECCOMP_COMPILE"

// compileTimeout bounds the child that compiles a filter, and
// compileRetry is how long after a failed compile the next is tried.
const (
	compileTimeout = 30 * time.Second
	compileRetry   = 10 * time.Minute
)

// execStatusWait bounds how long Start waits for corral-exec to execute
// the command once the init has executed corral-exec; a report that comes
// later reaches Wait (ExitStatus.ExecError). A variable for tests.
var execStatusWait = 10 * time.Second

// ptraceSeccompGetFilter is PTRACE_SECCOMP_GET_FILTER (linux/ptrace.h).
const ptraceSeccompGetFilter = 0x420c

// elfMachine is the ELF machine of the architectures Corral is built for.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM}

// filterLoadFailed starts corral-exec's message when the kernel refused the
// filter (isolation/corral-exec/main.go writes it).
const filterLoadFailed = "corral-exec: loading the seccomp filter"

// defaultExecHelper is findExecHelper's answer, looked up once a process.
var defaultExecHelper = sync.OnceValue(findExecHelper)

// findExecHelper returns ExecHelperName next to this process's executable,
// or "" when it is not there or cannot run in a container.
func findExecHelper() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	p, err := ExecHelper(self)
	if err != nil {
		return ""
	}
	return p
}

// ExecHelper returns the corral-exec that a runtime in a process running
// binary uses (ExecHelperName in the same directory), or why there is none
// it can use.
func ExecHelper(binary string) (string, error) {
	p := filepath.Join(filepath.Dir(binary), ExecHelperName)
	return p, usableExecHelper(p)
}

// usableExecHelper checks that p is an executable that runs in any
// container's root: a static ELF binary, which names no dynamic loader (a
// build with cgo's external linking would, and every task would then fail
// to start where the container's root lacks that loader).
func usableExecHelper(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	// It runs as every container's first process, before the filter: only
	// root may change it, as for the shim.
	if info.Mode()&0o022 != 0 {
		return fmt.Errorf("%s is writable by others than its owner (mode %v)", p, info.Mode().Perm())
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not root", p, st.Uid)
	}
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	if m, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != m {
		return fmt.Errorf("%s is built for %v, not %s", p, f.Machine, runtime.GOARCH)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0, as make does", p)
		}
	}
	return nil
}

// seccompFlags returns the flags libcontainer's init would pass seccomp(2)
// for cfg, and false for a filter corral-exec cannot load as the init
// would: one with a notify action (a listener fd to hand over) or a flag
// this code does not know.
func seccompFlags(cfg *configs.Seccomp) (flags uint, ok bool) {
	if cfg.ListenerPath != "" || cfg.DefaultAction == configs.Notify {
		return 0, false
	}
	for _, s := range cfg.Syscalls {
		if s != nil && s.Action == configs.Notify {
			return 0, false
		}
	}
	// As libcontainer's setFlag and filterFlags map them.
	for _, f := range cfg.Flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC": // the init's filter binds one thread too
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, false
		}
	}
	return flags, true
}

// PrecompileSeccomp compiles, ahead of the first start, the filter of
// containers started with profile (nil: Docker's default, as in Spec), so
// that no start waits for it and a failure shows at once: agentd calls it
// as it starts. It first removes what an earlier kernel, libseccomp or
// agentd compiled. Without corral-exec, or for a profile corral-exec does
// not load, there is nothing to do.
func (r *Runtime) PrecompileSeccomp(profile *specs.LinuxSeccomp) error {
	if r.execHelper == "" || !SeccompSupported {
		return nil
	}
	spec := Spec{ID: "precompile", Args: []string{"/bin/true"}, HostRoot: true, Seccomp: profile}
	cfg, err := containerConfig(&spec, r.mode, filepath.Join(r.root, hostRootDir))
	if err != nil {
		return err
	}
	if cfg.Seccomp == nil || !cfg.NoNewPrivileges {
		return nil
	}
	if _, ok := seccompFlags(cfg.Seccomp); !ok {
		return nil
	}
	if err := pruneSeccompCache(filepath.Join(r.root, seccompCacheDir)); err != nil {
		return fmt.Errorf("pruning the seccomp cache: %w", err)
	}
	_, _, err = r.seccompProgram(cfg.Seccomp)
	return err
}

// seccompProgram returns the filter libcontainer's init would load for cfg,
// and the cache file holding it: compiled on the first call for a profile,
// read from the cache under the runtime's root afterwards. The cache's key
// covers the profile, the architecture, the kernel's release, libseccomp's
// version and libcontainer's, so an upgrade compiles anew.
func (r *Runtime) seccompProgram(cfg *configs.Seccomp) (prog []byte, path string, _ error) {
	profile, err := json.Marshal(cfg)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(r.root, seccompCacheDir)
	key := filepath.Join(dir, seccompKey(profile))
	path = key + ".bpf"
	if b, err := readCached(path); err == nil {
		return b, path, nil
	}
	// A profile that failed to compile (no ptrace here, say) is not tried
	// again at every start: the reason stays in <key>.err for the operator,
	// and for compileRetry the init compiles the filter itself.
	if info, err := os.Stat(key + ".err"); err == nil && time.Since(info.ModTime()) < compileRetry {
		b, _ := os.ReadFile(key + ".err")
		return nil, "", errors.New(string(b))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	// One start compiles; the others of a burst wait and read its result.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, "", fmt.Errorf("locking the seccomp cache: %w", err)
	}
	if b, err := readCached(path); err == nil {
		return b, path, nil
	}
	b, err := compileSeccomp(profile)
	if err != nil {
		_ = atomicfile.WriteFile(key+".err", []byte(err.Error()), 0o600)
		return nil, "", err
	}
	if err := atomicfile.WriteFile(path, encodeCached(b), 0o600); err != nil {
		return nil, "", fmt.Errorf("caching the seccomp filter: %w", err)
	}
	os.Remove(key + ".err")
	return b, path, nil
}

// A cache file is the program's SHA-256 and the program: a file that was
// damaged, or copied in half, is compiled anew rather than loaded.
func encodeCached(prog []byte) []byte {
	sum := sha256.Sum256(prog)
	return append(sum[:], prog...)
}

func readCached(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < sha256.Size {
		return nil, fmt.Errorf("%s is damaged", path)
	}
	prog := b[sha256.Size:]
	if sum := sha256.Sum256(prog); !bytes.Equal(sum[:], b[:sha256.Size]) {
		return nil, fmt.Errorf("%s is damaged", path)
	}
	return prog, validProgram(prog)
}

// cacheFormat names how this code compiles and stores filters; a change
// to either changes it, and with it every key.
const cacheFormat = "corral seccomp cache 3"

// seccompKey names a compiled profile: the name of the environment that
// compiled it (seccompEnv), a dash, and the profile's hash.
func seccompKey(profile []byte) string {
	sum := sha256.Sum256(profile)
	return seccompEnv() + "-" + hex.EncodeToString(sum[:])
}

// seccompEnv names what a filter compiled here depends on besides its
// profile: this code's cacheFormat, the architecture, the kernel's release
// (libseccomp asks the kernel what it supports, its API level), and the
// versions of libseccomp and libcontainer. Files named for another
// environment are left by an upgrade and are never read again.
var seccompEnv = sync.OnceValue(func() string {
	major, minor, micro := seccomp.Version()
	var u unix.Utsname
	_ = unix.Uname(&u)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %s kernel %s libseccomp %d.%d.%d libcontainer %s", cacheFormat, runtime.GOARCH, unix.ByteSliceToString(u.Release[:]), major, minor, micro, libcontainerVersion()))
	return hex.EncodeToString(sum[:8])
})

// pruneSeccompCache removes from dir the filters, and the marks of failed
// compiles, that an earlier environment left: after an upgrade of the
// kernel, libseccomp or agentd they would stay forever.
func pruneSeccompCache(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if ext := filepath.Ext(name); ext != ".bpf" && ext != ".err" || strings.HasPrefix(name, seccompEnv()+"-") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// libcontainerVersion is the version of runc's module this binary was built
// with, as its build information records it.
func libcontainerVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/opencontainers/runc" {
			if d.Replace != nil {
				d = d.Replace
			}
			return d.Version + " " + d.Sum
		}
	}
	return "unknown"
}

// validProgram checks that b holds a filter the kernel can take.
func validProgram(b []byte) error {
	const size = int(unsafe.Sizeof(unix.SockFilter{}))
	if len(b) == 0 || len(b)%size != 0 || len(b)/size > 4096 {
		return fmt.Errorf("a seccomp filter of %d bytes is not 1 to 4096 instructions", len(b))
	}
	return nil
}

// compileSeccomp has a child process (this binary as "init", see
// compileMain) load the profile with libcontainer's InitSeccomp, and reads
// the filter the kernel installed back from it.
func compileSeccomp(profile []byte) (_ []byte, retErr error) {
	// The thread that attaches with ptrace must be the one that reads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("/proc/self/exe", "init")
	cmd.Env = []string{compileEnv + "=1"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: %w", err)
	}
	timer := time.AfterFunc(compileTimeout, func() { _ = cmd.Process.Kill() })
	defer func() {
		timer.Stop()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if retErr != nil && stderr.Len() > 0 {
			retErr = fmt.Errorf("%w (%s)", retErr, strings.TrimSpace(stderr.String()))
		}
	}()
	if _, err := stdin.Write(profile); err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: %w", err)
	}
	// stdin stays open: the child waits for its end before it exits.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: the child ended: %w", err)
	}
	tid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: %s", strings.TrimSpace(line))
	}
	return loadedSeccomp(tid)
}

// loadedSeccomp returns the newest seccomp filter of thread tid (another
// process's; a container's init is its process ID), as the kernel holds it:
// struct sock_filter[] in the machine's byte order. It needs
// CAP_SYS_ADMIN, and stops the thread for as long as it reads.
func loadedSeccomp(tid int) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceAttach(tid); err != nil {
		return nil, fmt.Errorf("reading the seccomp filter of %d: ptrace: %w", tid, err)
	}
	defer unix.PtraceDetach(tid)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(tid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the seccomp filter of %d: wait: %w", tid, err)
		}
		break
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("reading the seccomp filter of %d: it ended (%v) instead of stopping", tid, ws)
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(tid), 0, 0, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("reading the seccomp filter of %d: PTRACE_SECCOMP_GET_FILTER: %w", tid, errno)
	}
	if n == 0 || n > 4096 {
		return nil, fmt.Errorf("reading the seccomp filter of %d: %d instructions", tid, n)
	}
	prog := make([]unix.SockFilter, n)
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, ptraceSeccompGetFilter, uintptr(tid), 0, uintptr(unsafe.Pointer(&prog[0])), 0, 0); errno != 0 {
		return nil, fmt.Errorf("reading the seccomp filter of %d: PTRACE_SECCOMP_GET_FILTER: %w", tid, errno)
	}
	b := make([]byte, 0, len(prog)*8)
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b, nil
}

// compileMain is the child of compileSeccomp: it loads the profile on its
// stdin with libcontainer's InitSeccomp into its main thread, writes that
// thread's ID and waits for its stdin to end.
func compileMain() {
	runtime.LockOSThread()
	fail := func(err error) {
		fmt.Fprintf(os.Stdout, "%v\n", err)
		os.Exit(1)
	}
	var cfg configs.Seccomp
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		fail(fmt.Errorf("decoding the profile: %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail(err)
	}
	tid := unix.Gettid()
	if _, err := seccomp.InitSeccomp(&cfg); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stdout, "%d\n", tid)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// execHelper is what one start through corral-exec holds: the files the
// container's init inherits and the read end of the status pipe.
type execHelper struct {
	files  []*os.File // fds 3, 4, 5 of the init: the helper, the filter, the status pipe
	status *os.File
}

// prepareExecHelper sets p up to execute corral-exec (helper, from
// sealHelper; the returned execHelper owns it), which loads the filter prog
// with flags and executes p's command.
func prepareExecHelper(p *libcontainer.Process, helper *os.File, prog []byte, flags uint) (_ *execHelper, retErr error) {
	h := &execHelper{files: []*os.File{helper}}
	defer func() {
		if retErr != nil {
			h.close()
		}
	}()
	filterR, filterW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	h.files = append(h.files, filterR)
	// At most 32 KiB, within a pipe's buffer.
	_, err = filterW.Write(prog)
	filterW.Close()
	if err != nil {
		return nil, fmt.Errorf("passing the seccomp filter: %w", err)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	h.status = statusR
	h.files = append(h.files, statusW)
	p.ExtraFiles = h.files
	p.Args = append([]string{"/proc/self/fd/3", strconv.FormatUint(uint64(flags), 10)}, p.Args...)
	return h, nil
}

// sealHelper opens helper so that nothing in a container can write the
// host's file through /proc/<pid>/exe while corral-exec runs
// (CVE-2019-5736): through a detached read-only bind mount of it, which
// costs no copy, or else as a sealed copy in memory (about 1 ms for its
// 2 MB).
func sealHelper(helper, tmpDir string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, helper, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
			return os.NewFile(uintptr(fd), helper), nil
		}
		unix.Close(fd)
	}
	f, err := os.Open(helper)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sealed, err := exeseal.CloneBinary(f, info.Size(), ExecHelperName, tmpDir)
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", helper, err)
	}
	return sealed, nil
}

// started closes this process's copies of the init's files.
func (h *execHelper) started() {
	closeAll(h.files...)
	h.files = nil
}

// wait waits until corral-exec has executed the command, and returns its
// error when it could not. The init ending early reads the same as success:
// Wait reports how it ended.
//
// A deadline that passes means a slow start, not a failed one: the status
// pipe is then read on until corral-exec executes the command or reports
// why it could not, which late delivers, and h no longer owns the pipe.
func (h *execHelper) wait() (late <-chan string, err error) {
	_ = h.status.SetReadDeadline(time.Now().Add(execStatusWait))
	msg, rerr := io.ReadAll(h.status)
	if len(msg) > 0 {
		return nil, errors.New(string(msg))
	}
	if !errors.Is(rerr, os.ErrDeadlineExceeded) {
		return nil, nil
	}
	ch := make(chan string, 1)
	status := h.status
	h.status = nil
	go func() {
		defer status.Close()
		_ = status.SetReadDeadline(time.Time{})
		msg, _ := io.ReadAll(status)
		ch <- string(msg)
	}()
	return ch, nil
}

func (h *execHelper) close() {
	closeAll(h.files...)
	closeAll(h.status)
}
