// Command corral-shim is agentd's per-task shim (package corral/agentd/shim)
// as a binary of its own: `corral-shim shim <run dir>`, started by agentd,
// and `corral-shim init`, the container's first process, re-executed by
// libcontainer from the shim's own binary. Every task starts both, so this
// binary carries the shim and libcontainer only, not agentd's HTTP, metrics,
// network and image code: it is smaller, runs fewer package initialisers
// and starts faster (bench/RESULTS.md, "Launch path: container side").
// agentd uses it when it lies next to agentd's executable, and re-executes
// itself as `agentd shim` otherwise.
package main

import (
	"fmt"
	"os"
	"runtime"

	"corral/agentd/shim"
	"corral/isolation"
)

// init serves libcontainer's re-exec, as agentd's does: `corral-shim init`
// sets up the container before any other Go code runs.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		isolation.Init()
	}
	// Keep libcontainer's namespace-joining goroutines off the main thread
	// (see isolation.Init).
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "shim" {
		fmt.Fprintln(os.Stderr, "usage: corral-shim shim <run dir> (started by agentd)")
		os.Exit(2)
	}
	os.Exit(shim.Main(os.Args[2:]))
}
