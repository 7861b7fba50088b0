package etcdipam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"corral/atomicfile"
)

// local is this host's share of a network on its own disk: the blocks it
// owns and the addresses it allocated in them, a file per block under dir
// (<dataDir>/<network>/<host>/010.020.000.064-26.block). Commands on one
// host take dir's lock file in turn, so a block file is read and written
// by one of them at a time.
//
// A block file is a log, a record per line, each line its CRC-32 and JSON:
// a header written whole by atomicfile when the block is claimed (or the
// log compacted), then one record appended per allocation, fsynced before
// ADD answers (the one fsync of an ADD), and one per release, not fsynced:
// a release lost in a crash leaves an address allocated, which GC (run by
// agentd at start) frees, and never gives one address twice. A crash can
// leave a torn last line; it fails its CRC and is cut off before the next
// append.
type local struct {
	dir    string
	lock   *os.File // flocked while the command runs
	blocks map[netip.Prefix]*localBlock
	boot   string // the boot ID in whose boot the blocks were last checked against etcd
}

// localBlock is a block file, read.
type localBlock struct {
	Block netip.Prefix
	// Claim is the create revision of the block's key in etcd when this
	// host claimed it: the claim, not a later one of the same block.
	Claim    int64
	IPs      []allocation // in address order
	lines    int          // records in the file, to know when to compact it
	size     int64        // bytes of whole lines, where the next one goes
	fileSize int64        // bytes in the file; more than size is a torn tail
}

// allocation is one address of a block and whom it went to.
type allocation struct {
	Address
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// record is one line of a block file: the header (Block and Claim), an
// allocation (Add) or the release of an attachment's addresses (Release).
type record struct {
	Block   *netip.Prefix `json:"block,omitempty"`
	Claim   int64         `json:"claim,omitempty"`
	Add     *allocation   `json:"add,omitempty"`
	Release *Attachment   `json:"release,omitempty"`
}

func (b *localBlock) taken(a netip.Addr) bool {
	return slices.ContainsFunc(b.IPs, func(x allocation) bool { return x.Address.Address.Addr() == a })
}

// blockFile is where the file of block b lives in dir.
func blockFile(dir string, b netip.Prefix) string {
	return filepath.Join(dir, blockName(b)+blockSuffix)
}

const blockSuffix = ".block"

// bootFile holds the boot ID of the last check of the blocks against etcd.
const bootFile = "boot"

// bootID returns the kernel's ID of this boot of the machine.
var bootID = func() (string, error) {
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(id)), err
}

// setBoot records that the blocks were checked in boot id.
func (l *local) setBoot(id string) error {
	if err := atomicfile.WriteFile(filepath.Join(l.dir, bootFile), []byte(id), 0o600); err != nil {
		return fmt.Errorf("recording the boot ID: %w", err)
	}
	l.boot = id
	return nil
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
		if e.Name() == bootFile {
			data, err := os.ReadFile(filepath.Join(dir, bootFile))
			if err != nil {
				l.close()
				return nil, fmt.Errorf("reading the boot ID of the last check: %w", err)
			}
			l.boot = string(data)
			continue
		}
		name, ok := strings.CutSuffix(e.Name(), blockSuffix)
		if !ok {
			continue // the lock, or a temporary file of an interrupted write
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("reading block file: %w", err)
		}
		b, err := parseBlock(data)
		if err == nil && blockName(b.Block) != name {
			err = fmt.Errorf("it holds block %s", b.Block)
		}
		if err != nil {
			l.close()
			return nil, fmt.Errorf("block file %s is corrupt (%w): move it away only if no container uses its addresses", path, err)
		}
		l.blocks[b.Block] = b
	}
	return l, nil
}

// parseBlock reads a block file: a header, then records; lines that fail
// their CRC were torn by a crash and are skipped.
func parseBlock(data []byte) (*localBlock, error) {
	b := &localBlock{fileSize: int64(len(data))}
	header := false
	for off := 0; off < len(data); {
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			break // a torn last line
		}
		line := data[off : off+n]
		off += n + 1
		r, ok := parseRecord(line)
		if !ok {
			if !header {
				return nil, errors.New("no valid header line")
			}
			b.size = int64(off)
			continue
		}
		b.size, b.lines = int64(off), b.lines+1
		switch {
		case !header:
			if r.Block == nil {
				return nil, errors.New("the first line is not a header")
			}
			b.Block, b.Claim, header = *r.Block, r.Claim, true
		case r.Add != nil:
			if !b.Block.Contains(r.Add.Address.Address.Addr()) || b.taken(r.Add.Address.Address.Addr()) {
				return nil, fmt.Errorf("allocation of %s is outside the block or allocated twice", r.Add.Address.Address)
			}
			b.IPs = append(b.IPs, *r.Add)
		case r.Release != nil:
			b.IPs = slices.DeleteFunc(b.IPs, r.Release.holds)
		}
	}
	if !header {
		return nil, errors.New("no header line")
	}
	slices.SortFunc(b.IPs, compareAllocation)
	return b, nil
}

func (a Attachment) holds(x allocation) bool {
	return x.ContainerID == a.ContainerID && x.IfName == a.IfName
}

func compareAllocation(x, y allocation) int {
	return x.Address.Address.Addr().Compare(y.Address.Address.Addr())
}

// formatRecord renders r as a line: the CRC-32 (IEEE) of its JSON in hex,
// a space, the JSON.
func formatRecord(r record) ([]byte, error) {
	j, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	line := fmt.Appendf(nil, "%08x ", crc32.ChecksumIEEE(j))
	return append(append(line, j...), '\n'), nil
}

func parseRecord(line []byte) (record, bool) {
	var r record
	sum, j, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 8 {
		return r, false
	}
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE(j) {
		return r, false
	}
	return r, json.Unmarshal(j, &r) == nil
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

// write replaces b's file by a header and b's allocations, durably.
func (l *local) write(b *localBlock) error {
	block := b.Block
	var data []byte
	for _, r := range append([]record{{Block: &block, Claim: b.Claim}}, addRecords(b.IPs)...) {
		line, err := formatRecord(r)
		if err != nil {
			return err
		}
		data = append(data, line...)
	}
	if err := atomicfile.WriteFile(blockFile(l.dir, b.Block), data, 0o600); err != nil {
		return fmt.Errorf("writing block file of %s: %w", b.Block, err)
	}
	b.lines, b.size, b.fileSize = len(b.IPs)+1, int64(len(data)), int64(len(data))
	l.blocks[b.Block] = b
	return nil
}

func addRecords(ips []allocation) []record {
	out := make([]record, len(ips))
	for i := range ips {
		out[i] = record{Add: &ips[i]}
	}
	return out
}

// create writes the file of a block just claimed (or found claimed in
// etcd), with nothing allocated.
func (l *local) create(b netip.Prefix, claim int64) error {
	return l.write(&localBlock{Block: b, Claim: claim})
}

// allocate records x in block b durably: an appended line, fsynced.
func (l *local) allocate(b *localBlock, x allocation) error {
	if err := l.change(b, append(slices.Clone(b.IPs), x), record{Add: &x}, true); err != nil {
		return fmt.Errorf("allocating %s: %w", x.Address.Address.Addr(), err)
	}
	return nil
}

// release drops a's addresses from block b, not durably (see local).
func (l *local) release(b *localBlock, a Attachment) error {
	if err := l.change(b, slices.DeleteFunc(slices.Clone(b.IPs), a.holds), record{Release: &a}, false); err != nil {
		return fmt.Errorf("releasing %s/%s: %w", a.ContainerID, a.IfName, err)
	}
	return nil
}

// compactAfter is how many records beyond its allocations a block file
// may hold before it is written anew.
const compactAfter = 64

// change makes ips the allocations of b: r appended to its file (cutting
// off a torn tail), fsynced if sync is set; or, once the file has grown
// long with releases, the file written anew.
func (l *local) change(b *localBlock, ips []allocation, r record, sync bool) error {
	slices.SortFunc(ips, compareAllocation)
	if b.lines > len(ips)+compactAfter {
		nb := &localBlock{Block: b.Block, Claim: b.Claim, IPs: ips}
		if err := l.write(nb); err != nil {
			return err
		}
		*b = *nb
		l.blocks[b.Block] = b
		return nil
	}
	line, err := formatRecord(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(blockFile(l.dir, b.Block), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(line, b.size); err != nil {
		return err
	}
	end := b.size + int64(len(line))
	if b.fileSize > end {
		if err := f.Truncate(end); err != nil {
			return err
		}
	}
	if sync {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return err
		}
	}
	b.IPs, b.size, b.fileSize, b.lines = ips, end, end, b.lines+1
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
			if a.holds(x) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Allocations returns what host's block files for network under dataDir
// give out, by address: the allocations ADD made and DEL has not
// released, as an operator (or a test) would list them.
func Allocations(ctx context.Context, dataDir, network, host string) (map[netip.Addr]Attachment, error) {
	l, err := openLocal(ctx, filepath.Join(dataDir, network, host))
	if err != nil {
		return nil, err
	}
	defer l.close()
	out := map[netip.Addr]Attachment{}
	for _, b := range l.blocks {
		for _, x := range b.IPs {
			out[x.Address.Address.Addr()] = Attachment{ContainerID: x.ContainerID, IfName: x.IfName}
		}
	}
	return out, nil
}
