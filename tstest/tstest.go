// Package tstest holds the helpers every test of this tree shares: waiting
// for a condition and skipping what needs root.
package tstest

import (
	"os"
	"testing"
	"time"
)

// WaitFor polls cond every 20 ms until it holds, or fails the test after
// timeout saying what it waited for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}
