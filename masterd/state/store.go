package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotLeader is returned by a fenced write when the writer's leadership
// ended: the election key it was fenced on is gone or belongs to another.
var ErrNotLeader = errors.New("not the leader: leadership was lost")

// Prefix is the root of every key Corral writes.
const Prefix = "/corral/"

// Store reads and writes typed records under Prefix. A Store made by
// Fenced refuses writes once its leadership ends.
type Store struct {
	cli   *clientv3.Client
	fence []clientv3.Cmp
}

// NewStore returns an unfenced store on cli.
func NewStore(cli *clientv3.Client) *Store { return &Store{cli: cli} }

// Fenced returns a store whose every write succeeds only while cmp holds;
// the leader passes the comparison on its election key's create revision.
func (s *Store) Fenced(cmp clientv3.Cmp) *Store {
	return &Store{cli: s.cli, fence: []clientv3.Cmp{cmp}}
}

// Client returns the etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

func (s *Store) commit(ctx context.Context, ops ...clientv3.Op) error {
	resp, err := s.cli.Txn(ctx).If(s.fence...).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return ErrNotLeader
	}
	return nil
}

// Collection is a set of JSON records of type T under one key prefix.
type Collection[T any] struct {
	store  *Store
	prefix string
}

// NewCollection returns the collection named name (a key segment).
func NewCollection[T any](s *Store, name string) Collection[T] {
	return Collection[T]{store: s, prefix: Prefix + name + "/"}
}

// Put stores v under id.
func (c Collection[T]) Put(ctx context.Context, id string, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s%s: %w", c.prefix, id, err)
	}
	if err := c.store.commit(ctx, clientv3.OpPut(c.prefix+id, string(b))); err != nil {
		return fmt.Errorf("writing %s%s: %w", c.prefix, id, err)
	}
	return nil
}

// Delete removes id; a missing id is not an error.
func (c Collection[T]) Delete(ctx context.Context, id string) error {
	if err := c.store.commit(ctx, clientv3.OpDelete(c.prefix+id)); err != nil {
		return fmt.Errorf("deleting %s%s: %w", c.prefix, id, err)
	}
	return nil
}

// Get returns the record under id and whether it exists.
func (c Collection[T]) Get(ctx context.Context, id string) (T, bool, error) {
	var v T
	resp, err := c.store.cli.Get(ctx, c.prefix+id)
	if err != nil {
		return v, false, fmt.Errorf("reading %s%s: %w", c.prefix, id, err)
	}
	if len(resp.Kvs) == 0 {
		return v, false, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil {
		return v, false, fmt.Errorf("decoding %s%s: %w", c.prefix, id, err)
	}
	return v, true, nil
}

// List returns every record, keyed by id.
func (c Collection[T]) List(ctx context.Context) (map[string]T, error) {
	resp, err := c.store.cli.Get(ctx, c.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", c.prefix, err)
	}
	out := make(map[string]T, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var v T
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
		}
		out[string(kv.Key)[len(c.prefix):]] = v
	}
	return out, nil
}

// Apply commits ops in one transaction, fenced as every write of s.
func (s *Store) Apply(ctx context.Context, ops ...clientv3.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if err := s.commit(ctx, ops...); err != nil {
		return fmt.Errorf("writing %d records: %w", len(ops), err)
	}
	return nil
}

// PutOp returns the operation that stores v under id, for Store.Apply.
func (c Collection[T]) PutOp(id string, v T) (clientv3.Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("encoding %s%s: %w", c.prefix, id, err)
	}
	return clientv3.OpPut(c.prefix+id, string(b)), nil
}

// DeleteOp returns the operation that removes id, for Store.Apply.
func (c Collection[T]) DeleteOp(id string) clientv3.Op { return clientv3.OpDelete(c.prefix + id) }

// DeletePrefixOp returns the operation that removes every id starting with
// prefix, for Store.Apply.
func (c Collection[T]) DeletePrefixOp(prefix string) clientv3.Op {
	return clientv3.OpDelete(c.prefix+prefix, clientv3.WithPrefix())
}

// Keys lists the ids that start with prefix, in key order, without reading
// their records.
func (c Collection[T]) Keys(ctx context.Context, prefix string) ([]string, error) {
	resp, err := c.store.cli.Get(ctx, c.prefix+prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("listing %s%s: %w", c.prefix, prefix, err)
	}
	out := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = string(kv.Key)[len(c.prefix):]
	}
	return out, nil
}
