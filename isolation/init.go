package isolation

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"

	// Device rules in the container's cgroup need the device controller
	// code (v1 devices.allow, v2 eBPF), which is opt-in.
	_ "github.com/opencontainers/cgroups/devices"
	// nsenter's C constructor joins and creates the namespaces before the Go
	// runtime starts in "<binary> init"; it needs cgo.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// Init turns this process into a container's init: libcontainer re-executes
// the binary that called Runtime.Start as "<binary> init", and that binary
// must call Init from an init function when os.Args[1] == "init", before
// anything else runs (as runc's own init.go does). Init does not return.
//
// In the other case the same init function should call
// runtime.LockOSThread, pinning the main goroutine to the main thread.
// Runtime.Start has libcontainer run a goroutine that locks its thread,
// joins the new container's mount namespace and exits without unlocking,
// so Go retires the thread; but Go cannot retire the main thread and parks
// it instead, for good, inside that namespace. The namespace and the mounts
// it holds then outlive the container until the process exits, and
// /proc/self/mountinfo shows them. Pinning keeps the main thread busy.
//
//	func init() {
//		if len(os.Args) > 1 && os.Args[1] == "init" {
//			isolation.Init()
//		}
//		runtime.LockOSThread()
//	}
//
// The same call serves the child that compiles a seccomp filter for the
// runtime (see seccompexec.go).
func Init() {
	if os.Getenv(compileEnv) != "" {
		compileMain()
	}
	libcontainer.Init()
}
