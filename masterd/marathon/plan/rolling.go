package plan

import (
	"math"

	"corral/marathon"
)

// Rolling is the arithmetic of a RestartApplication, Marathon's
// TaskReplaceActor: new-version instances replace old ones while the
// healthy capacity stays at or above
//
//	minHealthy  = ceil(Instances * minimumHealthCapacity)
//
// and no more than
//
//	maxCapacity = floor(Instances * (1 + maximumOverCapacity))
//
// instances are alive. When the two are equal no replacement could start,
// so Marathon lets one instance more run (maxCapacity+1), or, for a
// resident app whose instances are bound to their reservations, lets the
// healthy capacity dip one below minHealthy instead.
//
// Rolling is stateless: the executor calls Next with fresh counts after
// every change (a launch, a kill, a task becoming ready or terminal) and
// does what it says. A Rolling value is small and may be rebuilt each
// time; after a failover the counts alone say where the restart stands.
type Rolling struct {
	Instances int                      // the new version's instances
	Strategy  marathon.UpgradeStrategy // each fraction is clamped to [0, 1]
	Resident  bool                     // the app has persistent volumes
}

// RollingState counts an app's instances during a restart. Old instances
// are those of any earlier configuration, new ones those of the target.
type RollingState struct {
	// OldRunning counts old instances alive and not yet asked to die:
	// staging or running, healthy or not.
	OldRunning int
	// OldKilling counts old instances asked to die that are not terminal
	// yet. They take up capacity, as in Marathon, but are not healthy.
	OldKilling int
	// NewLaunched counts new instances the executor has asked for and
	// that are not terminal: queued for an offer, staging or running.
	NewLaunched int
	// NewReady counts the NewLaunched instances that are running, healthy
	// (when the app has health checks) and ready (when it has readiness
	// checks): the new instances that count as healthy capacity.
	NewReady int
}

// Limits returns the healthy capacity a restart keeps (minHealthy, or one
// less for a resident app when it meets maxCapacity) and the most
// instances it lets be alive at once (maxCapacity, plus one for other apps
// when it meets minHealthy). With Instances > 0 the second always exceeds
// the first, which is what lets a restart progress.
func (r Rolling) Limits() (minHealthy, maxCapacity int) {
	n := max(r.Instances, 0)
	minHC := clamp01(r.Strategy.MinimumHealthCapacity)
	maxOC := clamp01(r.Strategy.MaximumOverCapacity)
	minHealthy = ceilInt(float64(n) * minHC)
	maxCapacity = floorInt(float64(n) * (1 + maxOC))
	if minHealthy == maxCapacity {
		if r.Resident {
			minHealthy--
		} else {
			maxCapacity++
		}
	}
	return max(minHealthy, 0), maxCapacity
}

// Next returns how many new instances to launch and how many old ones to
// kill now. The executor then counts the launches in NewLaunched and moves
// the victims from OldRunning to OldKilling before calling again.
//
// It kills old instances down to what keeps OldRunning+NewReady at the
// healthy minimum, as Marathon's immediate kills and its one kill per new
// instance that turns ready do, and launches new instances up to
// Instances while OldRunning+OldKilling+NewLaunched stays within the
// capacity. When fewer old instances were running than the minimum, it
// kills none until new ones make up the difference, so healthy capacity
// never drops. Both results are at least 0; Done tells when to stop.
func (r Rolling) Next(s RollingState) (start, kill int) {
	minHealthy, maxCapacity := r.Limits()
	kill = min(s.OldRunning, s.OldRunning+s.NewReady-minHealthy)
	alive := s.OldRunning + s.OldKilling + s.NewLaunched
	start = min(max(r.Instances, 0)-s.NewLaunched, maxCapacity-alive)
	return max(start, 0), max(kill, 0)
}

// Done reports whether the restart is complete: Instances new instances
// are ready and no old one is alive.
func (r Rolling) Done(s RollingState) bool {
	return s.OldRunning == 0 && s.OldKilling == 0 && s.NewReady >= r.Instances
}

func clamp01(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return min(max(f, 0), 1)
}

// epsilon absorbs binary fractions: 25*0.28 is 7.000000000000001 in
// float64, which Marathon's plain ceil makes 8, and 45*1.4 is
// 62.99999999999999, which its truncation makes 62.
const epsilon = 1e-9

func ceilInt(f float64) int  { return int(math.Ceil(f - epsilon)) }
func floorInt(f float64) int { return int(math.Floor(f + epsilon)) }
