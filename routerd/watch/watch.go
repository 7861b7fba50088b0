// Package watch follows Marathon as marathon-lb does: a full read of
// GET /v2/apps?embed=apps.tasks when the event stream connects (and again
// every few minutes), then /v2/events for changes, applied as they come,
// with bursts coalesced into one update. Several Marathon URLs fail over
// to each other and standby redirects are followed. While Marathon is
// unreachable nothing is published, so routing goes on with the last good
// apps; Status says why.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"corral/httpauth"
	"corral/marathon"
)

// Config says where Marathon is and how to follow it.
type Config struct {
	URLs        []string      // Marathon base URLs, tried in turn
	Credentials string        // user:password for HTTP basic auth, or ""
	Resync      time.Duration // full read this often even without events
	// FullReadInterval is the least time between two full reads that
	// events asked for (deployments, group changes): a storm of changes
	// costs one read per interval.
	FullReadInterval time.Duration
	RequestTimeout   time.Duration // one read of the apps
	MaxBackoff       time.Duration // longest wait between reconnects
}

// DefaultConfig follows http://127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{URLs: []string{"http://127.0.0.1:8080"}, Resync: 5 * time.Minute, FullReadInterval: time.Second,
		RequestTimeout: 30 * time.Second, MaxBackoff: 5 * time.Second}
}

// ParseURLs splits a comma-separated list of Marathon URLs.
func ParseURLs(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, strings.TrimSuffix(f, "/"))
		}
	}
	return out
}

// Validate checks the config.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("no Marathon URL")
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("invalid Marathon URL %q, must be http(s)://host[:port]", u)
		}
	}
	if err := httpauth.Check("--marathon-credentials", c.Credentials); err != nil {
		return err
	}
	if c.Resync <= 0 || c.FullReadInterval < 0 || c.RequestTimeout <= 0 || c.MaxBackoff <= 0 {
		return fmt.Errorf("invalid watch timing: resync %v, full read interval %v, request timeout %v, max backoff %v; must be positive",
			c.Resync, c.FullReadInterval, c.RequestTimeout, c.MaxBackoff)
	}
	return nil
}

// Status is the watcher's view of Marathon.
type Status struct {
	Connected bool      `json:"connected"`
	URL       string    `json:"url,omitempty"`      // the Marathon followed now, or tried last
	LastSync  time.Time `json:"lastSync,omitzero"`  // last full read
	LastEvent time.Time `json:"lastEvent,omitzero"` // last event applied
	Error     string    `json:"error,omitempty"`    // why it is not connected
	Since     time.Time `json:"since,omitzero"`     // when the current condition began
	Events    uint64    `json:"events"`
	BadEvents uint64    `json:"badEvents"` // events that could not be decoded, skipped
}

// Watcher follows Marathon.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	// OnSyncError, when set, is called for each failed read or stream.
	OnSyncError func()
	// OnSync, when set, is called after each full read.
	OnSync func()

	mu     sync.Mutex // guards status
	status Status
}

// New makes a watcher.
func New(cfg Config, log *slog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, log: log, status: Status{Error: "not connected yet", Since: time.Now()}}
	w.client = &http.Client{CheckRedirect: w.redirect}
	return w, nil
}

// redirect follows a standby's redirect to the leader, keeping the
// credentials (Go drops them when the host changes).
func (w *Watcher) redirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("more than 5 redirects")
	}
	w.auth(req)
	return nil
}

func (w *Watcher) auth(req *http.Request) {
	if u, p, ok := strings.Cut(w.cfg.Credentials, ":"); ok {
		req.SetBasicAuth(u, p)
	}
}

// Status returns the watcher's view of Marathon now.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(*Status)) {
	w.mu.Lock()
	f(&w.status)
	w.mu.Unlock()
}

// Run follows Marathon until ctx ends, calling publish with every app and
// its tasks after each change. publish runs on Run's goroutine.
func (w *Watcher) Run(ctx context.Context, publish func([]marathon.AppInfo)) error {
	backoff := 100 * time.Millisecond
	for i := 0; ctx.Err() == nil; i++ {
		base := w.cfg.URLs[i%len(w.cfg.URLs)]
		started := time.Now()
		err := w.session(ctx, base, publish)
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			err = errors.New("event stream ended")
		}
		if w.OnSyncError != nil {
			w.OnSyncError()
		}
		w.setStatus(func(s *Status) {
			if s.Connected || s.Error == "" {
				s.Since = time.Now()
			}
			s.Connected, s.URL, s.Error = false, base, err.Error()
		})
		w.log.Warn("marathon unreachable, routing on the last good apps", "url", base, "err", err)
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
	return nil
}

// session follows one Marathon until its event stream fails.
func (w *Watcher) session(ctx context.Context, base string, publish func([]marathon.AppInfo)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/events?"+streamQuery, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	w.auth(req)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("connecting to the event stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("connecting to the event stream: %s", resp.Status)
	}
	// Reads go to the Marathon that served the stream, after redirects.
	u := *resp.Request.URL
	u.Path, u.RawQuery = strings.TrimSuffix(u.Path, "/v2/events"), ""
	base = strings.TrimSuffix(u.String(), "/")
	events := make(chan marathon.Event, 4096)
	readErr := make(chan error, 1)
	go func() { readErr <- w.readEvents(resp.Body, events) }()
	defer func() {
		cancel()
		resp.Body.Close()
		for range events { // let the reader finish
		}
	}()

	st := newState()
	started := time.Now()
	apps, err := w.readApps(ctx, base)
	if err != nil {
		return err
	}
	st.reset(apps, started)
	publish(st.snapshot())
	w.setStatus(func(s *Status) { s.Connected, s.URL, s.Error, s.Since = true, base, "", time.Now() })
	w.log.Info("following marathon", "url", base, "apps", len(st.apps))

	// Reads of Marathon run beside the event loop, which never waits for
	// them: their results come back here and are merged with the events
	// applied meanwhile (state.replay).
	results := make(chan readResult, 16)
	var reads sync.WaitGroup
	defer reads.Wait() // after cancel (deferred above runs later): reads end with ctx
	defer cancel()
	inflight := map[string]bool{} // app IDs being read; "" for all apps
	startRead := func(id string) {
		if inflight[id] {
			return
		}
		inflight[id] = true
		reads.Add(1)
		go func() {
			defer reads.Done()
			r := readResult{app: id, started: time.Now()}
			if id == "" {
				r.apps, r.err = w.readApps(ctx, base)
			} else {
				r.one, r.notFound, r.err = w.readApp(ctx, base, id)
			}
			select {
			case results <- r:
			case <-ctx.Done():
			}
		}()
	}

	resync := time.NewTicker(w.cfg.Resync)
	defer resync.Stop()
	var fullTimer <-chan time.Time
	wantFull := false
	lastFull := time.Now()
	for {
		var ev marathon.Event
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-resync.C:
			startRead("")
			continue
		case <-fullTimer:
			fullTimer = nil
			startRead("")
			continue
		case r := <-results:
			delete(inflight, r.app)
			if r.err != nil {
				return r.err
			}
			switch {
			case r.app == "":
				st.reset(r.apps, r.started)
				lastFull = time.Now()
				w.log.Debug("apps read", "apps", len(r.apps), "took", time.Since(r.started))
				if wantFull {
					wantFull = false
					fullTimer = time.After(w.cfg.FullReadInterval)
				}
			case r.notFound:
				delete(st.apps, r.app)
			default:
				st.setApp(*r.one, r.started)
			}
			publish(st.snapshot())
			continue
		case ev, ok = <-events:
			if !ok {
				return <-readErr
			}
		}
		// Apply this event and every one already waiting, then publish
		// once: a burst costs one table.
		var eff effect
		n := 0
		now := time.Now()
		for {
			e := st.apply(ev, now)
			n++
			eff.changed = eff.changed || e.changed
			eff.fetchAll = eff.fetchAll || e.fetchAll
			for _, id := range e.fetchApps {
				if strings.HasPrefix(id, "/") && !strings.ContainsAny(id, "?#") {
					startRead(id)
				}
			}
			if n >= 10000 {
				break
			}
			select {
			case ev, ok = <-events:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		w.setStatus(func(s *Status) { s.LastEvent = now; s.Events += uint64(n) })
		if eff.fetchAll {
			switch {
			case inflight[""]:
				wantFull = true // once this read is back
			case fullTimer == nil:
				fullTimer = time.After(max(0, w.cfg.FullReadInterval-time.Since(lastFull)))
			}
		}
		if eff.changed {
			publish(st.snapshot())
		}
		w.log.Debug("events applied", "events", n, "changed", eff.changed, "fullRead", eff.fetchAll)
	}
}

// readResult is a read of Marathon's apps (app "") or of one app.
type readResult struct {
	app      string
	started  time.Time
	apps     []marathon.AppInfo
	one      *marathon.AppInfo
	notFound bool
	err      error
}

// followed are the event types the watcher asks for (Marathon ≥ 1.5 sends
// only those; older ones send all and the rest are skipped).
var followed = []string{
	marathon.EventStatusUpdate, marathon.EventHealthStatusChanged, marathon.EventInstanceHealthChanged,
	marathon.EventAPIPost, marathon.EventAppTerminated,
	marathon.EventDeploymentInfo, marathon.EventDeploymentStepSuccess, marathon.EventDeploymentStepFailure,
	marathon.EventDeploymentSuccess, marathon.EventDeploymentFailed,
	marathon.EventGroupChangeSuccess, marathon.EventGroupChangeFailed,
}

// streamQuery asks for the followed events, with deployment plans
// without their original and target groups: those hold every app, so at
// a few hundred apps one deployment event is megabytes, and decoding them
// delayed the status updates queued behind.
var streamQuery = func() string {
	q := url.Values{"event_type": followed, "plan-format": {"light"}}
	return q.Encode()
}()

// settles reports whether an event type only asks for a full read (its
// content is not used): deployments and group changes.
func settles(eventType string) bool {
	switch eventType {
	case marathon.EventDeploymentInfo, marathon.EventDeploymentStepSuccess, marathon.EventDeploymentStepFailure,
		marathon.EventDeploymentSuccess, marathon.EventDeploymentFailed,
		marathon.EventGroupChangeSuccess, marathon.EventGroupChangeFailed:
		return true
	}
	return false
}

// readEvents decodes the stream into events until it ends; undecodable
// events are counted, logged and skipped. Deployment and group events,
// whose content the watcher does not use, are not decoded when the
// stream names their type (Marathon does).
func (w *Watcher) readEvents(body io.Reader, out chan<- marathon.Event) error {
	defer close(out)
	r := newSSEReader(body)
	for {
		raw, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("event stream closed by marathon")
			}
			return fmt.Errorf("reading the event stream: %w", err)
		}
		if settles(raw.Name) {
			out <- &marathon.DeploymentEvent{EventMeta: marathon.EventMeta{EventType: raw.Name}}
			continue
		}
		ev, err := marathon.DecodeEvent(raw.Data)
		if err != nil {
			w.setStatus(func(s *Status) { s.BadEvents++ })
			w.log.Debug("event skipped", "event", raw.Name, "err", err)
			continue
		}
		out <- ev
	}
}

// readApps reads every app with its tasks.
func (w *Watcher) readApps(ctx context.Context, base string) ([]marathon.AppInfo, error) {
	var list struct {
		Apps []marathon.AppInfo `json:"apps"`
	}
	if _, err := w.getJSON(ctx, base+"/v2/apps?embed=apps.tasks", &list); err != nil {
		return nil, fmt.Errorf("reading apps: %w", err)
	}
	if list.Apps == nil {
		list.Apps = []marathon.AppInfo{}
	}
	w.setStatus(func(s *Status) { s.LastSync = time.Now() })
	if w.OnSync != nil {
		w.OnSync()
	}
	return list.Apps, nil
}

// readApp reads one app with its tasks; notFound when Marathon has none.
func (w *Watcher) readApp(ctx context.Context, base, id string) (*marathon.AppInfo, bool, error) {
	var one struct {
		App marathon.AppInfo `json:"app"`
	}
	code, err := w.getJSON(ctx, base+"/v2/apps"+id+"?embed=app.tasks", &one)
	if code == http.StatusNotFound {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading app %s: %w", id, err)
	}
	if one.App.ID != id {
		return nil, false, fmt.Errorf("reading app %s: marathon answered app %q", id, one.App.ID)
	}
	return &one.App, false, nil
}

func (w *Watcher) getJSON(ctx context.Context, u string, v any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	w.auth(req)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("decoding %s: %w", u, err)
	}
	return resp.StatusCode, nil
}
