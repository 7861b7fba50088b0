// Package source follows a Mesos cluster's state for the resolver. It
// finds the leading master, subscribes to its operator API (POST /api/v1
// SUBSCRIBE, Mesos 1.1 and later, and masterd) and applies each event as it
// comes, so a task is resolvable moments after it runs; against a master
// without that API it polls /master/state, as Mesos-DNS does. Either way it
// hands out complete snapshots in /master/state's form.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"corral/mesos"
)

// Source follows the leading master. Create it with New and call Run.
type Source struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client // follows redirects: a standby's 307 leads to the leader
	probe  *http.Client // does not: reads /master/redirect's Location

	mu       sync.Mutex // guards status and lastPoll
	status   Status
	lastPoll [sha256.Size]byte // the last polled state, to skip unchanged ones
}

// Status is how the source is doing, for health checks.
type Status struct {
	// Connected is true while an event stream is up, or when the last poll
	// succeeded.
	Connected bool
	// Streaming is true when following the operator API's events, false
	// when polling /master/state.
	Streaming bool
	// Leader is the host:port of the master followed.
	Leader string
	// LastSync is when the state was last known current: the last event or
	// heartbeat, or the last successful poll.
	LastSync time.Time
	// Err is the last failure; nil once connected again.
	Err error
}

// New returns a source; it does nothing until Run.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	if cfg.Credentials != "" {
		// Go drops Authorization on a redirect to another host: a
		// standby's 307 to the leader needs it as much as the standby did.
		c := *client
		next := c.CheckRedirect
		user, pass, _ := strings.Cut(cfg.Credentials, ":")
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if next != nil {
				if err := next(req, via); err != nil {
					return err
				}
			} else if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			req.SetBasicAuth(user, pass)
			return nil
		}
		client = &c
	}
	probe := *client
	probe.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Source{cfg: cfg, log: log.With("component", "dns-source"), client: client, probe: &probe}, nil
}

// Status reports how the source is doing.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Masters returns the masters DNS should name master0, master1…: the
// configured ones, and the leader's address when it is not among them.
func (s *Source) Masters() []string {
	s.mu.Lock()
	leader := s.status.Leader
	s.mu.Unlock()
	out := slices.Clone(s.cfg.Masters)
	if leader != "" && !slices.Contains(out, leader) {
		out = append(out, leader)
	}
	return out
}

// Run follows the cluster until ctx ends, calling emit with a complete
// snapshot after each change; emit runs on Run's goroutine, and bursts of
// changes are coalesced (Config.Coalesce). While no master answers, nothing
// is emitted: the last snapshot stays valid. Snapshots may share memory
// with later ones and must not be modified. Run returns nil when ctx ends.
func (s *Source) Run(ctx context.Context, emit func(mesos.MasterState)) error {
	if emit == nil {
		return errors.New("source: emit is nil")
	}
	st := newState()
	backoff := s.cfg.MinBackoff
	retry := func(err error) bool {
		s.failed(err)
		ok := sleep(ctx, jitter(backoff))
		backoff = min(2*backoff, s.cfg.MaxBackoff)
		return ok
	}
	for ctx.Err() == nil {
		leader, err := s.findLeader(ctx)
		if err != nil {
			if !retry(err) {
				break
			}
			continue
		}
		synced, err := s.stream(ctx, leader, st, emit)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errNoOperatorAPI) {
			s.log.Debug("master has no operator API, polling", "master", leader, "err", err)
			if err := s.poll(ctx, leader, emit); err != nil {
				if !retry(err) {
					break
				}
				continue
			}
			backoff = s.cfg.MinBackoff
			if !sleep(ctx, s.cfg.Refresh) {
				break
			}
			continue
		}
		if synced {
			backoff = s.cfg.MinBackoff
		}
		s.log.Warn("lost the master's event stream", "master", leader, "err", err)
		if !retry(err) {
			break
		}
	}
	return nil
}

// failed records err and marks the source disconnected.
func (s *Source) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Connected, s.status.Err = false, err
}

// synced records that the state is current as of now.
func (s *Source) synced(leader string, streaming bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = Status{Connected: true, Streaming: streaming, Leader: leader, LastSync: time.Now()}
}

// findLeader asks each master, the last leader first, who leads.
func (s *Source) findLeader(ctx context.Context) (string, error) {
	masters := s.cfg.Masters
	if last := s.Status().Leader; last != "" {
		masters = append([]string{last}, slices.DeleteFunc(slices.Clone(masters), func(m string) bool { return m == last })...)
	}
	var errs []error
	for _, m := range masters {
		leader, err := s.redirect(ctx, m)
		if err == nil {
			return leader, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("finding the leading master: %w", errors.Join(errs...))
}

// redirect asks one master for the leader, as /master/redirect answers:
// 307 with Location //host:port. A master without that endpoint is taken
// as the leader; a standby redirects the requests that follow anyway.
func (s *Source) redirect(ctx context.Context, master string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := s.newRequest(ctx, http.MethodGet, s.url(master, "/master/redirect"), nil)
	if err != nil {
		return "", fmt.Errorf("asking %s for the leader: %w", master, err)
	}
	resp, err := s.probe.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking %s for the leader: %w", master, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch resp.StatusCode {
	case http.StatusTemporaryRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusPermanentRedirect:
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("asking %s for the leader: bad Location %q", master, resp.Header.Get("Location"))
		}
		host := u.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			return "", fmt.Errorf("asking %s for the leader: Location %q has no port", master, resp.Header.Get("Location"))
		}
		return host, nil
	case http.StatusOK, http.StatusNotFound:
		return master, nil
	}
	return "", fmt.Errorf("asking %s for the leader: %s", master, resp.Status)
}

// newRequest is a request to a master, with the credentials.
func (s *Source) newRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err == nil && s.cfg.Credentials != "" {
		user, pass, _ := strings.Cut(s.cfg.Credentials, ":")
		req.SetBasicAuth(user, pass)
	}
	return req, err
}

func (s *Source) url(hostport, path string) string {
	return s.cfg.Scheme + "://" + hostport + path
}

// maxStateBytes bounds a /master/state body.
const maxStateBytes = 1 << 30

// getState reads /master/state from master. A standby that answers with
// its own state (real Mesos does) names the leader, which is asked once.
func (s *Source) getState(ctx context.Context, master string) (mesos.MasterState, []byte, error) {
	ms, body, err := s.getStateOnce(ctx, master)
	if err != nil || ms.Leader == "" || ms.PID == "" || ms.Leader == ms.PID {
		return ms, body, err
	}
	addr, ok := leaderAddr(ms.Leader)
	if !ok {
		return ms, body, nil
	}
	return s.getStateOnce(ctx, addr)
}

func (s *Source) getStateOnce(ctx context.Context, master string) (mesos.MasterState, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StateTimeout)
	defer cancel()
	var ms mesos.MasterState
	req, err := s.newRequest(ctx, http.MethodGet, s.url(master, "/master/state"), nil)
	if err != nil {
		return ms, nil, fmt.Errorf("reading %s/master/state: %w", master, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return ms, nil, fmt.Errorf("reading %s/master/state: %w", master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ms, nil, fmt.Errorf("reading %s/master/state: %s", master, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStateBytes))
	if err != nil {
		return ms, nil, fmt.Errorf("reading %s/master/state: %w", master, err)
	}
	if err := json.Unmarshal(body, &ms); err != nil {
		return ms, nil, fmt.Errorf("decoding %s/master/state: %w", master, err)
	}
	return ms, body, nil
}

// poll reads /master/state once and emits it unless it is unchanged.
func (s *Source) poll(ctx context.Context, leader string, emit func(mesos.MasterState)) error {
	ms, body, err := s.getState(ctx, leader)
	if err != nil {
		return err
	}
	if ms.Leader == "" && ms.LeaderInfo == nil {
		return fmt.Errorf("polling %s: the master names no leader", leader)
	}
	sum := sha256.Sum256(body)
	s.mu.Lock()
	same := sum == s.lastPoll
	s.lastPoll = sum
	s.mu.Unlock()
	if !same {
		emit(ms)
	}
	s.synced(leader, false)
	return nil
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads reconnects of many resolvers over [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
