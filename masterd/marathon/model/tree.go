package model

import (
	"sort"

	"corral/marathon"
)

// GroupIDs returns every group of r: the root, the groups it records and
// every group an app's ID implies, sorted.
func (r Root) GroupIDs() []string {
	set := map[string]bool{marathon.RootID: true}
	add := func(id string) {
		for !marathon.IsRootID(id) && !set[id] {
			set[id] = true
			id = marathon.ParentID(id)
		}
	}
	for id := range r.Groups {
		add(id)
	}
	for id := range r.Apps {
		add(marathon.ParentID(id))
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Tree renders the group id of r and everything below it as /v2/groups
// shows it, each app through render (which adds the embeds a request asks
// for). ok is false when r has no such group.
func (r Root) Tree(id string, render func(marathon.App) marathon.AppInfo) (g marathon.Group, ok bool) {
	ids := r.GroupIDs()
	children := map[string][]string{}
	found := false
	for _, gid := range ids {
		if gid == id {
			found = true
		}
		if !marathon.IsRootID(gid) {
			p := marathon.ParentID(gid)
			children[p] = append(children[p], gid)
		}
	}
	if !found {
		return marathon.Group{}, false
	}
	apps := map[string][]string{}
	for aid := range r.Apps {
		p := marathon.ParentID(aid)
		apps[p] = append(apps[p], aid)
	}
	var build func(gid string) marathon.Group
	build = func(gid string) marathon.Group {
		g := marathon.Group{ID: gid, Version: r.Version, Apps: []marathon.AppInfo{}, Groups: []marathon.Group{}}
		if rec, ok := r.Groups[gid]; ok {
			g.Dependencies = rec.Dependencies
			g.EnforceRole = rec.EnforceRole
			if rec.Version != "" {
				g.Version = rec.Version
			}
		}
		as := apps[gid]
		sort.Strings(as)
		for _, aid := range as {
			g.Apps = append(g.Apps, render(r.Apps[aid]))
		}
		for _, c := range children[gid] { // ids were sorted, so children are
			g.Groups = append(g.Groups, build(c))
		}
		return g
	}
	return build(id), true
}

// Definition renders an app with no embeds.
func Definition(a marathon.App) marathon.AppInfo { return marathon.AppInfo{App: a} }
