package etcdipam

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"corral/cni/etcdgw"
	"corral/cni/etcdrpc"
	"corral/masterd/state/statetest"
)

// A host that crashes keeps its blocks: its containers may still be
// running behind a partition, so no other host allocates in them. For a
// host gone for good, an operator runs GC as that host, from any machine.
func TestCrashedHost(t *testing.T) {
	e := newEnv(t)
	set := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30}
	held := add(t, e.args(t, "dead", "c0", "eth0", set)) // 10.30.0.2 in block .0/30
	// The dead host also claimed .4/30 and crashed before writing its file.
	claimFor(t, e, "dead", "10.30.0.4/30")
	var got []string
	for i := range 2 {
		_, err := Add(context.Background(), etcdgw.Dial, e.args(t, "live", fmt.Sprint("c", i), "eth0", set))
		wantCode(t, "ADD on the live host while the dead one holds every block", err, CodeExhausted)
	}
	// An operator gives the dead host's blocks back with GC as that host
	// (on the live host's machine: the dead one's block files are gone
	// with it).
	gc := e.args(t, "dead", "", "", map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30, "dataDir": t.TempDir()})
	if err := GC(context.Background(), etcdgw.Dial, gc); err != nil {
		t.Fatalf("GC as the dead host: %v", err)
	}
	if owners := blockOwners(t, e, "testnet"); len(owners) != 0 {
		t.Errorf("after GC as the dead host, blocks = %v", owners)
	}
	for i := range 5 {
		got = append(got, add(t, e.args(t, "live", fmt.Sprint("c", i), "eth0", set)).String())
	}
	if want := "10.30.0.2/29 10.30.0.3/29 10.30.0.4/29 10.30.0.5/29 10.30.0.6/29"; strings.Join(got, " ") != want || got[0] != held.String() {
		t.Errorf("live host got %v, want %s (the dead host's %s too)", got, want, held)
	}
}

// claimFor claims block b for host in etcd as claim does, without writing
// a block file: the host crashed in between.
func claimFor(t testing.TB, e *env, host, b string) {
	t.Helper()
	s := newStore(etcdTestClient(t, e), "/corral/ipam/testnet/", host, nil, t.TempDir())
	v, _ := json.Marshal(claim{Host: host})
	won, _, err := s.etcd.txn(context.Background(), s.noOverlap(netip.MustParsePrefix(b)), []op{opPut(s.blockKey(netip.MustParsePrefix(b)), v)})
	if err != nil || !won {
		t.Fatalf("claiming %s for %s = %v, %v", b, host, won, err)
	}
}

func etcdTestClient(t testing.TB, e *env) *etcdClient {
	t.Helper()
	c, err := etcdgw.New(etcdrpc.Config{Endpoints: []string{e.url}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &etcdClient{c}
}

// A host that restarts finds its allocations in its block files, and the
// block it claimed just before a crash (in etcd, without a file) again.
func TestRestartRecovery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	set := map[string]any{"subnet": "10.30.0.0/28", "gateway": "10.30.0.1", "blockSize": 30}
	first := add(t, e.args(t, "host-a", "c0", "eth0", set))
	add(t, e.args(t, "host-a", "c1", "eth0", set)) // .0/30 is full
	// The host crashed after claiming .8/30 in etcd, before its file, and
	// in the middle of another write (a temporary file left behind).
	claimFor(t, e, "host-a", "10.30.0.8/30")
	dir := filepath.Join(e.dir, "testnet", "host-a")
	if err := os.WriteFile(filepath.Join(dir, blockName(netip.MustParsePrefix("10.30.0.0/30"))+blockSuffix+".123.tmp"), []byte(`{"torn`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A new process: ADD of c0 again is answered from the block file.
	if again := add(t, e.args(t, "host-a", "c0", "eth0", set)); again != first {
		t.Errorf("ADD of c0 after the restart = %s, want %s", again, first)
	}
	// The next ADD takes the block etcd says is host-a's, not a new one.
	if a := add(t, e.args(t, "host-a", "c2", "eth0", set)); a.String() != "10.30.0.8/28" {
		t.Errorf("ADD after the restart = %s, want 10.30.0.8/28 in the block claimed before the crash", a)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.030.000.000-30:host-a 010.030.000.008-30:host-a]" {
		t.Errorf("blocks = %s, want the two of before the crash", owners)
	}
	if err := Check(ctx, etcdgw.Dial, e.args(t, "host-a", "c2", "eth0", set)); err != nil {
		t.Errorf("CHECK of c2: %v", err)
	}
	// A corrupt block file stops every command rather than risk a
	// duplicate.
	if err := os.WriteFile(filepath.Join(dir, blockName(netip.MustParsePrefix("10.30.0.8/30"))+blockSuffix), []byte(`{"torn`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Add(ctx, etcdgw.Dial, e.args(t, "host-a", "c3", "eth0", set))
	if te := wantCode(t, "ADD with a corrupt block file", err, types.ErrInternal); !strings.Contains(te.Msg, "is corrupt") {
		t.Errorf("ADD = %v, want it to name the corrupt file", te)
	}
}

// Hosts racing for one block, or for blocks that overlap it, leave one
// claim standing, and only its winner writes a block file.
func TestClaimRace(t *testing.T) {
	e := newEnv(t)
	blocks := []string{"10.60.0.0/26", "10.60.0.0/26", "10.60.0.0/26", "10.60.0.0/24", "10.60.0.32/27", "10.60.0.60/30", "10.60.0.0/25", "10.60.0.0/26"}
	won := make([]bool, len(blocks))
	var wg sync.WaitGroup
	for i, b := range blocks {
		wg.Go(func() {
			s := newStore(etcdTestClient(t, e), "/corral/ipam/testnet/", fmt.Sprint("host-", i), nil, filepath.Join(e.dir, fmt.Sprint("host-", i)))
			l, err := openLocal(context.Background(), s.dir)
			if err != nil {
				t.Error(err)
				return
			}
			defer l.close()
			if won[i], err = s.claim(context.Background(), l, netip.MustParsePrefix(b)); err != nil {
				t.Errorf("claim of %s by host-%d: %v", b, i, err)
			}
		})
	}
	wg.Wait()
	owners := blockOwners(t, e, "testnet")
	var winners []string
	for i, w := range won {
		files, _ := filepath.Glob(filepath.Join(e.dir, fmt.Sprint("host-", i), "*"+blockSuffix))
		if w != (len(files) == 1) {
			t.Errorf("host-%d won %v and has block files %v", i, w, files)
		}
		if w {
			winners = append(winners, fmt.Sprintf("host-%d:%s", i, blocks[i]))
			if owners[blockName(netip.MustParsePrefix(blocks[i]))] != fmt.Sprint("host-", i) {
				t.Errorf("host-%d won %s, etcd says %v", i, blocks[i], owners)
			}
		}
	}
	if len(winners) != 1 || len(owners) != 1 {
		t.Errorf("winners %v, claims %v: want one", winners, owners)
	}
}

// A host taken for gone, whose blocks an operator gave back while it was
// down, comes back with its block files: after the reboot it checks them
// against etcd and forgets the blocks no longer its own, instead of
// allocating in them beside the host that claimed them since.
func TestRebootAfterBlocksTaken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	set := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30}
	before := add(t, e.args(t, "host-a", "c0", "eth0", set)) // .2 in .0/30
	gc := e.args(t, "host-a", "", "", map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30, "dataDir": t.TempDir()})
	if err := GC(ctx, etcdgw.Dial, gc); err != nil {
		t.Fatalf("GC as host-a elsewhere: %v", err)
	}
	if a := add(t, e.args(t, "host-b", "b0", "eth0", set)); a != before {
		t.Fatalf("host-b got %s, want %s from the block given back", a, before)
	}

	defer func(old func() (string, error)) { bootID = old }(bootID)
	bootID = func() (string, error) { return "another boot", nil }
	proxy := statetest.StartProxy(t, e.url)
	proxy.Cut()
	away := map[string]any{"subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30, "etcdEndpoints": []string{proxy.URL}, "timeout": "1s"}
	_, err := Add(ctx, etcdgw.Dial, e.args(t, "host-a", "c1", "eth0", away))
	wantCode(t, "ADD after a reboot with etcd away", err, types.ErrTryAgainLater)

	if a := add(t, e.args(t, "host-a", "c1", "eth0", set)); a.String() != "10.30.0.4/29" {
		t.Errorf("ADD on host-a after its reboot = %s, want 10.30.0.4/29 in a block of its own", a)
	}
	if held := fmt.Sprint(e.held(t, "testnet", "host-a")); held != "map[10.30.0.4:c1/eth0]" {
		t.Errorf("host-a holds %s, want only c1's address", held)
	}
	if owners := fmt.Sprint(blockOwners(t, e, "testnet")); owners != "map[010.030.000.000-30:host-b 010.030.000.004-30:host-a]" {
		t.Errorf("blocks = %s", owners)
	}
}
