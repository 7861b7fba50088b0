package state_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/mesos"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCollectionRoundTrip(t *testing.T) {
	e, _ := statetest.Start(t)
	ctx := context.Background()
	agents := state.NewStore(e.Client).Agents()
	rec := state.Agent{Info: mesos.AgentInfo{ID: "m-S1", Hostname: "h1", Resources: mesos.MustParseResources("cpus:4;ports:[31000-32000]")}}
	if err := agents.Put(ctx, "m-S1", rec); err != nil {
		t.Fatal(err)
	}
	got, ok, err := agents.Get(ctx, "m-S1")
	if err != nil || !ok || got.Info.Hostname != "h1" || !got.Info.Resources.Equal(rec.Info.Resources) {
		t.Fatalf("Get(m-S1) = %+v, %v, %v; want the record put", got, ok, err)
	}
	all, err := agents.List(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("List() = %v, %v; want 1 record", all, err)
	}
	if err := agents.Delete(ctx, "m-S1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := agents.Get(ctx, "m-S1"); ok {
		t.Fatal("record still present after Delete")
	}
}

func TestFencedWriteRefusedAfterFenceFails(t *testing.T) {
	e, _ := statetest.Start(t)
	ctx := context.Background()
	if _, err := e.Client.Put(ctx, "/corral/leader/x", "me"); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.Client.Get(ctx, "/corral/leader/x")
	rev := resp.Kvs[0].CreateRevision
	fenced := state.NewStore(e.Client).Fenced(clientv3.Compare(clientv3.CreateRevision("/corral/leader/x"), "=", rev))
	if err := fenced.Frameworks().Put(ctx, "f1", state.Framework{}); err != nil {
		t.Fatalf("fenced Put while the fence holds = %v, want nil", err)
	}
	// Leadership passes on: the key is deleted and created again.
	e.Client.Delete(ctx, "/corral/leader/x")
	e.Client.Put(ctx, "/corral/leader/x", "other")
	err := fenced.Frameworks().Put(ctx, "f2", state.Framework{})
	if !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("fenced Put after losing the fence = %v, want ErrNotLeader", err)
	}
	if _, ok, _ := fenced.Frameworks().Get(ctx, "f2"); ok {
		t.Fatal("a deposed leader's write landed")
	}
}

func TestOpenWithFirstEndpointDown(t *testing.T) {
	_, url := statetest.Start(t)
	dead := fmt.Sprintf("http://127.0.0.1:%d", statetest.FreePort(t))
	cfg := state.Config{Endpoints: []string{dead, url}, DialTimeout: 3 * time.Second}
	e, err := state.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("Open(%v) with one of two endpoints down = %v, want it to use the other", cfg.Endpoints, err)
	}
	e.Close()
}

func TestOpenUnreachableEtcdSaysSo(t *testing.T) {
	dead := fmt.Sprintf("http://127.0.0.1:%d", statetest.FreePort(t))
	cfg := state.Config{Endpoints: []string{dead}, DialTimeout: 300 * time.Millisecond}
	_, err := state.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("Open of an etcd nobody serves succeeded")
	}
	want := "etcd at " + dead + " did not answer within 300ms"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--etcd-endpoints") {
		t.Fatalf("Open error = %q, want it to contain %q and name --etcd-endpoints", err, want)
	}
}

// TestApplyWithinLimits: a transaction beyond the store's limits is refused
// before anything is written; ApplyInBatches splits what may be split.
func TestApplyWithinLimits(t *testing.T) {
	e, _ := statetest.Start(t)
	ctx := context.Background()
	s := state.NewStore(e.Client).WithLimits(state.Limits{MaxTxnOps: 8, MaxRequestBytes: 64 << 10})
	agents := s.Agents()
	var ops []clientv3.Op
	for i := range 10 {
		op, err := agents.PutOp(fmt.Sprintf("a%d", i), state.Agent{Info: mesos.AgentInfo{Hostname: strings.Repeat("h", 1000)}})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	var tl *state.TooLargeError
	if err := s.Apply(ctx, ops...); !errors.As(err, &tl) {
		t.Fatalf("Apply(10 ops) with a limit of 8 = %v, want a TooLargeError", err)
	}
	if all, _ := agents.List(ctx); len(all) != 0 {
		t.Fatalf("%d records written by a refused transaction", len(all))
	}
	if err := s.ApplyInBatches(ctx, ops...); err != nil {
		t.Fatalf("ApplyInBatches(10 ops) = %v", err)
	}
	if all, _ := agents.List(ctx); len(all) != 10 {
		t.Fatalf("ApplyInBatches wrote %d of 10 records", len(all))
	}
}
