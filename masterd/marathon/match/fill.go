package match

import (
	"math/rand/v2"
	"slices"

	"corral/mesos"
)

// Fill places up to n instances of one app on offer, as Marathon's offer
// matcher does when it launches several instances from one offer: each
// instance must satisfy cs given the instances already placed, those placed
// earlier in this call included, and must fit in what the previous ones
// left. It stops at the first instance that does not fit or would break a
// constraint, so under ["hostname","UNIQUE"] it places at most one.
//
// Dynamic host ports are drawn as MatchOfferRand draws them, from rnd (nil
// for the lowest free ports). placed is not modified. Callers that need to
// know why Fill placed fewer than n ask Satisfies and MatchOffer.
func Fill(req Request, cs []Constraint, offer mesos.Offer, placed []Placed, n int, rnd *rand.Rand) []Match {
	var out []Match
	available := offer.Resources
	here := Placed{AgentID: offer.AgentID, Hostname: offer.Hostname, Attributes: offer.Attributes}
	placed = slices.Clip(placed) // appending below must not write into the caller's array
	for len(out) < n {
		if ok, _ := Satisfies(cs, offer, placed); !ok {
			break
		}
		m, ok, _ := MatchOfferRand(req, available, rnd)
		if !ok {
			break
		}
		out = append(out, m)
		available = available.Sub(m.Resources)
		placed = append(placed, here)
	}
	return out
}
