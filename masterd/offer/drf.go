package offer

import (
	"math"
	"slices"
	"strings"

	"corral/mesos"
)

// This file is the DRF sorter: it keeps roles, and the frameworks within
// each role, ordered by dominant share so that an allocation cycle reads
// the order instead of sorting per agent.
//
// A dominant share is the largest fraction of the cluster total that a
// client holds of any scalar resource (cpus, mem, disk, gpus, ...). Ranges
// such as ports are left out, as in Mesos, whose sorter only counts scalar
// quantities: a port number is not a share of anything.

// quantities is a vector of scalar amounts indexed by the allocator's
// resource name numbering (Allocator.index). Vectors grow on demand, so a
// short vector reads as zeros beyond its end.
type quantities []float64

func (q quantities) at(i int) float64 {
	if i < len(q) {
		return q[i]
	}
	return 0
}

// add adds v to entry i, rounding to Mesos's three decimals so that
// repeated grants and returns of 0.1 cpus cancel out exactly.
func (q *quantities) add(i int, v float64) {
	for len(*q) <= i {
		*q = append(*q, 0)
	}
	(*q)[i] = math.Round(((*q)[i]+v)*1000) / 1000
}

// addAll adds sign times o to q.
func (q *quantities) addAll(o quantities, sign float64) {
	for i, v := range o {
		if v != 0 {
			q.add(i, sign*v)
		}
	}
}

// index returns the number of the scalar resource name, numbering it on
// first sight.
func (a *Allocator) index(name string) int {
	i, ok := a.names[name]
	if !ok {
		i = len(a.nameOf)
		a.names[name] = i
		a.nameOf = append(a.nameOf, name)
	}
	return i
}

// charge adds sign times the scalars of r to q.
func (a *Allocator) charge(q *quantities, r mesos.Resources, sign float64) {
	for name, v := range r.Scalars {
		if v != 0 {
			q.add(a.index(name), sign*v)
		}
	}
}

// named converts q into a map by resource name, leaving out zeros.
func (a *Allocator) named(q quantities) map[string]float64 {
	m := make(map[string]float64, len(q))
	for i, v := range q {
		if v != 0 {
			m[a.nameOf[i]] = v
		}
	}
	return m
}

// dominant returns the dominant share of a client holding used and
// offered, against the cluster total.
func (a *Allocator) dominant(used, offered quantities) float64 {
	var share float64
	for i, t := range a.total {
		if t <= 0 {
			continue
		}
		if s := (used.at(i) + offered.at(i)) / t; s > share {
			share = s
		}
	}
	return share
}

// client is a role or a framework as the sorter sees it: a share and a
// name that breaks ties.
type client interface {
	comparable
	rank() (share float64, name string)
}

func compareRank(s1 float64, n1 string, s2 float64, n2 string) int {
	switch {
	case s1 < s2:
		return -1
	case s1 > s2:
		return 1
	}
	return strings.Compare(n1, n2)
}

// ranked is a slice of clients kept in ascending (share, name) order,
// where share is the value each client cached when it was last placed.
// Names are unique, so every client has exactly one place.
type ranked[T client] []T

// search returns the number of clients that sort before (share, name).
func (r ranked[T]) search(share float64, name string) int {
	lo, hi := 0, len(r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		ms, mn := r[m].rank()
		if compareRank(ms, mn, share, name) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// find returns c's position; c must be in r under its cached share.
func (r ranked[T]) find(c T) int {
	i := r.search(c.rank())
	if i == len(r) || r[i] != c {
		panic("offer: DRF order lost a client")
	}
	return i
}

func (r *ranked[T]) insert(c T) {
	*r = slices.Insert(*r, r.search(c.rank()), c)
}

func (r *ranked[T]) remove(c T) {
	i := r.find(c)
	*r = slices.Delete(*r, i, i+1)
}

// fix moves the client at i, whose share changed, back into order by
// shifting the clients it passes: O(log n) to search plus the copy.
func (r ranked[T]) fix(i int) {
	c := r[i]
	share, name := c.rank()
	if j := i + 1 + r[i+1:].search(share, name); j > i+1 {
		copy(r[i:j-1], r[i+1:j])
		r[j-1] = c
		return
	}
	if j := r[:i].search(share, name); j < i {
		copy(r[j+1:i+1], r[j:i])
		r[j] = c
	}
}

func (r ranked[T]) sort() {
	slices.SortFunc(r, func(x, y T) int {
		xs, xn := x.rank()
		ys, yn := y.rank()
		return compareRank(xs, xn, ys, yn)
	})
}

// role is a group of frameworks sharing a weight. Its share is its
// frameworks' joint dominant share divided by its weight.
type role struct {
	name       string
	weight     float64
	share      float64
	alloc      quantities // used and offered, of all its frameworks
	size       int        // frameworks, suppressed ones included
	frameworks ranked[*framework]
}

func (r *role) rank() (float64, string) { return r.share, r.name }

func (f *framework) rank() (float64, string) { return f.share, f.id }

// reshare recomputes f's share, and its role's, after f's allocation
// changed, and moves both to their new places.
func (a *Allocator) reshare(f *framework) {
	if f.suppressed {
		f.share = a.dominant(f.used, f.offered)
	} else {
		i := f.role.frameworks.find(f)
		f.share = a.dominant(f.used, f.offered)
		f.role.frameworks.fix(i)
	}
	a.rerank(f.role)
}

// rerank recomputes a role's share and moves it to its new place.
func (a *Allocator) rerank(r *role) {
	i := a.roles.find(r)
	r.share = a.dominant(r.alloc, nil) / r.weight
	a.roles.fix(i)
}

// refresh recomputes every share after the cluster total changed. Shares
// are cached and the order is always consistent with the cached values, so
// recomputing lazily, once before a cycle, is safe and keeps adding 10,000
// agents at start-up linear.
func (a *Allocator) refresh() {
	if !a.stale {
		return
	}
	a.stale = false
	for _, f := range a.frameworks {
		f.share = a.dominant(f.used, f.offered)
	}
	for _, r := range a.roles {
		r.share = a.dominant(r.alloc, nil) / r.weight
		r.frameworks.sort()
	}
	a.roles.sort()
}

// attach puts f in the role called name, creating the role if needed.
func (a *Allocator) attach(f *framework, name string) {
	r := a.roleByName[name]
	if r == nil {
		w, ok := a.cfg.Weights[name]
		if !ok {
			w = 1
		}
		r = &role{name: name, weight: w}
		a.roleByName[name] = r
		a.roles.insert(r)
	}
	f.role = r
	r.size++
	r.alloc.addAll(f.used, 1)
	r.alloc.addAll(f.offered, 1)
	f.share = a.dominant(f.used, f.offered)
	if !f.suppressed {
		r.frameworks.insert(f)
	}
	a.rerank(r)
}

// detach takes f out of its role, dropping the role when it was the last.
func (a *Allocator) detach(f *framework) {
	r := f.role
	f.role = nil
	if !f.suppressed {
		r.frameworks.remove(f)
	}
	r.size--
	if r.size == 0 {
		a.roles.remove(r)
		delete(a.roleByName, r.name)
		return
	}
	r.alloc.addAll(f.used, -1)
	r.alloc.addAll(f.offered, -1)
	a.rerank(r)
}
