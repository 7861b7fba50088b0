package source

import (
	"corral/httpauth"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Config says where the cluster state comes from and how it is followed.
type Config struct {
	// Masters are the Mesos masters as "host:port". The source follows
	// whichever of them leads (asking each /master/redirect in turn).
	Masters []string
	// Scheme is "http" or "https".
	Scheme string
	// Refresh is how often /master/state is polled from a master without
	// the operator API's SUBSCRIBE (Mesos before 1.1): Mesos-DNS's
	// refreshSeconds, 60 s by default. Against a master that streams its
	// changes, Refresh plays no part: changes arrive as they happen.
	Refresh time.Duration
	// StateTimeout bounds one read of /master/state (Mesos-DNS's
	// stateTimeoutSeconds, 300 s by default: a big cluster's state takes
	// time to render and transfer).
	StateTimeout time.Duration
	// RequestTimeout bounds the small requests: asking a master for the
	// leader and opening the SUBSCRIBE stream.
	RequestTimeout time.Duration
	// Coalesce is the least time between two snapshots: the changes of a
	// burst (a deployment of many tasks) go out together. The first change
	// after a quiet spell goes out at once.
	Coalesce time.Duration
	// MinBackoff and MaxBackoff bound the wait before connecting again after
	// a failure; it doubles from MinBackoff up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Client, if set, makes the requests (for TLS); its Timeout must be 0,
	// or it would cut the stream.
	Client *http.Client `json:"-"`
	// Credentials, "user:password", are sent to the masters with every
	// request (HTTP basic auth, masterd's --http-credentials).
	Credentials string `json:"-"`
}

// DefaultConfig returns the defaults: the local master, Mesos-DNS's refresh
// and state timeout.
func DefaultConfig() Config {
	return Config{
		Masters:        []string{"127.0.0.1:5050"},
		Scheme:         "http",
		Refresh:        60 * time.Second,
		StateTimeout:   300 * time.Second,
		RequestTimeout: 5 * time.Second,
		Coalesce:       5 * time.Millisecond,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
	}
}

// Validate checks c without changing it.
func (c Config) Validate() error {
	if len(c.Masters) == 0 {
		return errors.New("invalid masters, the list is empty, must name at least one host:port")
	}
	for _, m := range c.Masters {
		host, port, err := net.SplitHostPort(m)
		if err != nil || host == "" {
			return fmt.Errorf("invalid master %q, must be host:port", m)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("invalid master %q, port must be in [1, 65535]", m)
		}
	}
	if err := httpauth.Check("--mesos-credentials", c.Credentials); err != nil {
		return err
	}
	switch c.Scheme {
	case "http", "https":
	default:
		return fmt.Errorf("invalid scheme %q, must be http or https", c.Scheme)
	}
	switch {
	case c.Refresh < time.Second:
		return fmt.Errorf("invalid refresh %v, must be at least 1s", c.Refresh)
	case c.StateTimeout <= 0:
		return fmt.Errorf("invalid state timeout %v, must be > 0", c.StateTimeout)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("invalid request timeout %v, must be > 0", c.RequestTimeout)
	case c.Coalesce < 0 || c.Coalesce > time.Second:
		return fmt.Errorf("invalid coalesce %v, must be in [0, 1s]", c.Coalesce)
	case c.MinBackoff <= 0:
		return fmt.Errorf("invalid min backoff %v, must be > 0", c.MinBackoff)
	case c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("invalid max backoff %v, must be at least the min backoff %v", c.MaxBackoff, c.MinBackoff)
	case c.Client != nil && c.Client.Timeout != 0:
		return fmt.Errorf("invalid client timeout %v, must be 0 (it would cut the event stream)", c.Client.Timeout)
	}
	return nil
}
