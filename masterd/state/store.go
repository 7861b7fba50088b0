package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotLeader is returned by a fenced write when the writer's leadership
// ended: the election key it was fenced on is gone or belongs to another.
var ErrNotLeader = errors.New("not the leader: leadership was lost")

// Prefix is the root of every key Corral writes.
const Prefix = "/corral/"

// DefaultRequestTimeout bounds each read and write of a store: a leader
// whose etcd stopped answering fails its calls rather than waiting for
// ever, and its writers' locks are let go.
const DefaultRequestTimeout = 5 * time.Second

// Limits are what etcd accepts in one transaction.
type Limits struct {
	MaxTxnOps       int // etcd's --max-txn-ops
	MaxRequestBytes int // etcd's --max-request-bytes
}

// TooLargeError refuses a transaction etcd would refuse, before it is
// sent: nothing of it is written.
type TooLargeError struct {
	Ops, Bytes int // what the transaction holds (bytes estimated)
	Limits     Limits
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a transaction of %d operations and about %d bytes exceeds the store's limits of %d operations and %d bytes",
		e.Ops, e.Bytes, e.Limits.MaxTxnOps, e.Limits.MaxRequestBytes)
}

// grpcOverhead is what a request's encoding may add to its keys and
// values, besides opOverhead per operation.
const (
	grpcOverhead = 512 << 10
	opOverhead   = 32
	txnOverhead  = 1 << 10
)

// Store reads and writes typed records under Prefix. A Store made by
// Fenced refuses writes once its leadership ends. Every call has a
// deadline.
type Store struct {
	cli     *clientv3.Client
	fence   []clientv3.Cmp
	limits  Limits
	timeout time.Duration
}

// NewStore returns an unfenced store on cli, assuming etcd's default
// limits; Etcd.Store knows the limits of the etcd it opened.
func NewStore(cli *clientv3.Client) *Store {
	return &Store{cli: cli, limits: Limits{MaxTxnOps: EtcdMaxTxnOps, MaxRequestBytes: EtcdMaxRequestBytes},
		timeout: DefaultRequestTimeout}
}

// Fenced returns a store whose every write succeeds only while cmp holds;
// the leader passes the comparison on its election key's create revision.
func (s *Store) Fenced(cmp clientv3.Cmp) *Store {
	f := *s
	f.fence = []clientv3.Cmp{cmp}
	return &f
}

// WithLimits returns a store that assumes etcd accepts l.
func (s *Store) WithLimits(l Limits) *Store {
	c := *s
	c.limits = l
	return &c
}

// Limits returns what the store writes in one transaction at most.
func (s *Store) Limits() Limits { return s.limits }

// Client returns the etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

// deadline bounds one call.
func (s *Store) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Size estimates the bytes of a transaction of ops as etcd counts them
// against its --max-request-bytes.
func Size(ops ...clientv3.Op) int {
	n := txnOverhead
	for _, op := range ops {
		n += len(op.KeyBytes()) + len(op.ValueBytes()) + len(op.RangeBytes()) + opOverhead
	}
	return n
}

// check refuses ops that do not fit in one transaction.
func (s *Store) check(ops []clientv3.Op) error {
	n := Size(ops...)
	for _, c := range s.fence {
		n += len(c.KeyBytes()) + opOverhead
	}
	if len(ops) > s.limits.MaxTxnOps || n > s.limits.MaxRequestBytes {
		return &TooLargeError{Ops: len(ops), Bytes: n, Limits: s.limits}
	}
	return nil
}

func (s *Store) commit(ctx context.Context, ops ...clientv3.Op) error {
	if err := s.check(ops); err != nil {
		return err
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
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
	ctx, cancel := c.store.deadline(ctx)
	defer cancel()
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
	ctx, cancel := c.store.deadline(ctx)
	defer cancel()
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

// Apply commits ops in one transaction, fenced as every write of s: all
// of them land or none. Ops beyond the store's limits are refused with a
// *TooLargeError before anything is sent.
func (s *Store) Apply(ctx context.Context, ops ...clientv3.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if err := s.commit(ctx, ops...); err != nil {
		return fmt.Errorf("writing %d records: %w", len(ops), err)
	}
	return nil
}

// ApplyInBatches commits ops in as few transactions as the limits allow,
// in order: for records that stand on their own, such as instances, where
// a prefix that landed is as good as none. It stops at the first failure.
func (s *Store) ApplyInBatches(ctx context.Context, ops ...clientv3.Op) error {
	budget := s.limits.MaxRequestBytes - txnOverhead - len(s.fence)*(opOverhead+64)
	for len(ops) > 0 {
		n, size := 0, 0
		for n < len(ops) && n < s.limits.MaxTxnOps {
			sz := Size(ops[n]) - txnOverhead
			if n > 0 && size+sz > budget {
				break
			}
			size += sz
			n++
		}
		if err := s.Apply(ctx, ops[:n]...); err != nil {
			return err
		}
		ops = ops[n:]
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
	ctx, cancel := c.store.deadline(ctx)
	defer cancel()
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
