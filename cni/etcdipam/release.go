package etcdipam

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Release frees a's addresses, on the host's disk alone and without an
// fsync (see local). Releasing what is not allocated succeeds. The
// emptied block stays the host's, for its next containers, until GC.
func (s *Store) Release(ctx context.Context, a Attachment) error {
	l, err := openLocal(ctx, s.dir)
	if err != nil {
		return err
	}
	defer l.close()
	for _, b := range l.sorted() {
		if slices.ContainsFunc(b.IPs, a.holds) {
			if err := l.release(b, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// GC frees every allocation of this host that keep does not hold, then
// gives up the host's empty blocks in etcd, and the claims of this host
// that have no block file (left by a crash; or every claim, when GC runs
// for a host that is gone, on another machine). It goes on past errors and
// returns them all.
func (s *Store) GC(ctx context.Context, keep map[Attachment]bool) error {
	l, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer l.close()
	var errs []error
	for _, b := range l.sorted() {
		left := slices.DeleteFunc(slices.Clone(b.IPs), func(x allocation) bool {
			return !keep[Attachment{ContainerID: x.ContainerID, IfName: x.IfName}]
		})
		switch {
		case len(left) == 0:
			// The file goes first: a crash before the release leaves a
			// claim without a file, which is empty by construction.
			if err := l.drop(b.Block); err != nil {
				errs = append(errs, err)
			}
		case len(left) < len(b.IPs):
			b.IPs = left
			if err := l.write(b); err != nil {
				errs = append(errs, err)
			}
		}
	}
	cs, err := s.claims(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, c := range cs {
		if c.host != s.host || l.blocks[c.block] != nil {
			continue
		}
		if err := s.release(ctx, c.block, c.rev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Check verifies that a holds an address in every range set and that
// etcd still gives their blocks to this host, and returns the addresses.
func (s *Store) Check(ctx context.Context, a Attachment) ([]Address, error) {
	l, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer l.close()
	held := l.lookup(a)
	var out []Address
	for i, set := range s.sets {
		j := slices.IndexFunc(held, func(x allocation) bool { return inSet(set, x.Address.Address.Addr()) })
		if j < 0 {
			return nil, fmt.Errorf("container %s interface %s on host %s has no address in range set %d (%s): %w", a.ContainerID, a.IfName, s.host, i, setString(set), ErrNoReservation)
		}
		out = append(out, held[j].Address)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("container %s interface %s on host %s: %w", a.ContainerID, a.IfName, s.host, ErrNoReservation)
	}
	cs, err := s.claims(ctx)
	if err != nil {
		return nil, err
	}
	for _, addr := range out {
		for _, b := range l.blocks {
			if !b.Block.Contains(addr.Address.Addr()) {
				continue
			}
			if !slices.ContainsFunc(cs, func(c claimed) bool { return c.block == b.Block && c.host == s.host && c.rev == b.Claim }) {
				return nil, fmt.Errorf("address %s of container %s interface %s: block %s is no longer claimed by host %s in etcd: %w", addr.Address.Addr(), a.ContainerID, a.IfName, b.Block, s.host, ErrNoReservation)
			}
		}
	}
	return out, nil
}

// Status reports whether ADD can give an address of every range set: from
// the host's blocks without etcd, or else from a block etcd has free.
func (s *Store) Status(ctx context.Context) error {
	l, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer l.close()
	var cs []claimed
	listed := false
	for i, set := range s.sets {
		if _, _, ok := firstFree(l, set); ok {
			continue
		}
		if !listed {
			if cs, err = s.claims(ctx); err != nil {
				return err
			}
			listed = true
		}
		if _, ok := s.nextBlock(l, set, cs); !ok {
			return fmt.Errorf("range set %d (%s) has no free block and host %s's blocks are full: %w", i, setString(set), s.host, ErrExhausted)
		}
	}
	return nil
}
