//go:build race

package framework_test

// raceEnabled: the race detector slows every goroutine several times, so
// latency bounds are loosened.
const raceEnabled = true
