package health

import "time"

// state interprets check outcomes: the grace period, the failure count and
// the kill decision. It does no I/O and reads no clock.
type state struct {
	started     time.Time // when the task started; the grace period counts from here
	grace       time.Duration
	maxFailures int // 0: never kill
	res         Result
}

// observe records the outcome of one check that finished at now (err nil
// for a pass) and reports whether the Result changed in a way that
// onChange announces: Healthy flipped, the failure count changed, or Kill
// was set.
func (s *state) observe(now time.Time, err error) bool {
	if err == nil {
		changed := !s.res.Healthy || s.res.ConsecutiveFailures != 0
		if s.res.FirstSuccess.IsZero() {
			s.res.FirstSuccess = now
		}
		s.res.LastSuccess = now
		s.res.Healthy = true
		s.res.ConsecutiveFailures = 0
		return changed
	}

	// The failure is kept for Result either way, so an operator can see why
	// a task in its grace period is not healthy yet.
	s.res.LastFailure = now
	s.res.LastFailureCause = err.Error()
	if s.res.FirstSuccess.IsZero() && now.Before(s.started.Add(s.grace)) {
		// Marathon and Mesos: failures are ignored within the grace period
		// or until the task becomes healthy for the first time.
		return false
	}
	s.res.Healthy = false
	s.res.ConsecutiveFailures++
	if s.maxFailures > 0 && s.res.ConsecutiveFailures >= s.maxFailures {
		s.res.Kill = true
	}
	return true
}
