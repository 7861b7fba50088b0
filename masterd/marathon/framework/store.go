package framework

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
	"corral/masterd/state"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// records are the framework's collections in etcd. Apps and their versions
// are stored one per key, so that the root may hold thousands of apps
// without meeting etcd's request size limit.
type records struct {
	store       *state.Store
	apps        state.Collection[marathon.App]  // by SafeID
	versions    state.Collection[marathon.App]  // by SafeID@version
	groups      state.Collection[model.Group]   // by SafeID
	deployments state.Collection[deployment]    // by deployment ID
	instances   state.Collection[instance]      // by task ID
	meta        state.Collection[frameworkMeta] // "marathon"
}

// frameworkMeta is the framework's own record.
type frameworkMeta struct {
	FrameworkID string `json:"frameworkId"`
	RootVersion string `json:"rootVersion"`
}

// maxTxnOps stays under etcd's default --max-txn-ops (128).
const maxTxnOps = 100

func newRecords(s *state.Store) records {
	return records{
		store:       s,
		apps:        state.NewCollection[marathon.App](s, "marathon-apps"),
		versions:    state.NewCollection[marathon.App](s, "marathon-app-versions"),
		groups:      state.NewCollection[model.Group](s, "marathon-groups"),
		deployments: state.NewCollection[deployment](s, "marathon-deployments"),
		instances:   state.NewCollection[instance](s, "marathon-instances"),
		meta:        state.NewCollection[frameworkMeta](s, "marathon-framework"),
	}
}

func versionKey(appID, version string) string { return marathon.SafeID(appID) + "@" + version }

// loaded is everything read back when a leader starts.
type loaded struct {
	meta        frameworkMeta
	root        model.Root
	deployments []*deployment
	instances   map[string]*instance
}

func (r records) load(ctx context.Context) (loaded, error) {
	var l loaded
	meta, _, err := r.meta.Get(ctx, "marathon")
	if err != nil {
		return l, err
	}
	l.meta = meta
	apps, err := r.apps.List(ctx)
	if err != nil {
		return l, err
	}
	groups, err := r.groups.List(ctx)
	if err != nil {
		return l, err
	}
	l.root = model.Root{Version: meta.RootVersion, Apps: map[string]marathon.App{}, Groups: map[string]model.Group{}}
	for _, a := range apps {
		l.root.Apps[a.ID] = a
	}
	for _, g := range groups {
		l.root.Groups[g.ID] = g
	}
	deps, err := r.deployments.List(ctx)
	if err != nil {
		return l, err
	}
	for _, d := range deps {
		d := d
		l.deployments = append(l.deployments, &d)
	}
	sort.Slice(l.deployments, func(i, j int) bool { return l.deployments[i].Seq < l.deployments[j].Seq })
	insts, err := r.instances.List(ctx)
	if err != nil {
		return l, err
	}
	l.instances = make(map[string]*instance, len(insts))
	for id, in := range insts {
		in := in
		l.instances[id] = &in
	}
	return l, nil
}

// batch collects writes and commits them in transactions of at most
// maxTxnOps operations.
type batch struct {
	r   records
	ops []clientv3.Op
	err error
}

func (b *batch) put(op clientv3.Op, err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
	b.ops = append(b.ops, op)
}

func (b *batch) del(op clientv3.Op) { b.ops = append(b.ops, op) }

func (b *batch) commit(ctx context.Context) error {
	if b.err != nil {
		return b.err
	}
	for len(b.ops) > 0 {
		n := min(len(b.ops), maxTxnOps)
		if err := b.r.store.Apply(ctx, b.ops[:n]...); err != nil {
			return err
		}
		b.ops = b.ops[n:]
	}
	return nil
}

// saveRoot adds the writes that turn the stored root from old into root:
// changed apps (and their new versions), removed apps, groups and the root
// version.
func (b *batch) saveRoot(old, root model.Root, meta frameworkMeta) {
	for id, a := range root.Apps {
		if o, ok := old.Apps[id]; ok && o.Version == a.Version && sameApp(o, a) {
			continue
		}
		b.put(b.r.apps.PutOp(marathon.SafeID(id), a))
		b.put(b.r.versions.PutOp(versionKey(id, a.Version), a))
	}
	for id := range old.Apps {
		if _, ok := root.Apps[id]; !ok {
			b.del(b.r.apps.DeleteOp(marathon.SafeID(id)))
		}
	}
	for id, g := range root.Groups {
		b.put(b.r.groups.PutOp(marathon.SafeID(id), g))
	}
	for id := range old.Groups {
		if _, ok := root.Groups[id]; !ok {
			b.del(b.r.groups.DeleteOp(marathon.SafeID(id)))
		}
	}
	meta.RootVersion = root.Version
	b.put(b.r.meta.PutOp("marathon", meta))
}

// appVersions lists the stored versions of an app, newest first.
func (r records) appVersions(ctx context.Context, appID string) ([]string, error) {
	keys, err := r.versions.Keys(ctx, marathon.SafeID(appID)+"@")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k[strings.LastIndexByte(k, '@')+1:])
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out))) // timestamps sort as text
	return out, nil
}

func (r records) appVersion(ctx context.Context, appID, version string) (marathon.App, bool, error) {
	a, ok, err := r.versions.Get(ctx, versionKey(appID, version))
	if err != nil {
		return a, false, fmt.Errorf("reading version %s of %s: %w", version, appID, err)
	}
	return a, ok, nil
}
