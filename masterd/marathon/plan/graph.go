package plan

import (
	"slices"
	"sort"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// graph is the dependency graph of a root's apps, Marathon's
// RootGroup.dependencyGraph: deps[a] lists the apps a must follow, sorted
// and without duplicates. An app that depends on a group depends on every
// app below it; a group's dependencies are those of every app below it.
// Self-loops are kept: an app that depends on its own group is a cycle.
type graph struct {
	apps []string // every app, sorted
	deps map[string][]string
}

// unresolved is a dependency that names neither an app nor a group.
type unresolved struct {
	owner string // the app or group that declares it
	group bool   // owner is a group
	index int    // position in the owner's dependencies
	dep   string // as declared
	abs   string // canonical, "" when the ID is invalid
	err   error  // why it could not be canonicalised
}

// buildGraph builds the graph of r and lists the dependencies it could not
// resolve. An app's relative dependency is relative to the app's group, a
// group's relative dependency to the group itself, as Marathon
// canonicalises them. A dependency names an app if one has that ID, else
// a group: one recorded in r.Groups or implied by app IDs (the root
// included).
func buildGraph(r model.Root) (graph, []unresolved) {
	g := graph{apps: make([]string, 0, len(r.Apps)), deps: map[string][]string{}}
	for id := range r.Apps {
		g.apps = append(g.apps, id)
	}
	sort.Strings(g.apps)
	groups := map[string]bool{}
	for _, id := range r.GroupIDs() {
		groups[id] = true
	}
	edges := map[string]map[string]bool{}
	add := func(from, to []string) {
		for _, f := range from {
			if edges[f] == nil {
				edges[f] = map[string]bool{}
			}
			for _, t := range to {
				edges[f][t] = true
			}
		}
	}
	var bad []unresolved
	for _, id := range g.apps {
		for i, dep := range r.Apps[id].Dependencies {
			to, u := g.resolve(r, groups, dep, marathon.ParentID(id))
			if u != nil {
				u.owner, u.index = id, i
				bad = append(bad, *u)
				continue
			}
			add([]string{id}, to)
		}
	}
	gids := make([]string, 0, len(r.Groups))
	for id := range r.Groups {
		gids = append(gids, id)
	}
	sort.Strings(gids)
	for _, gid := range gids {
		members := g.below(gid)
		for i, dep := range r.Groups[gid].Dependencies {
			to, u := g.resolve(r, groups, dep, gid)
			if u != nil {
				u.owner, u.group, u.index = gid, true, i
				bad = append(bad, *u)
				continue
			}
			add(members, to)
		}
	}
	for from, set := range edges {
		to := make([]string, 0, len(set))
		for t := range set {
			to = append(to, t)
		}
		sort.Strings(to)
		g.deps[from] = to
	}
	return g, bad
}

// resolve returns the apps that dep, relative to base, stands for.
func (g graph) resolve(r model.Root, groups map[string]bool, dep, base string) ([]string, *unresolved) {
	abs, err := marathon.CanonicalID(dep, base)
	if err != nil {
		return nil, &unresolved{dep: dep, err: err}
	}
	if _, ok := r.Apps[abs]; ok {
		return []string{abs}, nil
	}
	if groups[abs] {
		return g.below(abs), nil
	}
	return nil, &unresolved{dep: dep, abs: abs}
}

// below returns the apps in group gid or its subgroups, sorted.
func (g graph) below(gid string) []string {
	var out []string
	for _, id := range g.apps {
		if marathon.IDIncludes(gid, id) {
			out = append(out, id)
		}
	}
	return out
}

// depths returns, for every app, the number of apps on the longest
// dependency chain that starts at it: 1 for an app without dependencies.
// Apps of equal depth never depend on one another, so Marathon deploys
// them in one step, shallowest first. An edge that would close a cycle is
// ignored, so a cyclic graph (which CheckCycles rejects) still terminates.
func (g graph) depths() map[string]int {
	const onStack = -1
	depth := make(map[string]int, len(g.apps))
	var visit func(id string) int
	visit = func(id string) int {
		if d, ok := depth[id]; ok {
			return d
		}
		depth[id] = onStack
		best := 0
		for _, dep := range g.deps[id] {
			if d := visit(dep); d > best {
				best = d
			}
		}
		depth[id] = best + 1
		return best + 1
	}
	for _, id := range g.apps {
		visit(id)
	}
	return depth
}

// levels groups ids by their depth, shallowest first, each level sorted.
func levels(ids []string, depth map[string]int) [][]string {
	byDepth := map[int][]string{}
	for _, id := range ids {
		byDepth[depth[id]] = append(byDepth[depth[id]], id)
	}
	keys := make([]int, 0, len(byDepth))
	for k := range byDepth {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([][]string, 0, len(keys))
	for _, k := range keys {
		l := byDepth[k]
		slices.Sort(l)
		out = append(out, l)
	}
	return out
}
