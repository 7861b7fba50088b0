// Package cnitest builds Corral's CNI plugins for tests, as make build does.
package cnitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"corral/cni/etcdrpc"
)

// Packages maps each binary make build installs in the CNI plugin
// directory to its package.
var Packages = map[string]string{
	"corral-macvlan":   "corral/cni/macvlan",
	"corral-ipam":      "corral/cni/ipam",
	etcdrpc.HelperName: "corral/cni/ipametcd", // corral-ipam runs it when it needs etcd
}

// Build builds the named binaries (all of Packages when none are named)
// into dir, static and without cgo as make build does.
func Build(dir string, names ...string) error {
	if len(names) == 0 {
		for name := range Packages {
			names = append(names, name)
		}
	}
	for _, name := range names {
		pkg, ok := Packages[name]
		if !ok {
			return fmt.Errorf("no CNI plugin %q", name)
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}
