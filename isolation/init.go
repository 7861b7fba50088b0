package isolation

import (
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
func Init() {
	libcontainer.Init()
}
