package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"corral/marathon"
)

func strategy(minHealth, maxOver float64) marathon.UpgradeStrategy {
	return marathon.UpgradeStrategy{MinimumHealthCapacity: minHealth, MaximumOverCapacity: maxOver}
}

func roll(n int, minHealth, maxOver float64, resident bool) Rolling {
	return Rolling{Instances: n, Strategy: strategy(minHealth, maxOver), Resident: resident}
}

func TestRollingLimits(t *testing.T) {
	tests := []struct {
		r                 Rolling
		wantMin, wantMaxC int
	}{
		{Rolling{Instances: 3, Strategy: strategy(1, 1)}, 3, 6},
		{Rolling{Instances: 3, Strategy: strategy(1, 0)}, 3, 4}, // one extra
		{Rolling{Instances: 3, Strategy: strategy(1, 0), Resident: true}, 2, 3},
		{Rolling{Instances: 1, Strategy: strategy(0.5, 0), Resident: true}, 0, 1},
		{Rolling{Instances: 10, Strategy: strategy(0.5, 0)}, 5, 10},
		{Rolling{Instances: 10, Strategy: strategy(1, 0.2)}, 10, 12},
		{Rolling{Instances: 5, Strategy: strategy(0.5, 0.5)}, 3, 7},
		{Rolling{Instances: 4, Strategy: strategy(0, 0)}, 0, 4},
		{Rolling{Instances: 25, Strategy: strategy(0.28, 0)}, 7, 25},     // 7.000000000000001
		{Rolling{Instances: 45, Strategy: strategy(1, 0.4)}, 45, 63},     // 62.99999999999999
		{Rolling{Instances: 2, Strategy: strategy(1.5, -1)}, 2, 3},       // clamped to (1, 0)
		{Rolling{Instances: 2, Strategy: strategy(math.NaN(), 0)}, 0, 2}, // NaN is 0
		{Rolling{Instances: 0, Strategy: strategy(1, 1)}, 0, 1},
		{Rolling{Instances: -1, Strategy: strategy(1, 1)}, 0, 1},
	}
	for _, tt := range tests {
		minH, maxC := tt.r.Limits()
		if minH != tt.wantMin || maxC != tt.wantMaxC {
			t.Errorf("%+v.Limits() = %d, %d, want %d, %d", tt.r, minH, maxC, tt.wantMin, tt.wantMaxC)
		}
	}
}

func TestRollingNext(t *testing.T) {
	tests := []struct {
		name                string
		r                   Rolling
		s                   RollingState
		wantStart, wantKill int
		wantDone            bool
	}{
		{"full strength, no room: one extra", roll(3, 1, 0, false),
			RollingState{OldRunning: 3}, 1, 0, false},
		{"extra is ready: kill one old", roll(3, 1, 0, false),
			RollingState{OldRunning: 3, NewLaunched: 1, NewReady: 1}, 0, 1, false},
		{"kill in flight holds capacity", roll(3, 1, 0, false),
			RollingState{OldRunning: 2, OldKilling: 1, NewLaunched: 1, NewReady: 1}, 0, 0, false},
		{"old one gone: next new", roll(3, 1, 0, false),
			RollingState{OldRunning: 2, NewLaunched: 1, NewReady: 1}, 1, 0, false},
		{"resident: kill first, no extra", roll(3, 1, 0, true),
			RollingState{OldRunning: 3}, 0, 1, false},
		{"half may go at once", roll(10, 0.5, 0, false),
			RollingState{OldRunning: 10}, 0, 5, false},
		{"half gone: launch half", roll(10, 0.5, 0, false),
			RollingState{OldRunning: 5}, 5, 0, false},
		{"over capacity: launch on top", roll(10, 1, 0.2, false),
			RollingState{OldRunning: 10}, 2, 0, false},
		{"no minimum: kill all, then launch", roll(10, 0, 0, false),
			RollingState{OldRunning: 10}, 0, 10, false},
		{"no minimum, double capacity: both at once", roll(10, 0, 1, false),
			RollingState{OldRunning: 10}, 10, 10, false},
		{"restart that scales down", roll(3, 1, 0, false),
			RollingState{OldRunning: 10}, 0, 7, false},
		{"restart that scales up", roll(5, 1, 0, false),
			RollingState{OldRunning: 2}, 4, 0, false},
		{"fewer old than the minimum: keep them", roll(3, 1, 0, false),
			RollingState{OldRunning: 1, NewLaunched: 1, NewReady: 1}, 2, 0, false},
		{"unready new ones do not free old ones", roll(3, 0.5, 1, false),
			RollingState{OldRunning: 2, NewLaunched: 3, NewReady: 0}, 0, 0, false},
		{"all new ready: last old goes", roll(3, 1, 0, false),
			RollingState{OldRunning: 1, NewLaunched: 3, NewReady: 3}, 0, 1, false},
		{"done", roll(3, 1, 0, false),
			RollingState{NewLaunched: 3, NewReady: 3}, 0, 0, true},
		{"not done while a kill is in flight", roll(3, 1, 0, false),
			RollingState{OldKilling: 1, NewLaunched: 3, NewReady: 3}, 0, 0, false},
		{"no instances: stop the old ones", roll(0, 1, 1, false),
			RollingState{OldRunning: 2}, 0, 2, false},
		{"no instances, resident", roll(0, 0.5, 0, true),
			RollingState{OldRunning: 2}, 0, 2, false},
		{"no instances left", roll(0, 1, 1, false),
			RollingState{}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, kill := tt.r.Next(tt.s)
			if start != tt.wantStart || kill != tt.wantKill {
				t.Errorf("Next(%+v) = %d, %d, want %d, %d", tt.s, start, kill, tt.wantStart, tt.wantKill)
			}
			if got := tt.r.Done(tt.s); got != tt.wantDone {
				t.Errorf("Done(%+v) = %v, want %v", tt.s, got, tt.wantDone)
			}
		})
	}
}

// TestRollingSimulation drives restarts to the end, one event at a time,
// and checks Marathon's guarantees after every decision.
func TestRollingSimulation(t *testing.T) {
	orders := []string{"ready first", "kills first", "random", "random with failures"}
	for n := 1; n <= 7; n++ {
		for _, minH := range []float64{0, 0.5, 1} {
			for _, maxO := range []float64{0, 0.5, 1} {
				for _, resident := range []bool{false, true} {
					for _, old := range []int{n, n - 1, 0, n + 2} {
						for _, order := range orders {
							r := Rolling{Instances: n, Strategy: strategy(minH, maxO), Resident: resident}
							name := fmt.Sprintf("n=%d/min=%g/over=%g/resident=%v/old=%d/%s", n, minH, maxO, resident, old, order)
							simulate(t, name, r, old, order)
						}
					}
				}
			}
		}
	}
}

func simulate(t *testing.T, name string, r Rolling, old int, order string) {
	t.Helper()
	n := r.Instances
	marathonMin := int(math.Ceil(float64(n) * r.Strategy.MinimumHealthCapacity))
	marathonMax := int(float64(n) * (1 + r.Strategy.MaximumOverCapacity))
	if marathonMin == marathonMax && !r.Resident {
		marathonMax++ // the extra instance Marathon allows
	}
	floor := min(marathonMin, old) // healthy capacity never drops below this
	if r.Resident && marathonMin == int(float64(n)*(1+r.Strategy.MaximumOverCapacity)) {
		floor = min(marathonMin-1, old) // resident apps dip one instead
	}
	ceiling := max(marathonMax, old)
	rng := rand.New(rand.NewPCG(uint64(n), uint64(old)))
	failures := 0
	if order == "random with failures" {
		failures = 3
	}
	s := RollingState{OldRunning: old}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatalf("%s: no end after %d events, at %+v", name, i, s)
		}
		start, kill := r.Next(s)
		if start < 0 || kill < 0 || kill > s.OldRunning || s.NewLaunched+start > n {
			t.Fatalf("%s: Next(%+v) = %d, %d", name, s, start, kill)
		}
		s.OldRunning -= kill
		s.OldKilling += kill
		s.NewLaunched += start
		if healthy := s.OldRunning + s.NewReady; healthy < floor {
			t.Fatalf("%s: healthy capacity %d below %d at %+v after start %d, kill %d", name, healthy, floor, s, start, kill)
		}
		if alive := s.OldRunning + s.OldKilling + s.NewLaunched; alive > ceiling {
			t.Fatalf("%s: %d alive, more than %d, at %+v after start %d, kill %d", name, alive, ceiling, s, start, kill)
		}
		if r.Done(s) {
			if s.NewReady != n || s.NewLaunched != n {
				t.Fatalf("%s: done with %+v, want %d new ready", name, s, n)
			}
			return
		}
		if !event(&s, order, rng, &failures) {
			t.Fatalf("%s: stuck at %+v: Next says start %d, kill %d and nothing is pending", name, s, start, kill)
		}
	}
}

// event applies one pending change: an old instance dies, a new one turns
// ready or (while failures last) a new one fails. It reports false when
// nothing is pending.
func event(s *RollingState, order string, rng *rand.Rand, failures *int) bool {
	var pending []string
	if s.NewLaunched > s.NewReady {
		pending = append(pending, "ready")
		if *failures > 0 {
			pending = append(pending, "fail")
		}
	}
	if s.OldKilling > 0 {
		pending = append(pending, "killed")
	}
	if len(pending) == 0 {
		return false
	}
	pick := pending[0]
	switch order {
	case "kills first":
		pick = pending[len(pending)-1]
	case "random", "random with failures":
		pick = pending[rng.IntN(len(pending))]
	}
	switch pick {
	case "ready":
		s.NewReady++
	case "fail":
		*failures--
		s.NewLaunched--
	case "killed":
		s.OldKilling--
	}
	return true
}
