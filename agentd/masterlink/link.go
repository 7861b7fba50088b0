// Package masterlink is an agent's connection to the leading master over the
// agent protocol: it subscribes (re-registering with its agent ID and tasks
// after the first time), follows leader redirects, sends heartbeats and
// calls, hands events to the agent, and reconnects with backoff when the
// stream breaks or goes quiet.
package masterlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"corral/mesos"
)

// Config describes the agent and where its masters are.
type Config struct {
	// Masters are host:port addresses of the masters' Mesos API.
	Masters []string
	// Info describes the agent; its ID is filled in once registered.
	Info mesos.AgentInfo
	// Tasks, if set, lists the agent's tasks for re-registration.
	Tasks func() []mesos.Task
	// Client makes the requests; a shared client lets many simulated agents
	// share connections. Its Timeout must be zero (streams are long-lived).
	Client *http.Client
	// MinBackoff and MaxBackoff bound the wait between reconnects.
	MinBackoff, MaxBackoff time.Duration
	// SubscribeTimeout bounds the wait for a master's SUBSCRIBED after
	// dialling it; 0 means three default heartbeat intervals (45 s).
	SubscribeTimeout time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Masters) == 0 {
		return errors.New("invalid --master: no master address given")
	}
	for _, m := range c.Masters {
		if m == "" || strings.Contains(m, "/") {
			return fmt.Errorf("invalid master address %q, must be host:port", m)
		}
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("invalid backoff [%v, %v], must be 0 < min <= max", c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

// EventFunc receives the master's events in order. It must not block long:
// the stream is read on the same goroutine.
type EventFunc func(ctx context.Context, ev mesos.AgentEvent)

// Link is one agent's connection to the master.
type Link struct {
	cfg     Config
	onEvent EventFunc
	log     *slog.Logger

	mu         sync.Mutex // guards agentID, master, streamID and registered
	agentID    string
	master     string // host:port of the master serving the current stream
	streamID   string
	registered chan struct{} // closed at the first SUBSCRIBED
	once       sync.Once     // closes registered
}

// New returns a link; Run connects it.
func New(cfg Config, onEvent EventFunc, log *slog.Logger) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Link{cfg: cfg, onEvent: onEvent, log: log, agentID: cfg.Info.ID, registered: make(chan struct{})}, nil
}

// AgentID returns the ID the master assigned, or "" before registration.
func (l *Link) AgentID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.agentID
}

// Master returns the address of the master the link is subscribed to.
func (l *Link) Master() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.master
}

// Registered is closed once the agent has registered for the first time.
func (l *Link) Registered() <-chan struct{} { return l.registered }

// Run keeps the agent subscribed until ctx ends.
func (l *Link) Run(ctx context.Context) error {
	backoff := l.cfg.MinBackoff
	next := 0
	for ctx.Err() == nil {
		master := l.cfg.Masters[next%len(l.cfg.Masters)]
		if last := l.Master(); last != "" {
			master = last // try the last leader first
		}
		subscribed, err := l.subscribe(ctx, master)
		if ctx.Err() != nil {
			break
		}
		l.setStream("", "")
		if subscribed {
			backoff = l.cfg.MinBackoff
		} else {
			next++
		}
		l.log.Debug("master stream ended, reconnecting", "master", master, "err", err, "in", backoff)
		// Full jitter keeps thousands of agents from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(2*backoff, l.cfg.MaxBackoff)
	}
	return nil
}

func (l *Link) setStream(master, stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.master, l.streamID = master, stream
}

// subscribe opens one stream and reads it until it ends. It reports whether
// the master accepted the subscription.
func (l *Link) subscribe(ctx context.Context, master string) (bool, error) {
	info := l.cfg.Info
	info.ID = l.AgentID()
	call := mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: info}}
	if l.cfg.Tasks != nil && info.ID != "" {
		call.Subscribe.Tasks = l.cfg.Tasks()
	}
	body, err := json.Marshal(call)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, "http://"+master+mesos.AgentAPIPath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.cfg.Client.Do(req) // follows a standby's 307 to the leader
	if err != nil {
		return false, fmt.Errorf("subscribing at %s: %w", master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusBadRequest {
			l.log.Error("master rejected registration", "master", master, "status", resp.Status, "reason", strings.TrimSpace(string(msg)))
		}
		return false, fmt.Errorf("subscribing at %s: %s: %s", master, resp.Status, strings.TrimSpace(string(msg)))
	}
	leader := resp.Request.URL.Host
	l.setStream(leader, resp.Header.Get(mesos.StreamIDHeader))

	// A stream that stays silent past a few heartbeat intervals is dead.
	interval := 15 * time.Second // until SUBSCRIBED says otherwise
	idle := time.AfterFunc(3*interval, cancel)
	defer idle.Stop()
	var hbWG sync.WaitGroup
	defer hbWG.Wait()
	defer cancel()
	rr := mesos.NewRecordReader(resp.Body)
	subscribed := false
	for {
		var ev mesos.AgentEvent
		if err := rr.Read(&ev); err != nil {
			return subscribed, fmt.Errorf("reading stream from %s: %w", leader, err)
		}
		if ev.Type == mesos.AgentEventSubscribed && ev.Subscribed != nil && !subscribed {
			subscribed = true
			if s := ev.Subscribed.HeartbeatIntervalSeconds; s > 0 {
				interval = time.Duration(s * float64(time.Second))
			}
			l.mu.Lock()
			l.agentID = ev.Subscribed.AgentID
			l.mu.Unlock()
			l.once.Do(func() { close(l.registered) })
			hbWG.Add(1)
			go func() {
				defer hbWG.Done()
				l.heartbeat(sctx, interval)
			}()
		}
		idle.Reset(3 * interval)
		if ev.Type != mesos.AgentEventHeartbeat {
			l.onEvent(ctx, ev)
		}
	}
}

// heartbeat tells the master the agent is alive; a slightly shorter period
// than the master's interval keeps it inside the ping timeout.
func (l *Link) heartbeat(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval * 4 / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Send(ctx, mesos.AgentCall{Type: mesos.AgentCallHeartbeat}); err != nil && ctx.Err() == nil {
				l.log.Debug("heartbeat failed", "err", err)
			}
		}
	}
}

// ErrNotConnected is returned by Send while no stream is open.
var ErrNotConnected = errors.New("not connected to a master")

// Send posts a call on the current stream. The agent ID is filled in.
func (l *Link) Send(ctx context.Context, call mesos.AgentCall) error {
	l.mu.Lock()
	master, stream, id := l.master, l.streamID, l.agentID
	l.mu.Unlock()
	if stream == "" {
		return ErrNotConnected
	}
	call.AgentID = id
	body, err := json.Marshal(call)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+master+mesos.AgentAPIPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(mesos.StreamIDHeader, stream)
	resp, err := l.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("sending %s to %s: %w", call.Type, master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("sending %s to %s: %s: %s", call.Type, master, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}
