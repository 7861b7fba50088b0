package etcdipam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	clientv3 "go.etcd.io/etcd/client/v3"

	"corral/cni/etcdgw"
	"corral/masterd/state/statetest"
)

// env is a real embedded etcd and the netconfs that point at it, with
// one data directory for the simulated hosts (each has its own under it,
// <dataDir>/<network>/<host>, as on separate machines).
type env struct {
	cli *clientv3.Client
	url string
	dir string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e, url := statetest.Start(t)
	return &env{cli: e.Client, url: url, dir: t.TempDir()}
}

// args is a CNI invocation for container cid's ifname on host, with the
// ipam section changed by set (see netconf).
func (e *env) args(t testing.TB, host, cid, ifname string, set map[string]any) *skel.CmdArgs {
	t.Helper()
	s := map[string]any{"host": host, "dataDir": e.dir}
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

// held maps each address that host allocated on network to its
// attachment, "containerID/ifname", as its block files say.
func (e *env) held(t testing.TB, network, host string) map[netip.Addr]string {
	t.Helper()
	m, err := Allocations(context.Background(), e.dir, network, host)
	if err != nil {
		t.Fatalf("reading the block files of %s: %v", host, err)
	}
	out := map[netip.Addr]string{}
	for a, at := range m {
		out[a] = at.ContainerID + "/" + at.IfName
	}
	return out
}

// add runs ADD and returns the one address it reserved.
func add(t testing.TB, args *skel.CmdArgs) netip.Prefix {
	t.Helper()
	r, err := Add(context.Background(), etcdgw.Dial, args)
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
		// misconfigured: hosts whose block sizes differ claim blocks that
		// would overlap; the claim compare lets one size win, and the
		// hosts of the other size find no free block.
		misconfigured bool
	}{
		{"roomy subnet, /26 blocks", func(int) map[string]any { return nil }, "10.20.0.0/16", false},
		// 16 blocks of 16 for 200 addresses: every block is claimed.
		{"tight subnet, /28 blocks", func(int) map[string]any {
			return map[string]any{"subnet": "10.40.0.0/24", "gateway": "10.40.0.1", "blockSize": 28}
		}, "10.40.0.0/24", false},
		{"hosts disagree on blockSize", func(h int) map[string]any {
			return map[string]any{"subnet": "10.40.0.0/24", "gateway": "10.40.0.1", "blockSize": 24 + 2*(h%2)}
		}, "10.40.0.0/24", true},
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
						r, err := Add(context.Background(), etcdgw.Dial, args)
						if err != nil {
							errs[h*perHost+i] = err
							return
						}
						got[h*perHost+i], errs[h*perHost+i] = netip.ParsePrefix(r.IPs[0].Address.String())
					})
				}
			}
			wg.Wait()
			failed := 0
			for i, err := range errs {
				var te *types.Error
				switch {
				case err == nil:
				case tc.misconfigured && errors.As(err, &te) && te.Code == CodeExhausted:
					failed++
				default:
					t.Errorf("ADD %d: %v", i, err)
				}
			}
			subnet := netip.MustParsePrefix(tc.subnet)
			gateway := subnet.Addr().Next()
			seen := map[netip.Addr]int{}
			for i, p := range got {
				if !p.IsValid() {
					continue
				}
				a := p.Addr()
				if j, dup := seen[a]; dup {
					t.Errorf("containers %d and %d both got %s", j, i, a)
				}
				seen[a] = i
				if p.Bits() != subnet.Bits() || !subnet.Contains(a) || a == subnet.Addr() || a == gateway || a == lastAddr(subnet) {
					t.Errorf("container %d got %s, want a host address of %s other than gateway %s", i, p, subnet, gateway)
				}
			}
			if tc.misconfigured && (failed == 0 || len(seen) < perHost) {
				t.Errorf("%d ADDs failed, %d succeeded: want the hosts of one block size to get every address and the others none", failed, len(seen))
			}
			// Each address lies in a block that etcd gives to the host
			// whose block file holds it, and no two blocks overlap.
			owners := blockOwners(t, e, "testnet")
			var blocks []netip.Prefix
			for name := range owners {
				b, err := parseBlockName(name)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range blocks {
					if o.Overlaps(b) {
						t.Errorf("claimed blocks %s and %s overlap", o, b)
					}
				}
				blocks = append(blocks, b)
			}
			allocated := 0
			for h := range hosts {
				host := fmt.Sprintf("host-%d", h)
				for a := range e.held(t, "testnet", host) {
					allocated++
					if i := slices.IndexFunc(blocks, func(b netip.Prefix) bool { return b.Contains(a) }); i < 0 || owners[blockName(blocks[i])] != host {
						t.Errorf("%s allocated %s outside the blocks etcd gives it", host, a)
					}
				}
			}
			if allocated != len(seen) {
				t.Errorf("block files hold %d addresses, ADDs returned %d", allocated, len(seen))
			}
			t.Logf("%d distinct addresses, %d blocks claimed", len(seen), len(blocks))
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
		if err := Del(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
			t.Fatalf("DEL %d of c1/eth0: %v", i+1, err)
		}
	}
	if err := Del(ctx, etcdgw.Dial, e.args(t, "host-a", "never-added", "eth0", nil)); err != nil {
		t.Errorf("DEL of an unknown container: %v", err)
	}
	if who, ok := e.held(t, "testnet", "host-a")[first.Addr()]; ok {
		t.Errorf("after DEL, %s still allocated to %s", first, who)
	}
	if after := add(t, e.args(t, "host-a", "c2", "eth0", nil)); after != first {
		t.Errorf("ADD after DEL = %s, want the freed %s", after, first)
	}
	// DEL on another host leaves host-a's reservation alone.
	if err := Del(ctx, etcdgw.Dial, e.args(t, "host-b", "c2", "eth0", nil)); err != nil {
		t.Fatalf("DEL on host-b: %v", err)
	}
	if err := Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c2", "eth0", nil)); err != nil {
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
			p := &Plugin{Stdout: &out, Etcd: etcdgw.Dial}
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
	r, err := Add(context.Background(), etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", set))
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
	if blocks := fmt.Sprint(blockOwners(t, e, "testnet")); blocks != "map[010.050.000.064-26:host-a fd50:0000:0000:0000:0000:0000:0000:0000-122:host-a]" {
		t.Errorf("blocks = %v", blocks)
	}
	if err := Del(context.Background(), etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", set)); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if held := e.held(t, "testnet", "host-a"); len(held) != 0 {
		t.Errorf("after DEL: %v", held)
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
	// A second block of host-a's, emptied by GC below.
	second := map[string]any{"rangeStart": "10.20.1.0"}
	add(t, e.args(t, "host-a", "gone", "net2", second))

	gc := e.args(t, "host-a", "", "", map[string]any{".cni.dev/valid-attachments": []map[string]string{
		{"containerID": "keep", "ifname": "eth0"},
		{"containerID": "gone", "ifname": "net1"}, // another interface of "gone"
	}})
	if err := GC(ctx, etcdgw.Dial, gc); err != nil {
		t.Fatalf("GC: %v", err)
	}
	heldA, heldB := e.held(t, "testnet", "host-a"), e.held(t, "testnet", "host-b")
	for key, want := range map[string]bool{
		"host-a/keep/eth0": true, "host-a/keep/net1": false, "host-a/gone/eth0": false, "host-a/also-gone/eth0": false,
		"host-b/theirs/eth0": true, // a runtime lists only its own host's containers
	} {
		held := heldA
		if strings.HasPrefix(key, "host-b/") {
			held = heldB
		}
		if _, ok := held[addrs[key].Addr()]; ok != want {
			t.Errorf("after GC, %s allocated %v, want %v", key, ok, want)
		}
	}
	if len(e.held(t, "othernet", "host-a")) != 1 {
		t.Errorf("GC of testnet released %s of othernet", other)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.020.000.000-26:host-a 010.020.000.064-26:host-b]" {
		t.Errorf("after GC blocks = %s, want host-a's emptied block 10.20.1.0/26 given back", owners)
	}

	// With nothing valid, the host keeps nothing, not even its empty block.
	if err := GC(ctx, etcdgw.Dial, e.args(t, "host-a", "", "", nil)); err != nil {
		t.Fatalf("second GC: %v", err)
	}
	if held := e.held(t, "testnet", "host-a"); len(held) != 0 {
		t.Errorf("after GC with no valid attachments: %v", held)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.020.000.064-26:host-b]" {
		t.Errorf("after GC with no valid attachments, blocks = %s, want host-b's alone", owners)
	}
	// GC is idempotent, and the host starts again from a new block.
	if err := GC(ctx, etcdgw.Dial, e.args(t, "host-a", "", "", nil)); err != nil {
		t.Fatalf("third GC: %v", err)
	}
	if a := add(t, e.args(t, "host-a", "new", "eth0", nil)); a.String() != "10.20.0.2/16" {
		t.Errorf("ADD after GC = %s, want 10.20.0.2/16 from the block given back", a)
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
				"ADD":    func() error { _, err := Add(ctx, etcdgw.Dial, args); return err },
				"DEL":    func() error { return Del(ctx, etcdgw.Dial, args) },
				"CHECK":  func() error { return Check(ctx, etcdgw.Dial, args) },
				"GC":     func() error { return GC(ctx, etcdgw.Dial, args) },
				"STATUS": func() error { return Status(ctx, etcdgw.Dial, args) },
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
	if files, _ := os.ReadDir(e.dir); len(files) != 0 {
		t.Errorf("invalid configs left %d files in the data directory", len(files))
	}
}

// A host whose blocks are full takes a block nobody holds; when every
// block is held, by hosts that allocate in them without asking etcd, it
// has no address to give until another host gives a block back (GC).
func TestExhaustionAndBorrowing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// 10.30.0.0/29 in /30 blocks: .0/30 holds .2 .3 (network, gateway .1),
	// .4/30 holds .4 .5 .6 (broadcast .7).
	set := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30}
	var got []string
	for i := range 3 {
		got = append(got, add(t, e.args(t, "host-a", fmt.Sprint("c", i), "eth0", set)).String())
	}
	if want := "10.30.0.2/29 10.30.0.3/29 10.30.0.4/29"; strings.Join(got, " ") != want {
		t.Errorf("addresses = %v, want %s", got, want)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.030.000.000-30:host-a 010.030.000.004-30:host-a]" {
		t.Errorf("blocks = %s, want both host-a's", owners)
	}
	_, err := Add(ctx, etcdgw.Dial, e.args(t, "host-b", "b0", "eth0", set))
	te := wantCode(t, "ADD on a host without blocks when every block is held", err, CodeExhausted)
	if !strings.Contains(te.Details, "10.30.0.1-10.30.0.6") {
		t.Errorf("exhaustion error %q does not name the range", te)
	}
	wantCode(t, "STATUS of host-b", Status(ctx, etcdgw.Dial, e.args(t, "host-b", "", "", set)), CodeNotAvailable)
	if err := Status(ctx, etcdgw.Dial, e.args(t, "host-a", "", "", set)); err != nil {
		t.Errorf("STATUS of host-a, whose block has room: %v", err)
	}
	if held := e.held(t, "testnet", "host-b"); len(held) != 0 {
		t.Errorf("failed ADD left %v", held)
	}
	// host-a's containers in .4/30 go; the block stays host-a's until GC.
	if err := Del(ctx, etcdgw.Dial, e.args(t, "host-a", "c2", "eth0", set)); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	_, err = Add(ctx, etcdgw.Dial, e.args(t, "host-b", "b0", "eth0", set))
	wantCode(t, "ADD on host-b while host-a holds its emptied block", err, CodeExhausted)
	gc := e.args(t, "host-a", "", "", map[string]any{
		"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30,
		".cni.dev/valid-attachments": []map[string]string{{"containerID": "c0", "ifname": "eth0"}, {"containerID": "c1", "ifname": "eth0"}},
	})
	if err := GC(ctx, etcdgw.Dial, gc); err != nil {
		t.Fatalf("GC on host-a: %v", err)
	}
	if err := Status(ctx, etcdgw.Dial, e.args(t, "host-b", "", "", set)); err != nil {
		t.Errorf("STATUS of host-b with a free block: %v", err)
	}
	if a := add(t, e.args(t, "host-b", "b0", "eth0", set)); a.String() != "10.30.0.4/29" {
		t.Errorf("ADD on host-b after host-a's GC = %s, want 10.30.0.4/29 in the block given back", a)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.030.000.000-30:host-a 010.030.000.004-30:host-b]" {
		t.Errorf("blocks = %s", owners)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := add(t, e.args(t, "host-a", "c1", "eth0", nil))
	if err := Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	prev := func(addr string) map[string]any {
		return map[string]any{".prevResult": map[string]any{"cniVersion": "1.1.0", "ips": []map[string]string{{"address": addr}}}}
	}
	if err := Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", prev(a.String()))); err != nil {
		t.Errorf("CHECK with a matching prevResult: %v", err)
	}
	wantCode(t, "CHECK with a prevResult without the address", Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", prev("10.20.9.9/16"))), CodeNoReservation)
	wantCode(t, "CHECK of another interface", Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "net1", nil)), CodeNoReservation)
	wantCode(t, "CHECK on another host", Check(ctx, etcdgw.Dial, e.args(t, "host-b", "c1", "eth0", nil)), CodeNoReservation)

	// Someone deleted the block's claim in etcd (GC as this host, run by
	// mistake elsewhere): the address may go to another host.
	if _, err := e.cli.Delete(ctx, "/corral/ipam/testnet/blocks/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	te := wantCode(t, "CHECK of an address whose block is no longer claimed", Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", nil)), CodeNoReservation)
	if !strings.Contains(te.Details, "no longer claimed") {
		t.Errorf("CHECK = %v, want it to say the block is no longer claimed", te)
	}
	if err := Del(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", nil)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CHECK after DEL", Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", nil)), CodeNoReservation)
}

// With etcd away, ADD and DEL in the host's blocks go on; what needs etcd
// (a new block, GC, CHECK, STATUS of a host without room) asks to try again.
func TestEtcdUnreachable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	proxy := statetest.StartProxy(t, e.url)
	// /30 blocks of 10.30.0.0/29: the first holds .2 and .3.
	through := func(host, cid string) *skel.CmdArgs {
		return e.args(t, host, cid, "eth0", map[string]any{"etcdEndpoints": []string{proxy.URL}, "timeout": "1s",
			"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30})
	}
	if err := Status(ctx, etcdgw.Dial, through("host-a", "")); err != nil {
		t.Fatalf("STATUS of a host without blocks, with etcd up: %v", err)
	}
	first := add(t, through("host-a", "c1"))
	proxy.Cut()
	if err := Status(ctx, etcdgw.Dial, through("host-a", "")); err != nil {
		t.Errorf("STATUS of a host whose block has room, with etcd away: %v", err)
	}
	if a := add(t, through("host-a", "c2")); a == first {
		t.Errorf("ADD with etcd away = %s, the address of c1", a)
	}
	for i := range 2 {
		if err := Del(ctx, etcdgw.Dial, through("host-a", "c1")); err != nil {
			t.Errorf("DEL %d with etcd away: %v", i+1, err)
		}
	}
	if a := add(t, through("host-a", "c3")); a != first {
		t.Errorf("ADD after DEL with etcd away = %s, want the freed %s", a, first)
	}
	_, err := Add(ctx, etcdgw.Dial, through("host-a", "c4")) // the block is full
	wantCode(t, "ADD needing a new block with etcd away", err, types.ErrTryAgainLater)
	te := wantCode(t, "STATUS of a host without room, with etcd away", Status(ctx, etcdgw.Dial, through("host-b", "")), CodeNotAvailable)
	if !strings.Contains(te.Msg, "etcd unreachable") {
		t.Errorf("STATUS = %v, want it to say etcd is unreachable", te)
	}
	wantCode(t, "CHECK with etcd away", Check(ctx, etcdgw.Dial, through("host-a", "c2")), types.ErrTryAgainLater)
	wantCode(t, "GC with etcd away", GC(ctx, etcdgw.Dial, through("host-a", "")), types.ErrTryAgainLater)
}
