package etcdipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"corral/atomicfile"
)

// local is this host's share of a network on its own disk: the blocks it
// owns and the addresses it allocated in them, a file per block under dir
// (<dataDir>/<network>/<host>/10.020.000.064-26.json). Commands on one host
// take dir's lock file in turn, so a block file is read and written by one
// of them at a time.
type local struct {
	dir    string
	lock   *os.File // flocked while the command runs
	blocks map[netip.Prefix]*localBlock
}

// localBlock is a block file.
type localBlock struct {
	Block netip.Prefix `json:"block"`
	// Claim is the create revision of the block's key in etcd when this
	// host claimed it: the claim, not a later one of the same block.
	Claim int64        `json:"claim"`
	IPs   []allocation `json:"ips"` // in address order
}

// allocation is one address of a block and whom it went to:
// {"address":"10.20.0.70/16","gateway":"10.20.0.1","containerID":…,"ifname":"eth0"}.
type allocation struct {
	Address
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

func (b *localBlock) taken(a netip.Addr) bool {
	return slices.ContainsFunc(b.IPs, func(x allocation) bool { return x.Address.Address.Addr() == a })
}

// blockFile is where the file of block b lives in dir.
func blockFile(dir string, b netip.Prefix) string {
	return filepath.Join(dir, blockName(b)+".json")
}

// openLocal locks dir, creating it, and reads its block files. The
// caller must close it. Waiting for the lock gives up with ctx.
func openLocal(ctx context.Context, dir string) (*local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the ipam data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the ipam lock file: %w", err)
	}
	if err := flock(ctx, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	l := &local{dir: dir, lock: f, blocks: map[netip.Prefix]*localBlock{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("listing the ipam data directory: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue // the lock, or a temporary file of an interrupted write
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			l.close()
			return nil, fmt.Errorf("reading block file: %w", err)
		}
		var b localBlock
		if err := json.Unmarshal(data, &b); err != nil || blockName(b.Block) != name {
			l.close()
			return nil, fmt.Errorf("block file %s is corrupt (%v): move it away only if no container uses its addresses", filepath.Join(dir, e.Name()), err)
		}
		l.blocks[b.Block] = &b
	}
	return l, nil
}

// flock takes an exclusive lock on f, polling so that ctx can end the wait.
func flock(ctx context.Context, f *os.File) error {
	wait := 200 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// close releases the lock.
func (l *local) close() { l.lock.Close() }

// save writes block b's file durably: once it returns, a crash of the host
// does not lose what it says.
func (l *local) save(b *localBlock) error {
	slices.SortFunc(b.IPs, func(x, y allocation) int { return x.Address.Address.Addr().Compare(y.Address.Address.Addr()) })
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(blockFile(l.dir, b.Block), data, 0o600); err != nil {
		return fmt.Errorf("saving block %s: %w", b.Block, err)
	}
	l.blocks[b.Block] = b
	return nil
}

// drop removes block b's file durably.
func (l *local) drop(b netip.Prefix) error {
	if err := os.Remove(blockFile(l.dir, b)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing block file of %s: %w", b, err)
	}
	if err := atomicfile.SyncDir(l.dir); err != nil {
		return fmt.Errorf("removing block file of %s: %w", b, err)
	}
	delete(l.blocks, b)
	return nil
}

// sorted returns the blocks in address order.
func (l *local) sorted() []*localBlock {
	out := make([]*localBlock, 0, len(l.blocks))
	for _, b := range l.blocks {
		out = append(out, b)
	}
	slices.SortFunc(out, func(x, y *localBlock) int { return comparePrefix(x.Block, y.Block) })
	return out
}

// lookup returns a's allocations in address order.
func (l *local) lookup(a Attachment) []allocation {
	var out []allocation
	for _, b := range l.sorted() {
		for _, x := range b.IPs {
			if x.ContainerID == a.ContainerID && x.IfName == a.IfName {
				out = append(out, x)
			}
		}
	}
	return out
}
