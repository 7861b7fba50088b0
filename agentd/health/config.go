package health

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"corral/mesos"
)

// Marathon's defaults for a health check (Marathon's health-checks.md and
// types/healthCheck.raml). New applies them to fields that are zero.
const (
	DefaultGracePeriod = 300 * time.Second
	DefaultInterval    = 60 * time.Second
	DefaultTimeout     = 20 * time.Second
	DefaultDelay       = 15 * time.Second
	DefaultPath        = "/"
	DefaultHost        = "127.0.0.1"
)

// DefaultMaxConsecutiveFailures is Marathon's default maxConsecutiveFailures.
// New does not apply it: a ConsecutiveFailures of 0 means "never kill", as
// for Marathon's HTTP and TCP checks. Whoever maps a Marathon app onto
// mesos.HealthCheck, where an absent field can be told from 0, fills it in.
const DefaultMaxConsecutiveFailures = 3

// Check types, as in mesos.HealthCheck.Type.
const (
	TypeHTTP    = "HTTP"
	TypeTCP     = "TCP"
	TypeCommand = "COMMAND"
)

// maxSeconds is the largest number of seconds a time.Duration holds.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// config is a validated health check with defaults applied.
type config struct {
	typ         string
	delay       time.Duration
	interval    time.Duration
	timeout     time.Duration
	grace       time.Duration
	maxFailures int // 0: never kill

	url     string // HTTP
	addr    string // HTTP and TCP: host:port
	command string // COMMAND
}

// newConfig validates check and applies Marathon's defaults. Error messages
// name the field (by its JSON name in mesos.HealthCheck), the value and the
// rule.
func newConfig(check mesos.HealthCheck, target Target, exec Exec) (config, error) {
	c := config{typ: check.Type, maxFailures: int(check.ConsecutiveFailures)}
	var err error
	if c.delay, err = seconds("delay_seconds", check.DelaySeconds, DefaultDelay); err != nil {
		return config{}, err
	}
	if c.interval, err = seconds("interval_seconds", check.IntervalSeconds, DefaultInterval); err != nil {
		return config{}, err
	}
	if c.timeout, err = seconds("timeout_seconds", check.TimeoutSeconds, DefaultTimeout); err != nil {
		return config{}, err
	}
	if c.grace, err = seconds("grace_period_seconds", check.GracePeriodSeconds, DefaultGracePeriod); err != nil {
		return config{}, err
	}

	switch check.Type {
	case TypeHTTP, TypeTCP:
		// Marathon: port, when given, overrides portIndex, which the agent
		// has already resolved into target.Port.
		port := int(check.Port)
		if port == 0 {
			port = target.Port
		}
		if port <= 0 || port > 65535 {
			return config{}, fmt.Errorf("health check of type %s: invalid port %d (port, else target port), must be in [1, 65535]", check.Type, port)
		}
		host := target.Host
		if host == "" {
			host = DefaultHost
		}
		c.addr = net.JoinHostPort(host, strconv.Itoa(port))
		if check.Type == TypeHTTP {
			path := check.HTTPPath
			if path == "" {
				path = DefaultPath
			}
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			scheme := "http"
			switch check.Scheme {
			case "", "http":
			case "https":
				scheme = "https"
			default:
				return config{}, fmt.Errorf("health check: invalid scheme %q, must be http or https", check.Scheme)
			}
			c.url = scheme + "://" + c.addr + path
			if _, err := url.Parse(c.url); err != nil {
				return config{}, fmt.Errorf("health check: invalid http_path %q: %w", check.HTTPPath, err)
			}
		}
	case TypeCommand:
		if check.Command == nil || strings.TrimSpace(check.Command.Value) == "" {
			return config{}, fmt.Errorf("health check of type COMMAND: command.value is empty, must be a shell command")
		}
		if check.Command.Shell != nil && !*check.Command.Shell {
			return config{}, fmt.Errorf("health check of type COMMAND: command.shell is false, must be true (the command runs under /bin/sh -c)")
		}
		if exec == nil {
			return config{}, fmt.Errorf("health check of type COMMAND: exec is nil, must run command.value inside the task's container")
		}
		c.command = check.Command.Value
	default:
		return config{}, fmt.Errorf("health check: unknown type %q, must be HTTP, TCP or COMMAND", check.Type)
	}
	return c, nil
}

// seconds converts a field in seconds to a duration, def when it is zero.
func seconds(field string, v float64, def time.Duration) (time.Duration, error) {
	switch {
	case math.IsNaN(v) || v < 0 || v > maxSeconds:
		return 0, fmt.Errorf("health check: invalid %s %v, must be in [0, %.0f]", field, v, maxSeconds)
	case v == 0:
		return def, nil
	}
	return time.Duration(v * float64(time.Second)), nil
}
