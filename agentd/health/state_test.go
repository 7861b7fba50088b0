package health

import (
	"errors"
	"testing"
	"time"
)

// step is one check outcome at a time after the task started, and what the
// state should say after it.
type step struct {
	at          time.Duration
	pass        bool
	wantChanged bool
	wantHealthy bool
	wantFails   int
	wantKill    bool
}

func TestObserve(t *testing.T) {
	const grace = 10 * time.Second
	tests := []struct {
		name        string
		maxFailures int
		steps       []step
	}{
		{
			name:        "failures in the grace period are ignored",
			maxFailures: 1,
			steps: []step{
				{at: 1 * time.Second},
				{at: 5 * time.Second},
				{at: 9 * time.Second},
			},
		},
		{
			name:        "first pass ends the grace period",
			maxFailures: 2,
			steps: []step{
				{at: 1 * time.Second},
				{at: 2 * time.Second, pass: true, wantChanged: true, wantHealthy: true},
				{at: 3 * time.Second, wantChanged: true, wantFails: 1},
				{at: 4 * time.Second, wantChanged: true, wantFails: 2, wantKill: true},
			},
		},
		{
			name:        "failures count once the grace period is over",
			maxFailures: 3,
			steps: []step{
				{at: 9 * time.Second},
				{at: 10 * time.Second, wantChanged: true, wantFails: 1},
				{at: 11 * time.Second, wantChanged: true, wantFails: 2},
				{at: 12 * time.Second, wantChanged: true, wantFails: 3, wantKill: true},
			},
		},
		{
			name:        "a pass resets the count",
			maxFailures: 3,
			steps: []step{
				{at: 11 * time.Second, wantChanged: true, wantFails: 1},
				{at: 12 * time.Second, wantChanged: true, wantFails: 2},
				{at: 13 * time.Second, pass: true, wantChanged: true, wantHealthy: true},
				{at: 14 * time.Second, wantChanged: true, wantFails: 1},
				{at: 15 * time.Second, wantChanged: true, wantFails: 2},
				{at: 16 * time.Second, pass: true, wantChanged: true, wantHealthy: true},
			},
		},
		{
			name:        "repeated passes are not changes",
			maxFailures: 3,
			steps: []step{
				{at: 1 * time.Second, pass: true, wantChanged: true, wantHealthy: true},
				{at: 2 * time.Second, pass: true, wantHealthy: true},
				{at: 3 * time.Second, pass: true, wantHealthy: true},
			},
		},
		{
			name:        "zero max failures never kills",
			maxFailures: 0,
			steps: []step{
				{at: 11 * time.Second, wantChanged: true, wantFails: 1},
				{at: 12 * time.Second, wantChanged: true, wantFails: 2},
				{at: 13 * time.Second, wantChanged: true, wantFails: 3},
				{at: 14 * time.Second, wantChanged: true, wantFails: 4},
			},
		},
		{
			name:        "kill stays set",
			maxFailures: 1,
			steps: []step{
				{at: 11 * time.Second, wantChanged: true, wantFails: 1, wantKill: true},
				{at: 12 * time.Second, pass: true, wantChanged: true, wantHealthy: true, wantKill: true},
			},
		},
	}
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := state{started: started, grace: grace, maxFailures: tt.maxFailures}
			for i, st := range tt.steps {
				var err error
				if !st.pass {
					err = errors.New("connection refused")
				}
				now := started.Add(st.at)
				changed := s.observe(now, err)
				r := s.res
				if changed != st.wantChanged || r.Healthy != st.wantHealthy || r.ConsecutiveFailures != st.wantFails || r.Kill != st.wantKill {
					t.Fatalf("step %d (pass=%v at %v): changed=%v healthy=%v failures=%d kill=%v, want changed=%v healthy=%v failures=%d kill=%v",
						i, st.pass, st.at, changed, r.Healthy, r.ConsecutiveFailures, r.Kill,
						st.wantChanged, st.wantHealthy, st.wantFails, st.wantKill)
				}
				if st.pass && !r.LastSuccess.Equal(now) {
					t.Errorf("step %d: LastSuccess = %v, want %v", i, r.LastSuccess, now)
				}
				if !st.pass && (!r.LastFailure.Equal(now) || r.LastFailureCause != "connection refused") {
					t.Errorf("step %d: LastFailure, cause = %v, %q, want %v, %q", i, r.LastFailure, r.LastFailureCause, now, "connection refused")
				}
			}
		})
	}
}

func TestObserveFirstSuccess(t *testing.T) {
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := state{started: started, grace: time.Minute, maxFailures: 3}
	first := started.Add(time.Second)
	s.observe(first, nil)
	s.observe(first.Add(time.Second), errors.New("boom"))
	s.observe(first.Add(2*time.Second), nil)
	if !s.res.FirstSuccess.Equal(first) {
		t.Errorf("FirstSuccess = %v, want %v", s.res.FirstSuccess, first)
	}
	if want := first.Add(2 * time.Second); !s.res.LastSuccess.Equal(want) {
		t.Errorf("LastSuccess = %v, want %v", s.res.LastSuccess, want)
	}
}
