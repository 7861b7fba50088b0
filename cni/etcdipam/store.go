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

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sentinel errors that the commands turn into CNI error codes.
var (
	// ErrExhausted: a range set has no free address left.
	ErrExhausted = errors.New("no free address")
	// ErrNoReservation: an attachment holds no reservation, or a broken one.
	ErrNoReservation = errors.New("no reservation")
	// ErrContention: other allocators won every compare-and-swap tried.
	ErrContention = errors.New("lost every compare-and-swap to concurrent allocations")
)

// maxAttempts bounds an allocation's retries after lost compare-and-swaps;
// each loss means another allocation went through.
const maxAttempts = 200

// txnOps is how many operations one batched transaction carries, under
// etcd's default --max-txn-ops of 128.
const txnOps = 64

// Attachment identifies a container's interface on a network, as the CNI
// spec does: CNI_CONTAINERID and CNI_IFNAME.
type Attachment struct {
	ContainerID string
	IfName      string
}

// Address is one reserved address as an attachment's record keeps it.
type Address struct {
	Address netip.Prefix `json:"address"`          // with the subnet's length: 10.20.0.5/16
	Gateway netip.Addr   `json:"gateway,omitzero"` // the range's gateway
}

// record is the value of an attachment key.
type record struct {
	IPs []Address `json:"ips"`
}

// owner is the value of an address key.
type owner struct {
	Host        string `json:"host"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// claim is the value of a block key.
type claim struct {
	Host string `json:"host"`
}

// Store allocates the addresses of one network in etcd for one host.
//
// Keys, under prefix (<dataPrefix><network>/):
//
//	blocks/<block>                             {"host"}: the host the block is affine to
//	ips/<ip>                                   {"host","containerID","ifname"}: the reservation
//	attachments/<host>/<containerID>/<ifname>  {"ips":[{"address","gateway"}]}
//
// <block> reads 10.20.0.64-26; <ip> is written to sort by address
// (010.020.000.070, or IPv6 in full), so a block's reservations are one
// range read. An address is reserved by creating ips/<ip> in a transaction
// that requires it not to exist, together with the attachment's record, so
// both exist or neither. That compare is the only thing uniqueness rests on;
// blocks only keep hosts out of each other's way.
type Store struct {
	cli    *clientv3.Client
	prefix string
	host   string
	sets   [][]Range
}

// NewStore returns a Store for host on the network whose keys live under
// prefix, allocating one address from each range set.
func NewStore(cli *clientv3.Client, prefix, host string, sets [][]Range) *Store {
	return &Store{cli: cli, prefix: prefix, host: host, sets: sets}
}

func (s *Store) blockKey(b netip.Prefix) string { return s.prefix + "blocks/" + blockName(b) }
func (s *Store) ipKey(a netip.Addr) string      { return s.prefix + "ips/" + sortableAddr(a) }

// ipRange returns the key range [start, end) of the reservations in b.
func (s *Store) ipRange(b netip.Prefix) (string, string) {
	return s.ipKey(b.Masked().Addr()), s.ipKey(lastAddr(b)) + "\x00"
}

// noneReserved is the compare that no address of b is reserved.
func (s *Store) noneReserved(b netip.Prefix) clientv3.Cmp {
	start, end := s.ipRange(b)
	return clientv3.Compare(clientv3.CreateRevision(start), "=", 0).WithRange(end)
}

func (s *Store) attachPrefix() string { return s.prefix + "attachments/" + s.host + "/" }
func (s *Store) attachKey(a Attachment) string {
	return s.attachPrefix() + a.ContainerID + "/" + a.IfName
}

// Lookup returns the addresses reserved for a by this host, if any.
func (s *Store) Lookup(ctx context.Context, a Attachment) ([]Address, bool, error) {
	resp, err := s.cli.Get(ctx, s.attachKey(a))
	if err != nil {
		return nil, false, fmt.Errorf("reading attachment %s/%s: %w", a.ContainerID, a.IfName, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	var rec record
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		return nil, false, fmt.Errorf("decoding %s: %w", resp.Kvs[0].Key, err)
	}
	return rec.IPs, true, nil
}

// Allocate reserves one address per range set for a, or returns those it
// already holds.
func (s *Store) Allocate(ctx context.Context, a Attachment) ([]Address, error) {
	if got, ok, err := s.Lookup(ctx, a); err != nil || ok {
		return got, err
	}
	akey := s.attachKey(a)
	ownerJSON, err := json.Marshal(owner{Host: s.host, ContainerID: a.ContainerID, IfName: a.IfName})
	if err != nil {
		return nil, err
	}
	lost := 0
	for range maxAttempts {
		if lost > 0 {
			if err := backoff(ctx, lost); err != nil {
				return nil, fmt.Errorf("allocating for %s/%s: %w", a.ContainerID, a.IfName, err)
			}
		}
		picks, again, err := s.pick(ctx, lost > 0)
		if err != nil {
			return nil, err
		}
		if again != retryNone {
			if again == retryLost {
				lost++
			}
			continue
		}
		recJSON, err := json.Marshal(record{IPs: picks})
		if err != nil {
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(akey), "=", 0)}
		ops := []clientv3.Op{clientv3.OpPut(akey, string(recJSON))}
		for _, p := range picks {
			k := s.ipKey(p.Address.Addr())
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
			ops = append(ops, clientv3.OpPut(k, string(ownerJSON)))
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(akey)).Commit()
		if err != nil {
			return nil, fmt.Errorf("reserving %s for %s/%s: %w", addrList(picks), a.ContainerID, a.IfName, err)
		}
		if resp.Succeeded {
			return picks, nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			var rec record // a concurrent ADD of the same attachment won
			if err := json.Unmarshal(kvs[0].Value, &rec); err != nil {
				return nil, fmt.Errorf("decoding %s: %w", kvs[0].Key, err)
			}
			return rec.IPs, nil
		}
		lost++ // an address went to another allocator; the next pick reads it
	}
	return nil, fmt.Errorf("allocating for %s/%s after %d attempts: %w", a.ContainerID, a.IfName, maxAttempts, ErrContention)
}

// retry says why pick wants to be called again.
type retry int

const (
	retryNone    retry = iota
	retryClaimed       // it claimed a block: look again, at once
	retryLost          // another allocator changed the blocks first
)

// blockState is a claimed block as pick sees it.
type blockState struct {
	host   string
	modRev int64
}

// pick chooses one free address per range set. random spreads concurrent
// allocators over a block's free addresses instead of all trying the first.
func (s *Store) pick(ctx context.Context, random bool) ([]Address, retry, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"blocks/", clientv3.WithPrefix())
	if err != nil {
		return nil, retryNone, fmt.Errorf("listing blocks: %w", err)
	}
	claims := map[netip.Prefix]blockState{}
	for _, kv := range resp.Kvs {
		b, err := parseBlockName(strings.TrimPrefix(string(kv.Key), s.prefix+"blocks/"))
		if err != nil {
			continue // not ours to judge; it never blocks an address
		}
		var c claim
		_ = json.Unmarshal(kv.Value, &c) // an unreadable claim is someone else's
		claims[b] = blockState{host: c.Host, modRev: kv.ModRevision}
	}
	var picks []Address
	for i, set := range s.sets {
		p, again, err := s.pickIn(ctx, set, claims, random)
		if err != nil {
			return nil, retryNone, fmt.Errorf("range set %d (%s): %w", i, setString(set), err)
		}
		if again != retryNone {
			return nil, again, nil
		}
		picks = append(picks, p)
	}
	return picks, retryNone, nil
}

// pickIn picks an address of one range set: from this host's blocks first;
// else it claims a block nobody holds, or takes over an empty block of
// another host (one that crashed, say), and asks to be called again; else it
// borrows a free address from another host's block.
func (s *Store) pickIn(ctx context.Context, set []Range, claims map[netip.Prefix]blockState, random bool) (Address, retry, error) {
	var mine, others []netip.Prefix
	for b, c := range claims {
		if !overlapsSet(set, b) {
			continue
		}
		if c.host == s.host {
			mine = append(mine, b)
		} else {
			others = append(others, b)
		}
	}
	slices.SortFunc(mine, comparePrefix)
	slices.SortFunc(others, comparePrefix)

	used, err := s.used(ctx, mine)
	if err != nil {
		return Address{}, retryNone, err
	}
	if a, ok := choose(set, mine, used, random); ok {
		return a, retryNone, nil
	}

	for _, r := range set {
		for b := range r.Blocks() {
			if _, held := claims[b]; held || !hasUsable(r, b) {
				continue
			}
			won, err := s.claim(ctx, b, 0)
			if err != nil {
				return Address{}, retryNone, err
			}
			if won {
				return Address{}, retryClaimed, nil
			}
			return Address{}, retryLost, nil
		}
	}

	used, err = s.used(ctx, others)
	if err != nil {
		return Address{}, retryNone, err
	}
	for _, b := range others {
		if len(used[b]) > 0 {
			continue
		}
		if _, ok := choose(set, []netip.Prefix{b}, used, false); !ok {
			continue
		}
		won, err := s.claim(ctx, b, claims[b].modRev)
		if err != nil {
			return Address{}, retryNone, err
		}
		if won {
			return Address{}, retryClaimed, nil
		}
		return Address{}, retryLost, nil
	}
	if a, ok := choose(set, others, used, random); ok {
		return a, retryNone, nil
	}
	return Address{}, retryNone, ErrExhausted
}

// claim makes block b this host's: a new claim when modRev is 0, else a
// takeover of the claim last modified at modRev, allowed only while the
// block holds no reservation.
func (s *Store) claim(ctx context.Context, b netip.Prefix, modRev int64) (bool, error) {
	v, err := json.Marshal(claim{Host: s.host})
	if err != nil {
		return false, err
	}
	k := s.blockKey(b)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)}
	if modRev != 0 {
		cmps = []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(k), "=", modRev),
			s.noneReserved(b),
		}
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(k, string(v))).Commit()
	if err != nil {
		return false, fmt.Errorf("claiming block %s: %w", b, err)
	}
	return resp.Succeeded, nil
}

// used reads the reserved addresses of each block, batched.
func (s *Store) used(ctx context.Context, blocks []netip.Prefix) (map[netip.Prefix]map[netip.Addr]bool, error) {
	out := make(map[netip.Prefix]map[netip.Addr]bool, len(blocks))
	for chunk := range slices.Chunk(blocks, txnOps) {
		ops := make([]clientv3.Op, len(chunk))
		for i, b := range chunk {
			start, end := s.ipRange(b)
			ops[i] = clientv3.OpGet(start, clientv3.WithRange(end), clientv3.WithKeysOnly())
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("listing reserved addresses of %d blocks: %w", len(chunk), err)
		}
		for i, b := range chunk {
			m := map[netip.Addr]bool{}
			for _, kv := range resp.Responses[i].GetResponseRange().Kvs {
				if a, err := parseSortableAddr(strings.TrimPrefix(string(kv.Key), s.prefix+"ips/")); err == nil && b.Contains(a) {
					m[a] = true
				}
			}
			out[b] = m
		}
	}
	return out, nil
}

// candidates is how many free addresses a random choice draws from.
const candidates = 32

// choose returns a free usable address of set in blocks: the first one, or
// when random one of the first few.
func choose(set []Range, blocks []netip.Prefix, used map[netip.Prefix]map[netip.Addr]bool, random bool) (Address, bool) {
	var found []Address
	for _, r := range set {
		for _, b := range blocks {
			if !overlaps(r, b) {
				continue
			}
			for a := range r.Free(b, func(a netip.Addr) bool { return used[b][a] }) {
				found = append(found, Address{Address: netip.PrefixFrom(a, r.Subnet.Bits()), Gateway: r.Gateway})
				if !random {
					return found[0], true
				}
				if len(found) == candidates {
					return found[rand.IntN(len(found))], true
				}
			}
		}
	}
	if len(found) == 0 {
		return Address{}, false
	}
	return found[rand.IntN(len(found))], true
}

func hasUsable(r Range, b netip.Prefix) bool {
	for range r.Free(b, func(netip.Addr) bool { return false }) {
		return true
	}
	return false
}

// backoff sleeps a random while that grows with the number of lost
// compare-and-swaps, up to 50ms.
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

func addrList(ips []Address) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.Address.Addr().String()
	}
	return strings.Join(s, ",")
}
