// Command corral-exec loads a container's seccomp filter, compiled ahead of
// time, and executes the task's command. It is the last step of a
// container's start when package isolation found it next to the shim's
// executable: libcontainer's init sets the container up (mounts,
// no_new_privs, capabilities, user) and executes this program where it
// would otherwise compile the filter with libseccomp itself (several ms of
// CPU per container) and execute the command. The filter is the program
// libcontainer's own code compiled for the profile, once (see
// isolation/seccompexec.go).
//
// It is started as `/proc/self/fd/3 <flags> <command> <args>...`, flags
// being those of seccomp(2) in decimal, as the init would pass them, with
//
//	fd 3  this program, through a detached read-only mount of the
//	      installed file (or a sealed copy in memory); closed at once
//	fd 4  the filter: struct sock_filter[], as prctl(PR_SET_SECCOMP) takes it
//	fd 5  the status pipe: an error is written there before exiting 127;
//	      it is close-on-exec, so the shim reads end of file once the
//	      command runs
//
// and resolves the command as libcontainer's init does (exec.LookPath with
// the task's PATH, inside the container's root), before it loads the filter,
// then executes it with the same environment.
//
// It must be a static binary, as the container's root may hold no libc:
// it imports no package that needs cgo, so go build links it statically.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The file descriptors isolation.Runtime.Start passes (see above).
const (
	selfFD   = 3
	filterFD = 4
	statusFD = 5
)

// maxInstructions is the kernel's bound on a filter (BPF_MAXINSNS).
const maxInstructions = 4096

// init makes the process undumpable before anything else of this program
// runs: until the filter is loaded, nothing (a host process of the task's
// uid, say) may ptrace it or read its memory, as libcontainer's init is
// undumpable up to the same point. The command's execve resets it as usual.
func init() {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

func main() {
	// The filter binds the thread that loads it, and execve keeps only the
	// calling thread's: both happen on this one.
	runtime.LockOSThread()
	err := errors.New("corral-exec: usage: corral-exec <seccomp flags> <command> [<arg>...]")
	if len(os.Args) > 2 {
		err = run(os.Args[1], os.Args[2:])
	}
	// Only a failure comes back here.
	status := os.NewFile(statusFD, "status")
	fmt.Fprintf(status, "%v", err)
	os.Exit(127)
}

func run(flagArg string, argv []string) error {
	_ = unix.Close(selfFD)
	flags, err := strconv.ParseUint(flagArg, 10, 32)
	if err != nil {
		return fmt.Errorf("corral-exec: invalid seccomp flags %q", flagArg)
	}
	prog, err := readFilter(os.NewFile(filterFD, "filter"))
	if err != nil {
		return err
	}
	// libcontainer's init resolves the command before it loads the filter,
	// with the same function, so a missing command reads the same.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(statusFD, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return fmt.Errorf("corral-exec: status pipe: %w", err)
	}
	// The init has set no_new_privs already; without it (or CAP_SYS_ADMIN)
	// the kernel refuses the filter, so say it again rather than depend on
	// it.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("corral-exec: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		// isolation.filterLoadFailed: the runtime drops its cached copy.
		return fmt.Errorf("corral-exec: loading the seccomp filter: %w", errno)
	}
	runtime.KeepAlive(prog)
	err = unix.Exec(path, argv, os.Environ())
	return fmt.Errorf("exec %s: %w", path, err)
}

// readFilter reads the whole filter from f and closes it.
func readFilter(f *os.File) ([]unix.SockFilter, error) {
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("corral-exec: reading the seccomp filter: %w", err)
	}
	const size = int(unsafe.Sizeof(unix.SockFilter{}))
	if len(b) == 0 || len(b)%size != 0 || len(b)/size > maxInstructions {
		return nil, fmt.Errorf("corral-exec: the seccomp filter is %d bytes, not 1 to %d instructions of %d bytes", len(b), maxInstructions, size)
	}
	prog := make([]unix.SockFilter, len(b)/size)
	for i := range prog {
		in := b[i*size:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(in[0:]),
			Jt:   in[2],
			Jf:   in[3],
			K:    binary.NativeEndian.Uint32(in[4:]),
		}
	}
	return prog, nil
}
