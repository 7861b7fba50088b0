// Command corral-macvlan is Corral's CNI plugin for macvlan networks: it gives
// a container an interface of its own on a parent link of the host (mode
// bridge, private, vepa or passthru), with addresses from a delegated IPAM
// plugin, following the CNI specification 1.1.0 (ADD, DEL, CHECK, STATUS,
// GC, VERSION). README.md describes the configuration and the error codes.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"corral/cni/netconf"
)

// supported are the specification versions the plugin speaks.
var supported = version.All

func init() {
	// Parts of the plugin switch the calling thread into the container's
	// network namespace and back (netlink.NewHandleAt, writeSysctls), and
	// skel compares CNI_NETNS with the calling thread's namespace. Pinning
	// main to the main thread keeps main in the plugin's own namespace
	// throughout and on the thread /proc/self names.
	runtime.LockOSThread()
}

func main() {
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		exit(types.NewError(types.ErrIOFailure, fmt.Sprintf("reading stdin: %v", err), ""), "")
	}
	if os.Getenv("CNI_COMMAND") == "VERSION" {
		printVersion(stdin)
		return
	}
	// skel reads the configuration from os.Stdin; give it the bytes read
	// here, which main needs too, for the cniVersion of an error.
	r, w, err := os.Pipe()
	if err != nil {
		exit(types.NewError(types.ErrIOFailure, fmt.Sprintf("passing stdin on: %v", err), ""), netconf.CNIVersion(stdin))
	}
	go func() {
		w.Write(stdin)
		w.Close()
	}()
	os.Stdin = r

	funcs := skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, Status: cmdStatus, GC: cmdGC}
	if e := skel.PluginMainFuncsWithError(funcs, supported, "CNI plugin corral-macvlan"); e != nil {
		exit(e, netconf.CNIVersion(stdin))
	}
}

// exit prints the error result the spec describes, which (unlike skel's)
// names the protocol version in use, and exits non-zero.
func exit(e *types.Error, cniVersion string) {
	out := struct {
		CNIVersion string `json:"cniVersion,omitempty"`
		Code       uint   `json:"code"`
		Msg        string `json:"msg"`
		Details    string `json:"details,omitempty"`
	}{cniVersion, e.Code, e.Msg, e.Details}
	b, _ := json.MarshalIndent(out, "", "    ")
	os.Stdout.Write(append(b, '\n'))
	os.Exit(1)
}

// printVersion answers VERSION. The spec has the reply echo the cniVersion
// of the request; skel always answers with its own latest version.
func printVersion(stdin []byte) {
	v := netconf.CNIVersion(stdin)
	if v == "" {
		v = version.Current()
	}
	b, _ := json.MarshalIndent(struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{v, supported.SupportedVersions()}, "", "    ")
	os.Stdout.Write(append(b, '\n'))
}
