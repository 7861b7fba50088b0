package offer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/mesos"
)

// Allocate runs one allocation cycle and returns the new offers, in the
// order made. Each active agent whose available resources meet
// MinAllocatable goes, whole, to the first framework in DRF order that is
// not suppressed and has no filter covering those resources; the winner's
// and its role's shares are updated before the next agent.
func (a *Allocator) Allocate(now time.Time) []Offer {
	a.refresh()
	n := 0
	for _, ag := range a.agents {
		if ag.offerable {
			n++
		}
	}
	if n == 0 || len(a.roles) == 0 {
		return nil
	}
	out := make([]Offer, 0, n)
	nowNano := now.UnixNano()
	for _, ag := range a.agents {
		if !ag.offerable || a.idle(ag, nowNano) {
			continue
		}
		a.stamp++
		until := a.screen(ag, nowNano)
		if f := a.pick(); f != nil {
			out = append(out, a.grant(f, ag, now))
			continue
		}
		ag.idle = idleMemo{gen: ag.gen, clients: a.clients, until: until}
	}
	return out
}

// pick returns the first framework in DRF order that the current agent's
// filters (screened under a.stamp) do not hide, or nil.
func (a *Allocator) pick() *framework {
	for _, r := range a.roles {
		for _, f := range r.frameworks {
			if f.blocked != a.stamp {
				return f
			}
		}
	}
	return nil
}

// grant offers all of ag's available resources to f.
func (a *Allocator) grant(f *framework, ag *agent, now time.Time) Offer {
	a.seq++
	o := &offer{
		Offer: Offer{
			ID:          a.idPrefix + strconv.FormatUint(a.seq, 10),
			FrameworkID: f.id,
			AgentID:     ag.id,
			Resources:   ag.available, // handed over whole, so no copy
			Created:     now,
		},
		seq: a.seq,
		fw:  f,
		ag:  ag,
	}
	a.gens++
	o.before, o.after = ag.gen, a.gens
	ag.available, ag.gen = mesos.Resources{}, a.gens
	ag.offerable = false
	ag.idle = idleMemo{}
	a.offers[o.ID] = o
	o.fwPos = len(f.offers)
	f.offers = append(f.offers, o)
	o.agPos = len(ag.offers)
	ag.offers = append(ag.offers, o)
	a.account(f, o.Resources, 1, true)
	return o.Offer
}

// drop forgets an outstanding offer and takes it out of its framework's
// share. The caller decides where its resources go.
func (a *Allocator) drop(o *offer) {
	delete(a.offers, o.ID)
	f, ag := o.fw, o.ag
	last := f.offers[len(f.offers)-1]
	f.offers[o.fwPos], last.fwPos = last, o.fwPos
	f.offers[len(f.offers)-1] = nil
	f.offers = f.offers[:len(f.offers)-1]
	last = ag.offers[len(ag.offers)-1]
	ag.offers[o.agPos], last.agPos = last, o.agPos
	ag.offers[len(ag.offers)-1] = nil
	ag.offers = ag.offers[:len(ag.offers)-1]
	a.account(o.fw, o.Resources, -1, true)
}

// oldestFirst returns a sorted copy of offers.
func oldestFirst(offers []*offer) []*offer {
	list := slices.Clone(offers)
	slices.SortFunc(list, func(x, y *offer) int { return cmp.Compare(x.seq, y.seq) })
	return list
}

// withdraw drops the offers, in the order they were made, and returns
// them. With giveBack their resources become available again.
func (a *Allocator) withdraw(offers []*offer, giveBack bool) []Offer {
	if len(offers) == 0 {
		return nil
	}
	list := oldestFirst(offers)
	out := make([]Offer, len(list))
	for i, o := range list {
		a.drop(o)
		if giveBack {
			a.giveBack(o)
		}
		out[i] = o.Offer
	}
	return out
}

// giveBack makes a dropped offer's resources available again. When
// nothing changed on the agent since the grant, its available resources
// are again exactly what they were before it, so it takes back the
// generation it had then, and the coverage its filters cached stays valid:
// an agent declined by one framework after another is not re-checked
// against every filter each cycle.
func (a *Allocator) giveBack(o *offer) {
	ag := o.ag
	if ag.gen == o.after {
		ag.available, ag.gen = o.Resources, o.before
		ag.offerable = ag.active // the resources were offerable when granted
		return
	}
	a.setAvailable(ag, plus(ag.available, o.Resources))
}

// refuseFor resolves a framework's refuse duration: negative means the
// configured default.
func (a *Allocator) refuseFor(d time.Duration) time.Duration {
	if d < 0 {
		return a.cfg.RefuseSeconds
	}
	return d
}

// Accept consumes an offer: use, which must be part of it, stays with the
// framework as used by its tasks; the rest becomes available again,
// filtered from the framework for refuse (a negative refuse means
// Config.RefuseSeconds, 0 installs no filter). It returns the offer as
// made.
func (a *Allocator) Accept(frameworkID, offerID string, use mesos.Resources, refuse time.Duration, now time.Time) (Offer, error) {
	o := a.offers[offerID]
	if o == nil {
		return Offer{}, fmt.Errorf("accepting offer %q: no such outstanding offer", offerID)
	}
	if o.FrameworkID != frameworkID {
		return Offer{}, fmt.Errorf("accepting offer %q: it was made to another framework, not %q", offerID, frameworkID)
	}
	use = normalize(use)
	if !o.Resources.Contains(use) {
		return Offer{}, fmt.Errorf("accepting offer %q: %s", offerID, excess(o.Resources, use))
	}
	f, ag := o.fw, o.ag
	a.drop(o)
	if !use.IsEmpty() {
		ag.used[f.id] = ag.used[f.id].Add(use)
		a.account(f, use, 1, false)
	}
	rest := o.Resources.Sub(use)
	a.setAvailable(ag, plus(ag.available, rest))
	a.refuse(f, ag, rest, a.refuseFor(refuse), now)
	return o.Offer, nil
}

// excess describes how want goes beyond have.
func excess(have, want mesos.Resources) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(want.Scalars)) {
		v := want.Scalars[name]
		if !have.Contains(mesos.Resources{Scalars: map[string]float64{name: v}}) {
			parts = append(parts, fmt.Sprintf("%s %v exceeds the %v offered", name, v, have.Scalars[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.Ranges)) {
		if missing := want.Ranges[name].Sub(have.Ranges[name]); len(missing) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s not offered (offered %s)", name, missing, have.Ranges[name]))
		}
	}
	return strings.Join(parts, "; ")
}

// Decline returns offers: their resources become available, filtered from
// the framework for refuse (a negative refuse means Config.RefuseSeconds,
// 0 installs no filter). Unknown offer IDs are ignored, as Mesos ignores
// them, but an offer made to another framework is an error, and then no
// offer is declined.
func (a *Allocator) Decline(frameworkID string, offerIDs []string, refuse time.Duration, now time.Time) error {
	mine := make([]*offer, 0, len(offerIDs))
	for _, id := range offerIDs {
		o := a.offers[id]
		if o == nil {
			continue
		}
		if o.FrameworkID != frameworkID {
			return fmt.Errorf("declining offer %q: it was made to another framework, not %q", id, frameworkID)
		}
		mine = append(mine, o)
	}
	d := a.refuseFor(refuse)
	var refused map[*agent]mesos.Resources // one filter per agent
	if d > 0 {
		refused = map[*agent]mesos.Resources{}
	}
	for _, o := range mine {
		if a.offers[o.ID] != o {
			continue // listed twice
		}
		a.drop(o)
		a.giveBack(o)
		if refused != nil {
			refused[o.ag] = plus(refused[o.ag], o.Resources)
		}
	}
	if len(mine) > 0 {
		f := mine[0].fw
		for ag, r := range refused {
			a.refuse(f, ag, r, d, now)
		}
	}
	return nil
}

// Expire rescinds the offers outstanding for OfferTimeout or longer and
// returns them, oldest first. Their resources become available with no
// filter.
func (a *Allocator) Expire(now time.Time) []Offer {
	if a.cfg.OfferTimeout <= 0 {
		return nil
	}
	var old []*offer
	for _, o := range a.offers {
		if now.Sub(o.Created) >= a.cfg.OfferTimeout {
			old = append(old, o)
		}
	}
	return a.withdraw(old, true)
}

// Offers returns the framework's outstanding offers, oldest first.
func (a *Allocator) Offers(frameworkID string) []Offer {
	f := a.frameworks[frameworkID]
	if f == nil || len(f.offers) == 0 {
		return nil
	}
	list := oldestFirst(f.offers)
	out := make([]Offer, len(list))
	for i, o := range list {
		out[i] = o.Offer
	}
	return out
}
