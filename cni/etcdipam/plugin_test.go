package etcdipam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	clientv3 "go.etcd.io/etcd/client/v3"

	"corral/masterd/state/statetest"
)

// env is a real embedded etcd and the netconfs that point at it.
type env struct {
	cli *clientv3.Client
	url string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e, url := statetest.Start(t)
	return &env{cli: e.Client, url: url}
}

// args is a CNI invocation for container cid's ifname on host, with the
// ipam section changed by set (see netconf).
func (e *env) args(t testing.TB, host, cid, ifname string, set map[string]any) *skel.CmdArgs {
	t.Helper()
	s := map[string]any{"host": host}
	for k, v := range set {
		s[k] = v
	}
	return &skel.CmdArgs{ContainerID: cid, IfName: ifname, Netns: "/var/run/netns/" + cid, Path: "/opt/cni/bin", StdinData: netconf(t, e.url, s)}
}

// keys lists the keys under prefix.
func (e *env) keys(t testing.TB, prefix string) []string {
	t.Helper()
	resp, err := e.cli.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("listing %s: %v", prefix, err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

// add runs ADD and returns the one address it reserved.
func add(t testing.TB, args *skel.CmdArgs) netip.Prefix {
	t.Helper()
	r, err := Add(context.Background(), args)
	if err != nil {
		t.Fatalf("Add(%s/%s): %v", args.ContainerID, args.IfName, err)
	}
	if len(r.IPs) != 1 {
		t.Fatalf("Add(%s/%s) = %d IPs, want 1", args.ContainerID, args.IfName, len(r.IPs))
	}
	return ipPrefix(t, r.IPs[0])
}

func ipPrefix(t testing.TB, ip *current.IPConfig) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(ip.Address.String())
	if err != nil {
		t.Fatalf("result address %v: %v", ip.Address, err)
	}
	return p
}

// wantCode fails unless err is a CNI error with code.
func wantCode(t testing.TB, what string, err error, code uint) *types.Error {
	t.Helper()
	var te *types.Error
	if !errors.As(err, &te) || te.Code != code {
		t.Fatalf("%s = %v, want CNI error code %d", what, err, code)
	}
	return te
}

func TestConcurrentAddsFromFourHosts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(host int) map[string]any
		subnet string
	}{
		{"roomy subnet, /26 blocks", func(int) map[string]any { return nil }, "10.20.0.0/16"},
		// 16 blocks of 16 for 200 addresses: hosts run out of blocks of
		// their own and borrow from each other's.
		{"tight subnet, /28 blocks", func(int) map[string]any {
			return map[string]any{"subnet": "10.40.0.0/24", "gateway": "10.40.0.1", "blockSize": 28}
		}, "10.40.0.0/24"},
		// Misconfigured hosts whose blocks overlap allocate the same
		// addresses; the per-address compare-and-swap keeps them apart.
		{"hosts disagree on blockSize", func(h int) map[string]any {
			return map[string]any{"subnet": "10.40.0.0/24", "gateway": "10.40.0.1", "blockSize": 24 + 2*(h%2)}
		}, "10.40.0.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			const hosts, perHost = 4, 50
			got := make([]netip.Prefix, hosts*perHost)
			errs := make([]error, hosts*perHost)
			var wg sync.WaitGroup
			for h := range hosts {
				for i := range perHost {
					wg.Go(func() {
						args := e.args(t, fmt.Sprintf("host-%d", h), fmt.Sprintf("c-%d-%d", h, i), "eth0", tc.set(h))
						r, err := Add(context.Background(), args)
						if err != nil {
							errs[h*perHost+i] = err
							return
						}
						got[h*perHost+i], errs[h*perHost+i] = netip.ParsePrefix(r.IPs[0].Address.String())
					})
				}
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent ADDs: %v", err)
			}
			subnet := netip.MustParsePrefix(tc.subnet)
			gateway := subnet.Addr().Next()
			seen := map[netip.Addr]int{}
			for i, p := range got {
				a := p.Addr()
				if j, dup := seen[a]; dup {
					t.Errorf("containers %d and %d both got %s", j, i, a)
				}
				seen[a] = i
				if p.Bits() != subnet.Bits() || !subnet.Contains(a) || a == subnet.Addr() || a == gateway || a == lastAddr(subnet) {
					t.Errorf("container %d got %s, want a host address of %s other than gateway %s", i, p, subnet, gateway)
				}
			}
			prefix := "/corral/ipam/testnet/"
			for _, kind := range []string{"ips/", "attachments/"} {
				if n := len(e.keys(t, prefix+kind)); n != hosts*perHost {
					t.Errorf("%d keys under %s, want %d", n, prefix+kind, hosts*perHost)
				}
			}
			t.Logf("%d distinct addresses, %d blocks claimed", len(seen), len(e.keys(t, prefix+"blocks/")))
		})
	}
}

func TestAddIsIdempotentAndDelReleases(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := add(t, e.args(t, "host-a", "c1", "eth0", nil))
	if want := netip.MustParsePrefix("10.20.0.2/16"); first != want {
		t.Errorf("first ADD = %s, want %s (network and gateway skipped)", first, want)
	}
	if again := add(t, e.args(t, "host-a", "c1", "eth0", nil)); again != first {
		t.Errorf("second ADD of c1/eth0 = %s, want %s", again, first)
	}
	if other := add(t, e.args(t, "host-a", "c1", "net1", nil)); other == first {
		t.Errorf("ADD of c1/net1 = %s, the address of c1/eth0", other)
	}
	// Container IDs are a runtime's, so unique per host only.
	if elsewhere := add(t, e.args(t, "host-b", "c1", "eth0", nil)); elsewhere == first {
		t.Errorf("ADD of c1/eth0 on host-b = %s, the address of c1/eth0 on host-a", elsewhere)
	}
	for i := range 2 {
		if err := Del(ctx, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
			t.Fatalf("DEL %d of c1/eth0: %v", i+1, err)
		}
	}
	if err := Del(ctx, e.args(t, "host-a", "never-added", "eth0", nil)); err != nil {
		t.Errorf("DEL of an unknown container: %v", err)
	}
	if keys := e.keys(t, "/corral/ipam/testnet/ips/"+sortableAddr(first.Addr())); len(keys) != 0 {
		t.Errorf("after DEL, %v still reserved", keys)
	}
	if after := add(t, e.args(t, "host-a", "c2", "eth0", nil)); after != first {
		t.Errorf("ADD after DEL = %s, want the freed %s", after, first)
	}
	// DEL on another host leaves host-a's reservation alone.
	if err := Del(ctx, e.args(t, "host-b", "c2", "eth0", nil)); err != nil {
		t.Fatalf("DEL on host-b: %v", err)
	}
	if err := Check(ctx, e.args(t, "host-a", "c2", "eth0", nil)); err != nil {
		t.Errorf("CHECK of c2 on host-a after DEL on host-b: %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		version string
		want    string
	}{
		{"1.1.0", `{"cniVersion":"1.1.0","ips":[{"address":"10.20.0.2/16","gateway":"10.20.0.1"}],"routes":[{"dst":"0.0.0.0/0"}]}`},
		{"0.4.0", `{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.20.0.2/16","gateway":"10.20.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			var out bytes.Buffer
			p := &Plugin{Stdout: &out}
			args := e.args(t, "host-a", "c1", "eth0", map[string]any{".cniVersion": tc.version})
			if err := p.Funcs(context.Background()).Add(args); err != nil {
				t.Fatalf("ADD: %v", err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, out.Bytes()); err != nil {
				t.Fatalf("result %q: %v", out.String(), err)
			}
			if compact.String() != tc.want {
				t.Errorf("result = %s, want %s", compact.String(), tc.want)
			}
		})
	}
}

func TestDualStack(t *testing.T) {
	e := newEnv(t)
	set := map[string]any{"subnet": nil, "gateway": nil, "blockSize": nil, "ranges": [][]map[string]any{
		{{"subnet": "10.50.0.0/24", "rangeStart": "10.50.0.100"}},
		{{"subnet": "fd50::/64", "gateway": "fd50::fffe"}},
	}}
	r, err := Add(context.Background(), e.args(t, "host-a", "c1", "eth0", set))
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	var got []string
	for _, ip := range r.IPs {
		got = append(got, ip.Address.String()+" via "+ip.Gateway.String())
	}
	if want := "10.50.0.100/24 via 10.50.0.1,fd50::1/64 via fd50::fffe"; strings.Join(got, ",") != want {
		t.Errorf("ADD = %v, want %s", got, want)
	}
	if blocks := e.keys(t, "/corral/ipam/testnet/blocks/"); strings.Join(blocks, ",") != "/corral/ipam/testnet/blocks/10.50.0.64-26,/corral/ipam/testnet/blocks/fd50::-122" {
		t.Errorf("blocks = %v", blocks)
	}
	if err := Del(context.Background(), e.args(t, "host-a", "c1", "eth0", set)); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if keys := e.keys(t, "/corral/ipam/testnet/ips/"); len(keys) != 0 {
		t.Errorf("after DEL: %v", keys)
	}
}

func TestGC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	addrs := map[string]netip.Prefix{}
	for _, a := range []struct{ host, cid, ifname string }{
		{"host-a", "keep", "eth0"}, {"host-a", "keep", "net1"}, {"host-a", "gone", "eth0"}, {"host-a", "also-gone", "eth0"},
		{"host-b", "theirs", "eth0"},
	} {
		addrs[a.host+"/"+a.cid+"/"+a.ifname] = add(t, e.args(t, a.host, a.cid, a.ifname, nil))
	}
	other := add(t, e.args(t, "host-a", "other-net", "eth0", map[string]any{".name": "othernet"}))

	gc := e.args(t, "host-a", "", "", map[string]any{".cni.dev/valid-attachments": []map[string]string{
		{"containerID": "keep", "ifname": "eth0"},
		{"containerID": "gone", "ifname": "net1"}, // another interface of "gone"
	}})
	gc.ContainerID, gc.IfName = "", ""
	if err := GC(ctx, gc); err != nil {
		t.Fatalf("GC: %v", err)
	}
	for key, want := range map[string]bool{
		"host-a/keep/eth0": true, "host-a/keep/net1": false, "host-a/gone/eth0": false, "host-a/also-gone/eth0": false,
		"host-b/theirs/eth0": true, // a runtime lists only its own host's containers
	} {
		held := len(e.keys(t, "/corral/ipam/testnet/ips/"+sortableAddr(addrs[key].Addr()))) == 1
		attached := len(e.keys(t, "/corral/ipam/testnet/attachments/"+key)) == 1
		if held != want || attached != want {
			t.Errorf("after GC, %s reserved %v attached %v, want %v", key, held, attached, want)
		}
	}
	if len(e.keys(t, "/corral/ipam/othernet/ips/"+sortableAddr(other.Addr()))) != 1 {
		t.Errorf("GC of testnet released %s of othernet", other)
	}

	// With nothing valid, the host keeps nothing, not even its empty block.
	gc = e.args(t, "host-a", "", "", nil)
	if err := GC(ctx, gc); err != nil {
		t.Fatalf("second GC: %v", err)
	}
	if keys := e.keys(t, "/corral/ipam/testnet/attachments/host-a/"); len(keys) != 0 {
		t.Errorf("after GC with no valid attachments: %v", keys)
	}
	for _, b := range blockOwners(t, e, "testnet") {
		if b == "host-a" {
			t.Errorf("after GC host-a still claims a block: %v", blockOwners(t, e, "testnet"))
		}
	}
}

// blockOwners maps each claimed block of network to its host.
func blockOwners(t testing.TB, e *env, network string) map[string]string {
	t.Helper()
	prefix := "/corral/ipam/" + network + "/blocks/"
	resp, err := e.cli.Get(context.Background(), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		var c claim
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(string(kv.Key), prefix)] = c.Host
	}
	return out
}

func TestInvalidConfigAllocatesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			args := e.args(t, "host-a", "c1", "eth0", tc.set)
			if tc.raw != "" {
				args.StdinData = []byte(tc.raw)
			}
			for cmd, run := range map[string]func() error{
				"ADD":    func() error { _, err := Add(ctx, args); return err },
				"DEL":    func() error { return Del(ctx, args) },
				"CHECK":  func() error { return Check(ctx, args) },
				"GC":     func() error { return GC(ctx, args) },
				"STATUS": func() error { return Status(ctx, args) },
			} {
				te := wantCode(t, cmd, run(), tc.code)
				if !strings.Contains(te.Error(), tc.want) {
					t.Errorf("%s = %v, want it to say %q", cmd, te, tc.want)
				}
			}
		})
	}
	if keys := e.keys(t, ""); len(keys) != 0 {
		t.Errorf("invalid configs left keys in etcd: %v", keys)
	}
}

func TestExhaustionAndBorrowing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// 10.30.0.0/29 in /30 blocks: .0/30 holds .2 .3 (network, gateway .1),
	// .4/30 holds .4 .5 .6 (broadcast .7).
	set := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30}
	var got []string
	for i, host := range []string{"host-a", "host-a", "host-a", "host-b", "host-b"} {
		got = append(got, add(t, e.args(t, host, fmt.Sprint("c", i), "eth0", set)).String())
	}
	if want := "10.30.0.2/29 10.30.0.3/29 10.30.0.4/29 10.30.0.5/29 10.30.0.6/29"; strings.Join(got, " ") != want {
		t.Errorf("addresses = %v, want %s", got, want)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[10.30.0.0-30:host-a 10.30.0.4-30:host-a]" {
		t.Errorf("blocks = %s, want both host-a's (host-b borrowed)", owners)
	}
	_, err := Add(ctx, e.args(t, "host-b", "c5", "eth0", set))
	te := wantCode(t, "ADD to a full range", err, CodeExhausted)
	if !strings.Contains(te.Details, "10.30.0.1-10.30.0.6") {
		t.Errorf("exhaustion error %q does not name the range", te)
	}
	wantCode(t, "STATUS of a full range", Status(ctx, e.args(t, "host-b", "", "", set)), CodeNotAvailable)
	if keys := e.keys(t, "/corral/ipam/testnet/attachments/host-b/c5"); len(keys) != 0 {
		t.Errorf("failed ADD left %v", keys)
	}
	if err := Del(ctx, e.args(t, "host-a", "c1", "eth0", set)); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if err := Status(ctx, e.args(t, "host-b", "", "", set)); err != nil {
		t.Errorf("STATUS with a free address: %v", err)
	}
	if a := add(t, e.args(t, "host-b", "c5", "eth0", set)); a.String() != "10.30.0.3/29" {
		t.Errorf("ADD after DEL = %s, want the freed 10.30.0.3/29", a)
	}
}

// A host that crashes keeps its reservations: its containers may still be
// running behind a partition, so their addresses are never handed out
// again until DEL or GC. Blocks it claimed but left empty are taken over.
func TestCrashedHost(t *testing.T) {
	e := newEnv(t)
	set := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30}
	held := add(t, e.args(t, "dead", "c0", "eth0", set)) // 10.30.0.2 in block .0/30
	// The dead host also claimed .4/30 and crashed before reserving in it.
	ok, err := NewStore(e.cli, "/corral/ipam/testnet/", "dead", nil).claim(context.Background(), netip.MustParsePrefix("10.30.0.4/30"), 0)
	if err != nil || !ok {
		t.Fatalf("claim for the dead host = %v, %v", ok, err)
	}
	var got []string
	for i := range 4 {
		got = append(got, add(t, e.args(t, "live", fmt.Sprint("c", i), "eth0", set)).String())
	}
	if want := "10.30.0.4/29 10.30.0.5/29 10.30.0.6/29 10.30.0.3/29"; strings.Join(got, " ") != want {
		t.Errorf("live host got %v, want %s (the empty block taken over, then a borrowed address)", got, want)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[10.30.0.0-30:dead 10.30.0.4-30:live]" {
		t.Errorf("blocks = %s", owners)
	}
	_, err = Add(context.Background(), e.args(t, "live", "c4", "eth0", set))
	wantCode(t, fmt.Sprintf("ADD while the dead host holds %s", held), err, CodeExhausted)
	// An operator releases the dead host's reservations with GC as that host.
	if err := GC(context.Background(), e.args(t, "dead", "", "", set)); err != nil {
		t.Fatalf("GC as the dead host: %v", err)
	}
	if a := add(t, e.args(t, "live", "c4", "eth0", set)); a != held {
		t.Errorf("ADD after GC = %s, want %s", a, held)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := add(t, e.args(t, "host-a", "c1", "eth0", nil))
	if err := Check(ctx, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	prev := func(addr string) map[string]any {
		return map[string]any{".prevResult": map[string]any{"cniVersion": "1.1.0", "ips": []map[string]string{{"address": addr}}}}
	}
	if err := Check(ctx, e.args(t, "host-a", "c1", "eth0", prev(a.String()))); err != nil {
		t.Errorf("CHECK with a matching prevResult: %v", err)
	}
	wantCode(t, "CHECK with a prevResult without the address", Check(ctx, e.args(t, "host-a", "c1", "eth0", prev("10.20.9.9/16"))), CodeNoReservation)
	wantCode(t, "CHECK of another interface", Check(ctx, e.args(t, "host-a", "c1", "net1", nil)), CodeNoReservation)
	wantCode(t, "CHECK on another host", Check(ctx, e.args(t, "host-b", "c1", "eth0", nil)), CodeNoReservation)

	// Someone overwrote the address's reservation.
	if _, err := e.cli.Put(ctx, "/corral/ipam/testnet/ips/"+sortableAddr(a.Addr()), `{"host":"x","containerID":"y","ifname":"z"}`); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CHECK of an overwritten reservation", Check(ctx, e.args(t, "host-a", "c1", "eth0", nil)), CodeNoReservation)
	if err := Del(ctx, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CHECK after DEL", Check(ctx, e.args(t, "host-a", "c1", "eth0", nil)), CodeNoReservation)
}

func TestEtcdUnreachable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	proxy := statetest.StartProxy(t, e.url)
	through := func(cid string) *skel.CmdArgs {
		return e.args(t, "host-a", cid, "eth0", map[string]any{"etcdEndpoints": []string{proxy.URL}, "timeout": "1s"})
	}
	if err := Status(ctx, through("")); err != nil {
		t.Fatalf("STATUS with etcd up: %v", err)
	}
	add(t, through("c1"))
	proxy.Cut()
	te := wantCode(t, "STATUS with etcd away", Status(ctx, through("")), CodeNotAvailable)
	if !strings.Contains(te.Msg, "etcd unreachable") {
		t.Errorf("STATUS = %v, want it to say etcd is unreachable", te)
	}
	_, err := Add(ctx, through("c2"))
	wantCode(t, "ADD with etcd away", err, types.ErrTryAgainLater)
	wantCode(t, "DEL with etcd away", Del(ctx, through("c1")), types.ErrTryAgainLater)
}
