package events

import (
	"fmt"
	"time"
)

// Config tunes the event bus.
type Config struct {
	// Buffer is how many events may wait for one subscriber. A subscriber
	// that falls this far behind is dropped rather than slowing the
	// publisher.
	Buffer int
	// Keepalive is the idle time after which /v2/events writes a blank
	// line, so that proxies and clients with read timeouts keep an idle
	// stream open.
	Keepalive time.Duration
}

// DefaultConfig returns a 1024-event buffer per subscriber and a 15s
// keepalive, well inside the read timeouts of marathon-lb (46s) and of
// common proxies (60s).
func DefaultConfig() Config {
	return Config{Buffer: 1024, Keepalive: 15 * time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Buffer < 1:
		return fmt.Errorf("invalid event buffer %d, must be >= 1", c.Buffer)
	case c.Keepalive <= 0:
		return fmt.Errorf("invalid event stream keepalive %v, must be > 0", c.Keepalive)
	}
	return nil
}

// withDefaults replaces the fields Validate would reject by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Buffer < 1 {
		c.Buffer = d.Buffer
	}
	if c.Keepalive <= 0 {
		c.Keepalive = d.Keepalive
	}
	return c
}
