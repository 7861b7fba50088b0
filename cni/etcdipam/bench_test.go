package etcdipam

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"corral/cni/etcdgw"
)

// BenchmarkAddDel measures one ADD and its DEL against an embedded etcd:
// "store" on one etcd connection (the allocator alone), "command" through
// Add and Del, which load the netconf and connect to etcd each time as the
// binary does (the binary's own figure, exec included, is cni/ipam's
// BenchmarkAddDel).
func BenchmarkAddDel(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.Run("store", func(b *testing.B) {
		n, err := loadNetwork(netconf(b, e.url, map[string]any{".name": "bench-store"}))
		if err != nil {
			b.Fatal(err)
		}
		s := newStore(etcdTestClient(b, e), n.prefix, n.IPAM.Host, n.sets, filepath.Join(e.dir, "bench-store"))
		for i := 0; b.Loop(); i++ {
			a := Attachment{ContainerID: fmt.Sprint("c", i), IfName: "eth0"}
			if _, err := s.Allocate(ctx, a); err != nil {
				b.Fatal(err)
			}
			if err := s.Release(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("command", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			args := e.args(b, "host-a", fmt.Sprint("c", i), "eth0", map[string]any{".name": "bench-command"})
			if _, err := Add(ctx, etcdgw.Dial, args); err != nil {
				b.Fatal(err)
			}
			if err := Del(ctx, etcdgw.Dial, args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
