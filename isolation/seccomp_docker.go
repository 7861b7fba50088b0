package isolation

// Docker's default seccomp profile and capability set, as data.
//
// Source: the Moby project, github.com/moby/moby, profiles/seccomp/default.json
// at commit 00f3d189e420d485e42d15fe494f96d272284e0e (the profile dockerd
// applies to every container, and that containerd and Podman ship as their
// default too), and the capability list of moby's oci/caps/defaults.go.
// License: Apache License 2.0, Copyright Docker, Inc. and the Moby authors
// (https://www.apache.org/licenses/LICENSE-2.0). The rules are reproduced in
// the profile's order; "caps"/"arches"/"minKernel" are its includes and
// "notCaps"/"notArches" its excludes, resolved by defaultSeccomp.

import "github.com/opencontainers/runtime-spec/specs-go"

// DefaultCapabilities is Docker's default capability set: what a container
// started by dockerd holds, and what images are written to expect.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// The profile's errno values: everything not allowed fails with EPERM, and
// clone3 with ENOSYS so that glibc falls back to clone, whose flags the
// profile can inspect.
const (
	seccompEPERM  = 1
	seccompENOSYS = 38
)

// seccompRule is one entry of the profile's "syscalls". It applies only
// when the container holds every capability in caps and none in notCaps,
// runs on one of arches (when set) and none of notArches, on a kernel at
// least minKernel.
type seccompRule struct {
	names     []string
	action    specs.LinuxSeccompAction // "" is SCMP_ACT_ALLOW
	errnoRet  uint
	args      []specs.LinuxSeccompArg
	caps      []string
	notCaps   []string
	arches    []string // moby's native names: amd64, x32, x86, arm, arm64, ppc64le, s390, s390x, riscv64
	notArches []string
	minKernel kernelVersion
}

// seccompArchMap is the profile's "archMap": the seccomp architectures a
// filter on a GOARCH covers, its compat ABIs included (32-bit x86 and x32
// binaries on amd64; DefaultSeccomp leaves x32 out where the kernel lacks it).
var seccompArchMap = map[string][]specs.Arch{
	"amd64":    {specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	"arm64":    {specs.ArchAARCH64, specs.ArchARM},
	"mips64":   {specs.ArchMIPS64, specs.ArchMIPS, specs.ArchMIPS64N32},
	"mips64le": {specs.ArchMIPSEL64, specs.ArchMIPSEL, specs.ArchMIPSEL64N32},
	"s390x":    {specs.ArchS390X, specs.ArchS390},
	"riscv64":  {specs.ArchRISCV64},
}

// nativeArch is moby's name for a GOARCH, the name rules' arches use.
var nativeArch = map[string]string{
	"386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64",
	"mips64": "mips64", "mips64le": "mips64le", "mipsle": "mipsle",
	"ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le",
	"riscv64": "riscv64", "s390": "s390", "s390x": "s390x",
}

// cloneNamespaceFlags are CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP:
// clone may create threads and processes, not namespaces.
const cloneNamespaceFlags = 2114060288

func argEq(index uint, value uint64) []specs.LinuxSeccompArg {
	return []specs.LinuxSeccompArg{{Index: index, Value: value, Op: specs.OpEqualTo}}
}

var dockerSeccompRules = []seccompRule{
	{names: []string{
		"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk",
		"capget", "capset", "chdir", "chmod", "chown", "chown32",
		"clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
		"clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
		"close", "close_range", "connect", "copy_file_range", "creat",
		"dup", "dup2", "dup3",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
		"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
		"eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
		"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
		"fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32",
		"fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
		"flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
		"fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
		"futex", "futex_time64", "futex_waitv", "futimesat",
		"getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
		"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
		"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
		"getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
		"getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
		"getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
		"getuid", "getuid32", "getxattr",
		"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
		"io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
		"io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
		"io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
		"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
		"lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
		"llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
		"madvise", "membarrier", "memfd_create", "memfd_secret", "mincore",
		"mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
		"mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
		"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
		"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
		"msgsnd", "msync", "munlock", "munlockall", "munmap",
		"name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
		"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
		"pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
		"ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
		"process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
		"pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
		"recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
		"removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
		"rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
		"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
		"rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
		"sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
		"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
		"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
		"seccomp", "select", "semctl", "semget", "semop", "semtimedop",
		"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
		"sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
		"setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority",
		"setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
		"setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
		"setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
		"setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
		"sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
		"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
		"statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
		"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
		"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
		"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
		"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
		"truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
		"utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
		"waitid", "waitpid", "write", "writev",
	}},
	// ptrace can bypass seccomp only before Linux 4.8.
	{names: []string{"process_vm_readv", "process_vm_writev", "ptrace"}, minKernel: kernelVersion{4, 8}},
	// Every socket family but AF_VSOCK (40).
	{names: []string{"socket"}, args: []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}},
	// personality: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query.
	{names: []string{"personality"}, args: argEq(0, 0)},
	{names: []string{"personality"}, args: argEq(0, 8)},
	{names: []string{"personality"}, args: argEq(0, 131072)},
	{names: []string{"personality"}, args: argEq(0, 131080)},
	{names: []string{"personality"}, args: argEq(0, 4294967295)},
	{names: []string{"sync_file_range2", "swapcontext"}, arches: []string{"ppc64le"}},
	{names: []string{"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
		arches: []string{"arm", "arm64"}},
	{names: []string{"arch_prctl"}, arches: []string{"amd64", "x32"}},
	{names: []string{"modify_ldt"}, arches: []string{"amd64", "x32", "x86"}},
	{names: []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, arches: []string{"s390", "s390x"}},
	{names: []string{"riscv_flush_icache"}, arches: []string{"riscv64"}},
	{names: []string{"open_by_handle_at"}, caps: []string{"CAP_DAC_READ_SEARCH"}},
	{names: []string{
		"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
		"setns", "syslog", "umount", "umount2", "unshare",
	}, caps: []string{"CAP_SYS_ADMIN"}},
	{names: []string{"clone"},
		args:    []specs.LinuxSeccompArg{{Index: 0, Value: cloneNamespaceFlags, Op: specs.OpMaskedEqual}},
		notCaps: []string{"CAP_SYS_ADMIN"}, notArches: []string{"s390", "s390x"}},
	// s390's clone takes the flags second.
	{names: []string{"clone"},
		args:    []specs.LinuxSeccompArg{{Index: 1, Value: cloneNamespaceFlags, Op: specs.OpMaskedEqual}},
		arches:  []string{"s390", "s390x"},
		notCaps: []string{"CAP_SYS_ADMIN"}},
	{names: []string{"clone3"}, action: specs.ActErrno, errnoRet: seccompENOSYS, notCaps: []string{"CAP_SYS_ADMIN"}},
	{names: []string{"reboot"}, caps: []string{"CAP_SYS_BOOT"}},
	{names: []string{"chroot"}, caps: []string{"CAP_SYS_CHROOT"}},
	{names: []string{"delete_module", "init_module", "finit_module"}, caps: []string{"CAP_SYS_MODULE"}},
	{names: []string{"acct"}, caps: []string{"CAP_SYS_PACCT"}},
	{names: []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
		caps: []string{"CAP_SYS_PTRACE"}},
	{names: []string{"iopl", "ioperm"}, caps: []string{"CAP_SYS_RAWIO"}},
	{names: []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}, caps: []string{"CAP_SYS_TIME"}},
	{names: []string{"vhangup"}, caps: []string{"CAP_SYS_TTY_CONFIG"}},
	{names: []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, caps: []string{"CAP_SYS_NICE"}},
	{names: []string{"syslog"}, caps: []string{"CAP_SYSLOG"}},
	{names: []string{"bpf"}, caps: []string{"CAP_BPF"}},
	{names: []string{"perf_event_open"}, caps: []string{"CAP_PERFMON"}},
}
