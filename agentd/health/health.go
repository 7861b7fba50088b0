// Package health runs one task's health check on the agent: HTTP, TCP or a
// COMMAND run inside the task's container, with Marathon's fields, defaults
// and semantics.
//
// The first check runs DelaySeconds after the task started, then one every
// IntervalSeconds (start to start), each given TimeoutSeconds. Failures are
// ignored during the first GracePeriodSeconds of the task's life until the
// first success; after that each failure counts, a success resets the count,
// and ConsecutiveFailures failures in a row mean the task must be killed. A
// ConsecutiveFailures of 0 means never kill.
package health

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"corral/mesos"
)

// Target is where HTTP and TCP checks connect: the task's address as the
// agent reaches it (127.0.0.1 or the container IP) and the host port that
// the check's portIndex resolved to. mesos.HealthCheck.Port, when set,
// overrides Port; an empty Host means 127.0.0.1.
type Target struct {
	Host string
	Port int
}

// Exec runs a COMMAND check's shell command inside the task's container
// and returns its exit code and (some of) its output. It must return when
// ctx is done; err is for failures to run the command at all.
type Exec func(ctx context.Context, command string) (exitCode int, output string, err error)

// Result is a task's health as the checker sees it.
type Result struct {
	// Healthy is false until the first passing check and after any failure
	// that counted.
	Healthy bool
	// ConsecutiveFailures counts failed checks since the last pass, not
	// counting failures ignored in the grace period.
	ConsecutiveFailures int
	FirstSuccess        time.Time
	LastSuccess         time.Time
	// LastFailure and LastFailureCause include failures ignored in the grace
	// period.
	LastFailure      time.Time
	LastFailureCause string
	// Kill is set when ConsecutiveFailures reaches the check's limit after
	// the grace period. It stays set, and the checker stops checking: the
	// Result carrying Kill is passed to onChange exactly once.
	Kill bool
}

// Checker runs one task's health check.
type Checker struct {
	cfg      config
	exec     Exec
	client   *http.Client
	onChange func(Result)
	first    time.Time // when the first check is due

	mu sync.Mutex // guards st
	st state
}

// New validates check and returns a Checker for a task that started at
// started. Zero durations take Marathon's defaults (DefaultDelay and the
// others); ConsecutiveFailures 0 means never kill. exec is needed for
// COMMAND checks only. onChange, if not nil, is called from Run when
// Healthy flips (including the first pass), when the failure count
// changes, and when Kill is set; never for a pass that follows a pass.
func New(check mesos.HealthCheck, target Target, exec Exec, started time.Time, onChange func(Result)) (*Checker, error) {
	cfg, err := newConfig(check, target, exec)
	if err != nil {
		return nil, err
	}
	c := &Checker{
		cfg:      cfg,
		exec:     exec,
		onChange: onChange,
		first:    started.Add(cfg.delay),
		st:       state{started: started, grace: cfg.grace, maxFailures: cfg.maxFailures},
	}
	if cfg.typ == TypeHTTP {
		c.client = &http.Client{
			Transport: &http.Transport{
				// Never through the agent's HTTP_PROXY, and a fresh
				// connection per check, as a curl per check in Mesos.
				Proxy:             nil,
				DialContext:       (&net.Dialer{}).DialContext,
				DisableKeepAlives: true,
				// Tasks serve self-signed certificates as often as not;
				// Marathon's HTTPS checks do not verify them either.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			},
			// A 3xx is an answer (healthy), not a place to go.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// Result returns the current health.
func (c *Checker) Result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.res
}

// Run checks the task until ctx is done, calling onChange as New says.
// After reporting Kill it checks no more and waits for ctx. Call it once.
func (c *Checker) Run(ctx context.Context) {
	next := c.first
	for {
		if !sleepUntil(ctx, next) {
			return
		}
		next = time.Now().Add(c.cfg.interval)
		err := c.check(ctx)
		if ctx.Err() != nil {
			return // cut short by our owner, not by the task
		}
		c.mu.Lock()
		changed := c.st.observe(time.Now(), err)
		res := c.st.res
		c.mu.Unlock()
		if changed && c.onChange != nil {
			c.onChange(res)
		}
		if res.Kill {
			<-ctx.Done()
			return
		}
	}
}

// sleepUntil waits until t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
