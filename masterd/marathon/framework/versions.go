package framework

import (
	"encoding/json"
	"fmt"
	"slices"

	"corral/marathon"
	"corral/masterd/marathon/match"
	"corral/masterd/marathon/model"
	"corral/masterd/marathon/plan"
)

// sameApp reports whether two definitions are equal in every field.
func sameApp(a, b marathon.App) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// stampVersions gives every app of root that differs from its definition in
// old the version ver: a config change (or a restart) moves both
// lastConfigChangeAt and lastScalingAt, a change of instances only
// lastScalingAt. Unchanged apps keep their versions.
func stampVersions(old, root model.Root, ver string, restart map[string]bool) {
	for id, a := range root.Apps {
		o, existed := old.Apps[id]
		// Compare definitions only: whatever version the change carried is
		// replaced here.
		cmp := a
		cmp.Version, cmp.VersionInfo = o.Version, o.VersionInfo
		switch {
		case !existed || restart[id] || plan.NeedsRestart(o, cmp):
			a.Version = ver
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: ver, LastConfigChangeAt: ver}
		case o.Instances != a.Instances:
			a.Version = ver
			last := ver
			if o.VersionInfo != nil {
				last = o.VersionInfo.LastConfigChangeAt
			}
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: ver, LastConfigChangeAt: last}
		default:
			a.Version, a.VersionInfo = o.Version, o.VersionInfo
		}
		root.Apps[id] = a
	}
}

// configVersion is the version whose tasks are current for the app: its
// last config change.
func configVersion(a *marathon.App) string {
	if a.VersionInfo != nil && a.VersionInfo.LastConfigChangeAt != "" {
		return a.VersionInfo.LastConfigChangeAt
	}
	return a.Version
}

// assignServicePorts gives the zero service ports of every new or changed
// app of root cluster-unique ports, reusing an app's previous ports per
// index so that updates keep them. Errors are 422 details.
func assignServicePorts(sp match.ServicePorts, old, root model.Root) []marathon.ErrorDetail {
	used := map[uint32]string{}
	ids := make([]string, 0, len(root.Apps))
	for id := range root.Apps {
		ids = append(ids, id)
		// An app keeps its ports while it exists, changed or not, so
		// that no other app of the same change takes them.
		if o, ok := old.Apps[id]; ok {
			for _, p := range o.ServicePorts() {
				if p != 0 {
					used[uint32(p)] = id
				}
			}
		}
	}
	slices.Sort(ids)
	var details []marathon.ErrorDetail
	for _, id := range ids {
		a := root.Apps[id]
		if o, ok := old.Apps[id]; ok && sameApp(o, a) {
			continue
		}
		ports := a.ServicePorts()
		if len(ports) == 0 {
			continue
		}
		requested := make([]uint32, len(ports))
		var prev []int
		if o, ok := old.Apps[id]; ok {
			prev = o.ServicePorts()
		}
		for i, p := range ports {
			switch {
			case p != 0:
				requested[i] = uint32(p)
			case i < len(prev) && prev[i] != 0 && used[uint32(prev[i])] == "":
				requested[i] = uint32(prev[i])
			}
		}
		got, err := sp.Assign(id, requested, used)
		if err != nil {
			details = append(details, marathon.ErrorDetail{Path: "/apps(" + id + ")/portDefinitions", Errors: []string{err.Error()}})
			continue
		}
		for _, p := range got {
			used[p] = id
		}
		root.Apps[id] = withServicePorts(a, got)
	}
	return details
}

// withServicePorts returns a with its service ports set, copying the
// slices it changes.
func withServicePorts(a marathon.App, ports []uint32) marathon.App {
	if a.HasNonHostNetworks() {
		c := *a.Container
		c.PortMappings = slices.Clone(c.PortMappings)
		for i := range c.PortMappings {
			c.PortMappings[i].ServicePort = int(ports[i])
		}
		a.Container = &c
		return a
	}
	a.PortDefinitions = slices.Clone(a.PortDefinitions)
	for i := range a.PortDefinitions {
		a.PortDefinitions[i].Port = int(ports[i])
	}
	return a
}

// checkServicePortConflicts finds explicit service ports claimed twice.
func checkServicePortConflicts(root model.Root) []marathon.ErrorDetail {
	owner := map[int]string{}
	ids := make([]string, 0, len(root.Apps))
	for id := range root.Apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var details []marathon.ErrorDetail
	for _, id := range ids {
		a := root.Apps[id]
		for _, p := range a.ServicePorts() {
			if p == 0 {
				continue
			}
			if o, ok := owner[p]; ok && o != id {
				details = append(details, marathon.ErrorDetail{Path: "/apps(" + id + ")/portDefinitions",
					Errors: []string{fmt.Sprintf("service port %d is already used by app %s", p, o)}})
			}
			owner[p] = id
		}
	}
	return details
}
