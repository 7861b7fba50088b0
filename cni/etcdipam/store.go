package etcdipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sentinel errors that the commands turn into CNI error codes.
var (
	// ErrExhausted: a range set has no free address left.
	ErrExhausted = errors.New("no free address")
	// ErrNoReservation: an attachment holds no reservation, or a broken one.
	ErrNoReservation = errors.New("no reservation")
	// ErrContention: other hosts won every block claim tried.
	ErrContention = errors.New("lost every block claim to other hosts")
)

// maxAttempts bounds an allocation's block claims lost to other hosts;
// each loss means another host claimed a block.
const maxAttempts = 200

// Attachment identifies a container's interface on a network, as the CNI
// spec does: CNI_CONTAINERID and CNI_IFNAME.
type Attachment struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// Address is one allocated address as a block file keeps it.
type Address struct {
	Address netip.Prefix `json:"address"`          // with the subnet's length: 10.20.0.5/16
	Gateway netip.Addr   `json:"gateway,omitzero"` // the range's gateway
}

// claim is the value of a block key in etcd.
type claim struct {
	Host string `json:"host"`
}

// claimed is a block key as read from etcd.
type claimed struct {
	block netip.Prefix
	host  string
	rev   int64 // create revision
}

// Store allocates the addresses of one network for one host: in etcd,
// which block is whose; on the host's disk (local), which address of its
// blocks is whose.
//
// etcd holds one key per claimed block, under prefix
// (<dataPrefix><network>/):
//
//	blocks/<block>   {"host"}: the host that allocates in the block
//
// <block> reads 010.020.000.064-26 (the first address written to sort, see
// sortableAddr), so that the blocks inside a block are one key range. A
// host claims a block in a transaction that requires no key of a block
// that overlaps it, of any size; from then on it alone allocates in it,
// without asking etcd. That compare is what uniqueness across hosts rests
// on; on a host, the lock of its data directory serialises allocations.
type Store struct {
	etcd   *etcdClient
	prefix string
	host   string
	sets   [][]Range
	dir    string // <dataDir>/<network>/<host>
}

// newStore returns a Store for host on the network whose keys live under
// prefix in etcd and whose block files live in dir, allocating one
// address from each range set.
func newStore(etcd *etcdClient, prefix, host string, sets [][]Range, dir string) *Store {
	return &Store{etcd: etcd, prefix: prefix, host: host, sets: sets, dir: dir}
}

func (s *Store) blocksPrefix() string           { return s.prefix + "blocks/" }
func (s *Store) blockKey(b netip.Prefix) string { return s.blocksPrefix() + blockName(b) }

// open locks and reads the host's block files. The first time after the
// machine booted, it checks them against etcd: a block whose claim is no
// longer this host's (an operator gave it back while the host was down,
// taking it for gone) is forgotten; what was allocated in it belonged to
// containers that died with the host. Until etcd answers that check,
// nothing is allocated.
func (s *Store) open(ctx context.Context) (*local, error) {
	l, err := openLocal(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	boot, err := bootID()
	if err != nil {
		l.close()
		return nil, fmt.Errorf("reading the boot ID: %w", err)
	}
	if l.boot == boot {
		return l, nil
	}
	if len(l.blocks) > 0 {
		cs, err := s.claims(ctx)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("checking the host's blocks after a reboot: %w", err)
		}
		for _, b := range l.sorted() {
			if !slices.ContainsFunc(cs, func(c claimed) bool { return c.block == b.Block && c.host == s.host && c.rev == b.Claim }) {
				if err := l.drop(b.Block); err != nil {
					l.close()
					return nil, err
				}
			}
		}
	}
	if err := l.setBoot(boot); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// Allocate gives a one address per range set, or returns those it holds.
// An address of a block the host owns costs a line appended to the
// block's file, one fsync, and no etcd request; etcd is asked only for a
// new block.
func (s *Store) Allocate(ctx context.Context, a Attachment) ([]Address, error) {
	l, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer l.close()
	held := l.lookup(a)
	var out []Address
	for i, set := range s.sets {
		if j := slices.IndexFunc(held, func(x allocation) bool { return inSet(set, x.Address.Address.Addr()) }); j >= 0 {
			out = append(out, held[j].Address)
			continue
		}
		addr, err := s.allocateIn(ctx, l, set, a)
		if err != nil {
			return nil, fmt.Errorf("range set %d (%s): %w", i, setString(set), err)
		}
		out = append(out, addr)
	}
	return out, nil
}

// allocateIn takes the first free address of set in the host's blocks,
// claiming a block first when they are full.
func (s *Store) allocateIn(ctx context.Context, l *local, set []Range, a Attachment) (Address, error) {
	for lost := 0; lost < maxAttempts; {
		if b, addr, ok := firstFree(l, set); ok {
			if err := l.allocate(b, allocation{Address: addr, ContainerID: a.ContainerID, IfName: a.IfName}); err != nil {
				return Address{}, err
			}
			return addr, nil
		}
		gained, err := s.claimFor(ctx, l, set)
		if err != nil {
			return Address{}, err
		}
		if !gained {
			lost++
			if err := backoff(ctx, lost); err != nil {
				return Address{}, fmt.Errorf("claiming a block: %w", err)
			}
		}
	}
	return Address{}, fmt.Errorf("after %d attempts: %w", maxAttempts, ErrContention)
}

// firstFree returns the first free usable address of set in the host's
// blocks, in address order, and its block.
func firstFree(l *local, set []Range) (*localBlock, Address, bool) {
	for _, b := range l.sorted() {
		for _, r := range set {
			if !overlaps(r, b.Block) {
				continue
			}
			for a := range r.Free(b.Block, b.taken) {
				return b, Address{Address: netip.PrefixFrom(a, r.Subnet.Bits()), Gateway: r.Gateway}, true
			}
		}
	}
	return nil, Address{}, false
}

// claims lists the claimed blocks.
func (s *Store) claims(ctx context.Context) ([]claimed, error) {
	kvs, err := s.etcd.get(ctx, s.blocksPrefix(), prefixEnd(s.blocksPrefix()))
	if err != nil {
		return nil, fmt.Errorf("listing blocks: %w", err)
	}
	var out []claimed
	for _, kv := range kvs {
		b, err := parseBlockName(strings.TrimPrefix(string(kv.Key), s.blocksPrefix()))
		if err != nil {
			continue // not ours to judge; the claim compare still sees it
		}
		var c claim
		_ = json.Unmarshal(kv.Value, &c) // an unreadable claim is someone else's
		out = append(out, claimed{block: b, host: c.Host, rev: kv.CreateRevision})
	}
	return out, nil
}

// claimFor gives the host a new block of set (see nextBlock). It reports
// false when another host claimed that block first.
func (s *Store) claimFor(ctx context.Context, l *local, set []Range) (bool, error) {
	cs, err := s.claims(ctx)
	if err != nil {
		return false, err
	}
	c, ok := s.nextBlock(l, set, cs)
	switch {
	case !ok:
		return false, ErrExhausted
	case c.rev != 0:
		return true, l.create(c.block, c.rev)
	default:
		return s.claim(ctx, l, c.block)
	}
}

// nextBlock returns the block of set the host takes next, given the claims
// cs: one etcd says is the host's although it has no file (the host
// crashed between claiming it and writing the file, or between removing
// the file and releasing the claim; either way nothing is allocated in
// it), with its revision; else the first block no claim overlaps, with
// revision 0.
func (s *Store) nextBlock(l *local, set []Range, cs []claimed) (claimed, bool) {
	for _, c := range cs {
		if c.host == s.host && overlapsSet(set, c.block) && l.blocks[c.block] == nil {
			return c, true
		}
	}
	for _, r := range set {
		for b := range r.Blocks() {
			if hasUsable(r, b) && !slices.ContainsFunc(cs, func(c claimed) bool { return c.block.Overlaps(b) }) {
				return claimed{block: b}, true
			}
		}
	}
	return claimed{}, false
}

// claim makes block b the host's in etcd, then writes its file.
func (s *Store) claim(ctx context.Context, l *local, b netip.Prefix) (bool, error) {
	v, err := json.Marshal(claim{Host: s.host})
	if err != nil {
		return false, err
	}
	won, rev, err := s.etcd.txn(ctx, s.noOverlap(b), []op{opPut(s.blockKey(b), v)})
	if err != nil {
		return false, fmt.Errorf("claiming block %s: %w", b, err)
	}
	if !won {
		return false, nil
	}
	return true, l.create(b, rev)
}

// noOverlap compares that no block overlapping b is claimed: none inside
// it (a key range, as block keys sort by address) and none holding it (a
// key per shorter prefix length). Hosts configured with different block
// sizes, or different subnets, thus never claim overlapping blocks. At
// most 127 compares (an IPv6 /126 block), under etcd's default
// --max-txn-ops of 128.
func (s *Store) noOverlap(b netip.Prefix) []cmp {
	cmps := []cmp{absent(s.blocksPrefix()+sortableAddr(b.Addr()), s.blocksPrefix()+sortableAddr(lastAddr(b))+"-\xff")}
	for bits := range b.Bits() {
		cmps = append(cmps, absent(s.blockKey(netip.PrefixFrom(b.Addr(), bits).Masked()), ""))
	}
	return cmps
}

// release gives up block b, whose file is already gone: the claim is
// deleted only if it is still the one made at revision rev.
func (s *Store) release(ctx context.Context, b netip.Prefix, rev int64) error {
	if _, _, err := s.etcd.txn(ctx, []cmp{created(s.blockKey(b), rev)}, []op{opDelete(s.blockKey(b))}); err != nil {
		return fmt.Errorf("releasing block %s: %w", b, err)
	}
	return nil
}

// prefixEnd is the end of the key range of keys starting with p.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

func hasUsable(r Range, b netip.Prefix) bool {
	for range r.Free(b, func(netip.Addr) bool { return false }) {
		return true
	}
	return false
}

// backoff sleeps a random while that grows with the number of lost
// claims, up to 50ms.
func backoff(ctx context.Context, lost int) error {
	ceiling := time.Duration(1<<min(lost, 6)) * time.Millisecond
	t := time.NewTimer(min(rand.N(ceiling)+time.Millisecond, 50*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func inSet(set []Range, a netip.Addr) bool {
	return slices.ContainsFunc(set, func(r Range) bool { return r.Contains(a) })
}

func overlaps(r Range, b netip.Prefix) bool {
	return r.Start.BitLen() == b.Addr().BitLen() && r.Start.Compare(lastAddr(b)) <= 0 && b.Addr().Compare(r.End) <= 0
}

func overlapsSet(set []Range, b netip.Prefix) bool {
	return slices.ContainsFunc(set, func(r Range) bool { return overlaps(r, b) })
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func setString(set []Range) string {
	s := make([]string, len(set))
	for i, r := range set {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
