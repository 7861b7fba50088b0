package etcdipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Release frees a's addresses. Releasing what is not reserved succeeds.
func (s *Store) Release(ctx context.Context, a Attachment) error {
	for range maxAttempts {
		resp, err := s.cli.Get(ctx, s.attachKey(a))
		if err != nil {
			return fmt.Errorf("reading attachment %s/%s: %w", a.ContainerID, a.IfName, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		done, err := s.release(ctx, string(resp.Kvs[0].Key), resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("releasing %s/%s: %w", a.ContainerID, a.IfName, ErrContention)
}

// release deletes the attachment at key, read at modRev with value v,
// together with its address and index keys.
func (s *Store) release(ctx context.Context, key string, v []byte, modRev int64) (bool, error) {
	var rec record
	if err := json.Unmarshal(v, &rec); err != nil {
		return false, fmt.Errorf("decoding %s: %w", key, err)
	}
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	for _, ip := range rec.IPs {
		ops = append(ops, clientv3.OpDelete(s.ipKey(ip.Address.Addr())))
	}
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("releasing %s of %s: %w", addrList(rec.IPs), key, err)
	}
	return resp.Succeeded, nil
}

// GC releases every attachment of this host that keep does not hold, then
// gives up the host's empty blocks. It goes on past errors and returns them
// all.
func (s *Store) GC(ctx context.Context, keep map[Attachment]bool) error {
	resp, err := s.cli.Get(ctx, s.attachPrefix(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("listing attachments of host %s: %w", s.host, err)
	}
	var errs []error
	for _, kv := range resp.Kvs {
		cid, ifname, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), s.attachPrefix()), "/")
		if !ok || keep[Attachment{ContainerID: cid, IfName: ifname}] {
			continue
		}
		if _, err := s.release(ctx, string(kv.Key), kv.Value, kv.ModRevision); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.releaseEmptyBlocks(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// releaseEmptyBlocks deletes this host's claims on blocks that hold no
// reservation, so that other hosts may claim them.
func (s *Store) releaseEmptyBlocks(ctx context.Context) error {
	resp, err := s.cli.Get(ctx, s.prefix+"blocks/", clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("listing blocks: %w", err)
	}
	var errs []error
	for _, kv := range resp.Kvs {
		var c claim
		if json.Unmarshal(kv.Value, &c) != nil || c.Host != s.host {
			continue
		}
		b, err := parseBlockName(strings.TrimPrefix(string(kv.Key), s.prefix+"blocks/"))
		if err != nil {
			continue
		}
		_, err = s.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
			s.noneReserved(b),
		).Then(clientv3.OpDelete(string(kv.Key))).Commit()
		if err != nil {
			errs = append(errs, fmt.Errorf("releasing block %s: %w", b, err))
		}
	}
	return errors.Join(errs...)
}

// Check verifies that a's reservation exists and that each of its
// addresses is reserved for a, and returns the addresses.
func (s *Store) Check(ctx context.Context, a Attachment) ([]Address, error) {
	got, ok, err := s.Lookup(ctx, a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("container %s interface %s on host %s: %w", a.ContainerID, a.IfName, s.host, ErrNoReservation)
	}
	want := owner{Host: s.host, ContainerID: a.ContainerID, IfName: a.IfName}
	for _, ip := range got {
		resp, err := s.cli.Get(ctx, s.ipKey(ip.Address.Addr()))
		if err != nil {
			return nil, fmt.Errorf("reading reservation of %s: %w", ip.Address.Addr(), err)
		}
		var o owner
		if len(resp.Kvs) == 0 || json.Unmarshal(resp.Kvs[0].Value, &o) != nil || o != want {
			return nil, fmt.Errorf("address %s of container %s interface %s is not reserved for it: %w", ip.Address.Addr(), a.ContainerID, a.IfName, ErrNoReservation)
		}
	}
	return got, nil
}

// Status reports whether etcd answers (a linearizable read, so a quorum
// is up) and every range set still has a free address.
func (s *Store) Status(ctx context.Context) error {
	resp, err := s.cli.Get(ctx, s.prefix+"ips/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("reading reservations: %w", err)
	}
	count := make([]int64, len(s.sets))
	for _, kv := range resp.Kvs {
		a, err := parseSortableAddr(strings.TrimPrefix(string(kv.Key), s.prefix+"ips/"))
		if err != nil {
			continue
		}
		for i, set := range s.sets {
			if slices.ContainsFunc(set, func(r Range) bool { return r.Usable(a) }) {
				count[i]++
			}
		}
	}
	for i, set := range s.sets {
		capacity := new(big.Int)
		for _, r := range set {
			capacity.Add(capacity, r.Capacity())
		}
		if capacity.Cmp(big.NewInt(count[i])) <= 0 {
			return fmt.Errorf("range set %d (%s) has all %s addresses reserved: %w", i, setString(set), capacity, ErrExhausted)
		}
	}
	return nil
}
