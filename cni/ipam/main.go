// Command corral-ipam is a CNI IPAM plugin that allocates addresses of one
// subnet to the containers of every host, keeping its reservations in etcd.
// See cni/etcdipam and this directory's README.
//
// It never enters a network namespace, so unlike an interface plugin it
// does not lock its OS thread in init. It does not speak HTTP either: the
// few commands that ask etcd something do it through corral-ipam-etcd
// (cni/ipametcd), which it starts then, so that the others do not pay for
// net/http and crypto/tls at start-up (see cni/etcdrpc).
package main

import (
	"context"
	"log"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"corral/cni/etcdipam"
)

func main() {
	p := &etcdipam.Plugin{Stdout: os.Stdout, Etcd: etcdipam.HelperDial}
	var e *types.Error
	if os.Getenv("CNI_COMMAND") == "VERSION" {
		e = p.Version(os.Stdin, version.All) // echoes the caller's cniVersion, which skel does not
	} else {
		e = skel.PluginMainFuncsWithError(p.Funcs(context.Background()), version.All, "CNI plugin corral-ipam: cluster-wide IPAM in etcd")
	}
	if e != nil {
		if err := p.PrintError(e); err != nil {
			log.Print("writing error JSON to stdout: ", err)
		}
		os.Exit(1)
	}
}
