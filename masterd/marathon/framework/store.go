package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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

// batch collects writes and commits them.
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

// commit writes the batch in one transaction: a new leader finds all of
// it or none. A batch beyond the store's limits is refused, unwritten,
// with a 413.
func (b *batch) commit(ctx context.Context) error {
	if b.err != nil {
		return b.err
	}
	err := b.r.store.Apply(ctx, b.ops...)
	var tl *state.TooLargeError
	if errors.As(err, &tl) {
		return &marathon.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf(
			"The change is too large to store: %d records of about %d bytes in all, the store takes at most %d records and %d bytes in one change (split the change, or raise --etcd-max-txn-ops and --etcd-max-request-bytes)",
			tl.Ops, tl.Bytes, tl.Limits.MaxTxnOps, tl.Limits.MaxRequestBytes)}
	}
	return err
}

// commitInBatches writes the batch in as few transactions as the store's
// limits allow, for records that stand on their own (instances).
func (b *batch) commitInBatches(ctx context.Context) error {
	if b.err != nil {
		return b.err
	}
	return b.r.store.ApplyInBatches(ctx, b.ops...)
}

// saveRoot adds the writes that turn the stored root from old into root:
// changed apps (and their new versions, dropping the oldest beyond
// maxVersions), removed apps and their versions, changed groups and the
// root version. It returns the apps' version lists after the change,
// oldest first (nil for a removed app), given those before in versions.
func (b *batch) saveRoot(old, root model.Root, meta frameworkMeta, versions map[string][]string, maxVersions int) map[string][]string {
	lists := map[string][]string{}
	for id, a := range root.Apps {
		if o, ok := old.Apps[id]; ok && o.Version == a.Version && sameApp(o, a) {
			continue
		}
		b.put(b.r.apps.PutOp(marathon.SafeID(id), a))
		b.put(b.r.versions.PutOp(versionKey(id, a.Version), a))
		vs := slices.Clone(versions[id])
		if n := len(vs); n == 0 || vs[n-1] != a.Version {
			vs = append(vs, a.Version)
		}
		for len(vs) > max(1, maxVersions) {
			b.del(b.r.versions.DeleteOp(versionKey(id, vs[0])))
			vs = vs[1:]
		}
		lists[id] = vs
	}
	for id := range old.Apps {
		if _, ok := root.Apps[id]; !ok {
			b.del(b.r.apps.DeleteOp(marathon.SafeID(id)))
			b.del(b.r.versions.DeletePrefixOp(marathon.SafeID(id) + "@"))
			lists[id] = nil
		}
	}
	for id, g := range root.Groups {
		if o, ok := old.Groups[id]; ok && sameGroup(o, g) {
			continue
		}
		b.put(b.r.groups.PutOp(marathon.SafeID(id), g))
	}
	for id := range old.Groups {
		if _, ok := root.Groups[id]; !ok {
			b.del(b.r.groups.DeleteOp(marathon.SafeID(id)))
		}
	}
	meta.RootVersion = root.Version
	b.put(b.r.meta.PutOp("marathon", meta))
	return lists
}

// sameGroup reports whether two group records are equal.
func sameGroup(a, b model.Group) bool {
	return a.ID == b.ID && a.Version == b.Version && slices.Equal(a.Dependencies, b.Dependencies) &&
		(a.EnforceRole == nil) == (b.EnforceRole == nil) && (a.EnforceRole == nil || *a.EnforceRole == *b.EnforceRole)
}

// loadVersions lists the stored versions of the apps of root, oldest
// first, from the keys alone.
func (r records) loadVersions(ctx context.Context, root model.Root) (map[string][]string, error) {
	keys, err := r.versions.Keys(ctx, "")
	if err != nil {
		return nil, err
	}
	bySafe := make(map[string]string, len(root.Apps))
	for id := range root.Apps {
		bySafe[marathon.SafeID(id)] = id
	}
	out := map[string][]string{}
	for _, k := range keys { // in key order: versions of an app oldest first
		i := strings.LastIndexByte(k, '@')
		if id, ok := bySafe[k[:max(i, 0)]]; ok && i >= 0 {
			out[id] = append(out[id], k[i+1:])
		}
	}
	return out, nil
}

func (r records) appVersion(ctx context.Context, appID, version string) (marathon.App, bool, error) {
	a, ok, err := r.versions.Get(ctx, versionKey(appID, version))
	if err != nil {
		return a, false, fmt.Errorf("reading version %s of %s: %w", version, appID, err)
	}
	return a, ok, nil
}
