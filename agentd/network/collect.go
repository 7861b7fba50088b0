package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

// Collect releases every network resource of this agent that belongs to no
// task in live: the networks of tasks that ended while agentd was away, and
// what a crash in the middle of a setup or teardown left. Everything agentd
// creates for a task is named or tagged after the task and created only
// after the task's record, pinned namespace or address reservation exists in
// the state directory, and the record goes last: so the tasks found there
// are all there is to collect, and another agentd's tasks in the same
// namespace are never touched. Then CNI GC runs on every configured network
// with the live tasks' attachments as the valid ones. Call Collect once at
// start, after recovering the live tasks and before launching new ones.
func (m *Manager) Collect(ctx context.Context, live []string) error {
	isLive := map[string]bool{}
	for _, id := range live {
		isLive[id] = true
	}
	var errs []error
	recs, err := m.records()
	if err != nil {
		errs = append(errs, err)
	}
	liveRecs := map[string]record{}
	dead := map[string]record{}
	for _, rec := range recs {
		if isLive[rec.ID] {
			liveRecs[rec.ID] = rec
		} else {
			dead[rec.ID] = rec
		}
	}
	// Pins and reservations without a record: a crash between their
	// creation and the record's, or a record lost.
	var orphans []string
	if entries, err := os.ReadDir(netnsDir(m.cfg)); err == nil {
		for _, e := range entries {
			orphans = append(orphans, e.Name())
		}
	}
	owners, err := m.alloc.Owners()
	if err != nil {
		errs = append(errs, err)
	}
	for _, owner := range owners {
		orphans = append(orphans, owner)
	}
	for _, id := range orphans {
		if _, ok := dead[id]; ok || isLive[id] {
			continue
		}
		if !cniID.MatchString(id) {
			// Not a task of ours (an interrupted reservation has no owner):
			// free the address, touch nothing named after it.
			if err := m.alloc.Release(id); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		dead[id] = record{ID: id, NetNS: m.nsPath(id)}
	}
	ids := make([]string, 0, len(dead))
	for id := range dead {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m.log.Info("releasing the network of a task that is gone", "task", id)
		if err := m.teardown(ctx, dead[id]); err != nil {
			errs = append(errs, fmt.Errorf("task %s: %w", id, err))
		}
	}
	errs = append(errs, m.gc(ctx, liveRecs)...)
	return errors.Join(errs...)
}

// gcTimeout bounds CNI GC at start, which delays agentd's registration.
const gcTimeout = 30 * time.Second

// gc runs CNI GC on every configured network: libcni DELs its cached
// attachments that are not valid, and plugins of spec 1.1.0 release
// whatever else they hold for this host (corral-ipam's addresses).
func (m *Manager) gc(ctx context.Context, live map[string]record) []error {
	lists, errs := allConfLists(m.cfg.CNIConfDir)
	if len(lists) == 0 {
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, gcTimeout)
	defer cancel()
	valid := map[string][]types.GCAttachment{}
	for id, rec := range live {
		for _, a := range rec.CNI {
			valid[a.Network] = append(valid[a.Network], types.GCAttachment{ContainerID: id, IfName: a.IfName})
		}
	}
	for _, list := range lists {
		if err := m.cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid[list.Name]}); err != nil {
			errs = append(errs, fmt.Errorf("CNI GC of network %q: %w", list.Name, err))
		}
	}
	return errs
}
