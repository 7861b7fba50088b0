package plan

import (
	"fmt"
	"slices"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// MessageCyclicDependencies is Marathon's message for a root whose
// dependency graph has a cycle, reported at path "/".
const MessageCyclicDependencies = "Dependency graph has cyclic dependencies."

// CheckDependencies validates the dependencies of r's apps and groups, as
// 422 details:
//
//   - a dependency that names neither an app nor a group (recorded, or
//     implied by an app's ID) is reported at
//     "/apps(<app id>)/dependencies(<i>)" or
//     "/groups(<group id>)/dependencies(<i>)";
//   - cycles, as CheckCycles reports them.
//
// Marathon itself accepts unknown dependencies and ignores them when it
// orders steps; use CheckCycles alone for that behaviour.
func CheckDependencies(r model.Root) []marathon.ErrorDetail {
	g, bad := buildGraph(r)
	var out []marathon.ErrorDetail
	for _, u := range bad {
		kind := "apps"
		if u.group {
			kind = "groups"
		}
		path := fmt.Sprintf("/%s(%s)/dependencies(%d)", kind, u.owner, u.index)
		var msg string
		switch {
		case u.err != nil:
			msg = fmt.Sprintf("invalid dependency %q: %v", u.dep, u.err)
		case u.abs != u.dep:
			msg = fmt.Sprintf("unknown dependency %q (%s): no app or group has this ID", u.dep, u.abs)
		default:
			msg = fmt.Sprintf("unknown dependency %q: no app or group has this ID", u.dep)
		}
		out = append(out, marathon.ErrorDetail{Path: path, Errors: []string{msg}})
	}
	return append(out, g.cycleDetails()...)
}

// CheckCycles reports a cycle in the dependency graph of r's apps the way
// Marathon does, one detail at path "/" with MessageCyclicDependencies,
// followed by one entry per cycle naming its apps, as
// "dependency cycle: /a -> /b -> /a". An app that depends on a group that
// contains it depends on itself, which is a cycle. Unknown dependencies are
// ignored. It returns nil when the graph is acyclic.
func CheckCycles(r model.Root) []marathon.ErrorDetail {
	g, _ := buildGraph(r)
	return g.cycleDetails()
}

func (g graph) cycleDetails() []marathon.ErrorDetail {
	cycles := g.cycles()
	if len(cycles) == 0 {
		return nil
	}
	errs := []string{MessageCyclicDependencies}
	for _, c := range cycles {
		errs = append(errs, "dependency cycle: "+strings.Join(c, " -> "))
	}
	return []marathon.ErrorDetail{{Path: "/", Errors: errs}}
}

// cycles returns one cycle per strongly connected component of g that has
// one: the shortest path from the component's smallest ID back to itself,
// that ID written at both ends. Components come in order of their
// smallest ID.
func (g graph) cycles() [][]string {
	var out [][]string
	for _, comp := range g.components() {
		in := map[string]bool{}
		for _, id := range comp {
			in[id] = true
		}
		start := comp[0]
		if len(comp) == 1 && !g.hasEdge(start, start) {
			continue
		}
		out = append(out, g.shortestCycle(start, in))
	}
	return out
}

func (g graph) hasEdge(from, to string) bool {
	_, ok := slices.BinarySearch(g.deps[from], to)
	return ok
}

// shortestCycle finds, breadth first within the apps in, the shortest path
// from start back to start.
func (g graph) shortestCycle(start string, in map[string]bool) []string {
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, d := range g.deps[id] {
			if !in[d] {
				continue
			}
			if d == start {
				path := []string{start}
				for at := id; at != start; at = prev[at] {
					path = append(path, at)
				}
				path = append(path, start)
				slices.Reverse(path) // it was collected from the closing edge back
				return path
			}
			if _, seen := prev[d]; !seen {
				prev[d] = id
				queue = append(queue, d)
			}
		}
	}
	return []string{start, start} // unreachable for a real component
}

// components returns the strongly connected components of g (Tarjan), each
// sorted, in order of their smallest ID.
func (g graph) components() [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var connect func(v string)
	connect = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.deps[v] {
			if _, seen := index[w]; !seen {
				connect(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		out = append(out, comp)
	}
	for _, id := range g.apps {
		if _, seen := index[id]; !seen {
			connect(id)
		}
	}
	for _, c := range out {
		slices.Sort(c)
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}
