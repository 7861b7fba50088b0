package offer

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"corral/mesos"
)

// Config tunes the allocator. The zero value is usable but has no
// refusal default and no minimum allocatable resources; start from
// DefaultConfig.
type Config struct {
	// RefuseSeconds is the filter Accept and Decline install when the
	// framework passes a negative duration (it set no refuse_seconds).
	// Mesos's default is 5 seconds.
	RefuseSeconds time.Duration

	// MinAllocatable lists alternatives: an agent's free resources are
	// offered only if they meet every quantity of at least one map. Ranges
	// count their integers ("ports":1 means one free port). Empty means any
	// non-empty set of resources is offered.
	MinAllocatable []map[string]float64

	// Weights maps a role to its weight; roles not listed weigh 1. A role
	// of weight 2 is offered twice the dominant share of a role of weight 1.
	Weights map[string]float64

	// OfferTimeout is how long an offer may stay outstanding before Expire
	// rescinds it; 0 means offers never time out.
	OfferTimeout time.Duration

	// IDPrefix starts every offer ID: IDPrefix + "-O" + n, n counting from
	// 1. The master sets it to its own ID so that IDs stay unique across
	// failovers, as Mesos does.
	IDPrefix string
}

// DefaultConfig returns Mesos's defaults: refuse for 5 seconds, and offer
// an agent's resources only if they hold 0.01 cpus or 32 MB of memory.
func DefaultConfig() Config {
	return Config{
		RefuseSeconds:  5 * time.Second,
		MinAllocatable: []map[string]float64{{mesos.CPUs: 0.01}, {mesos.Mem: 32}},
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.RefuseSeconds < 0 {
		return fmt.Errorf("invalid RefuseSeconds %v, must be >= 0", c.RefuseSeconds)
	}
	if c.OfferTimeout < 0 {
		return fmt.Errorf("invalid OfferTimeout %v, must be >= 0 (0 disables the timeout)", c.OfferTimeout)
	}
	for i, alt := range c.MinAllocatable {
		if len(alt) == 0 {
			return fmt.Errorf("invalid MinAllocatable alternative %d, must name at least one resource", i)
		}
		for _, name := range slices.Sorted(maps.Keys(alt)) {
			v := alt[name]
			if name == "" {
				return fmt.Errorf("invalid MinAllocatable alternative %d, resource names must not be empty", i)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("invalid MinAllocatable quantity %v for %q, must be a finite number >= 0", v, name)
			}
		}
	}
	for _, role := range slices.Sorted(maps.Keys(c.Weights)) {
		w := c.Weights[role]
		if role == "" {
			return fmt.Errorf("invalid role %q in Weights, must not be empty", role)
		}
		if math.IsNaN(w) || w <= 0 {
			return fmt.Errorf("invalid weight %v for role %q, must be > 0", w, role)
		}
		if math.IsInf(w, 0) {
			return fmt.Errorf("invalid weight %v for role %q, must be finite", w, role)
		}
	}
	return nil
}

// allocatable reports whether r is worth offering: not empty and meeting
// one of the minimum alternatives.
func allocatable(r mesos.Resources, min []map[string]float64) bool {
	if r.IsEmpty() {
		return false
	}
	if len(min) == 0 {
		return true
	}
	for _, alt := range min {
		ok := true
		for name, q := range alt {
			if r.Quantity(name) < q {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
