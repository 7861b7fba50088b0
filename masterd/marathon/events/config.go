package events

import (
	"fmt"
	"time"
)

// Config tunes the event bus.
type Config struct {
	// MaxBytes bounds the encoded events one subscriber may hold: queued,
	// or being written to its connection. A subscriber that falls this far
	// behind is dropped rather than slowing the publisher or holding on to
	// memory. One event is always accepted by a subscriber holding none,
	// however large.
	MaxBytes int
	// Keepalive is the idle time after which /v2/events writes a blank
	// line, so that proxies and clients with read timeouts keep an idle
	// stream open.
	Keepalive time.Duration
}

// DefaultConfig returns 8 MiB of events per subscriber and a 15s
// keepalive. A reader that keeps up still holds a few frames at once, and
// a deployment plan carries the whole root group twice, so the bound must
// hold a few of those; subscribers share frames, so 200 stalled ones hold
// about the same 8 MiB rather than 200 times as much. The keepalive is
// well inside the read timeouts of marathon-lb (46s) and of common proxies (60s).
func DefaultConfig() Config {
	return Config{MaxBytes: 8 << 20, Keepalive: 15 * time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 1:
		return fmt.Errorf("invalid --event-stream-max-bytes %d, must be >= 1", c.MaxBytes)
	case c.Keepalive <= 0:
		return fmt.Errorf("invalid --event-stream-keepalive %v, must be > 0", c.Keepalive)
	}
	return nil
}

// withDefaults replaces the fields Validate would reject by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBytes < 1 {
		c.MaxBytes = d.MaxBytes
	}
	if c.Keepalive <= 0 {
		c.Keepalive = d.Keepalive
	}
	return c
}
