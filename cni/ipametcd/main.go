// Command corral-ipam-etcd makes corral-ipam's requests to etcd's JSON
// gateway, with net/http and crypto/tls, which corral-ipam does not link:
// corral-ipam starts it when a command needs etcd (a new block, GC,
// CHECK, STATUS, the first command after a reboot) and writes it the
// etcd configuration and the requests on stdin; it answers on stdout and
// exits at the end of its input. It is not meant to be run by hand; see
// cni/etcdrpc.
package main

import (
	"log"
	"os"

	"corral/cni/etcdgw"
	"corral/cni/etcdrpc"
)

func main() {
	if err := etcdrpc.Serve(os.Stdin, os.Stdout, etcdgw.Dial); err != nil {
		log.Fatalf("%s: %v", etcdrpc.HelperName, err)
	}
}
