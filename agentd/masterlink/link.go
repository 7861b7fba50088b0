// Package masterlink is an agent's connection to the leading master over the
// agent protocol: it subscribes (re-registering with its agent ID and tasks
// after the first time), follows leader redirects, sends heartbeats and
// calls, hands events to the agent, and reconnects with backoff when the
// stream breaks or goes quiet.
package masterlink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
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
	// MinBackoff and MaxBackoff bound the wait between reconnects. While
	// a master answers (or refuses the connection: its host is up), the
	// wait stays under ReachableBackoff instead, so that the agent is back
	// within about that long of a master leading; 0 means 1s.
	MinBackoff, MaxBackoff, ReachableBackoff time.Duration
	// SubscribeTimeout bounds the wait for a master's SUBSCRIBED after
	// dialling it; 0 means three default heartbeat intervals (45 s).
	SubscribeTimeout time.Duration
	// Secret, if set, is sent with every call as a bearer token (the
	// master's --agent-secret-file), to standbys and the leader alike.
	Secret string
	// TLS, if set, speaks HTTPS to the masters with this configuration
	// (the masters' CA, the agent's client certificate). A given Client
	// must have been built with it.
	TLS *tls.Config
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
	if c.ReachableBackoff < 0 {
		return fmt.Errorf("invalid reachable backoff %v, must be >= 0", c.ReachableBackoff)
	}
	if c.SubscribeTimeout < 0 {
		return fmt.Errorf("invalid subscribe timeout %v, must be >= 0", c.SubscribeTimeout)
	}
	return nil
}

// defaultInterval is the heartbeat interval until SUBSCRIBED gives the
// master's (Mesos's agent ping timeout).
const defaultInterval = 15 * time.Second

// minInterval bounds the heartbeat interval a master may ask for, so that a
// bad value neither floods it nor crashes the ticker.
const minInterval = 10 * time.Millisecond

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
		if cfg.TLS != nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = cfg.TLS
			cfg.Client.Transport = tr
		}
	}
	if cfg.Secret != "" {
		// Go drops Authorization on a redirect to another host; a standby's
		// 307 to the leader needs it as much as the standby did.
		c := *cfg.Client
		next := c.CheckRedirect
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if next != nil {
				if err := next(req, via); err != nil {
					return err
				}
			} else if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			req.Header.Set("Authorization", "Bearer "+cfg.Secret)
			return nil
		}
		cfg.Client = &c
	}
	if cfg.ReachableBackoff == 0 {
		cfg.ReachableBackoff = time.Second
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
		// A standby redirects to the leader (the client follows at once),
		// so any master will do; after a failure try the next one, in case
		// this one is down.
		master := l.cfg.Masters[next%len(l.cfg.Masters)]
		res, err := l.subscribe(ctx, master)
		if ctx.Err() != nil {
			break
		}
		l.setStream("", "")
		limit := l.cfg.MaxBackoff
		switch res {
		case subscribed:
			backoff = l.cfg.MinBackoff
		case answered:
			// A master is up but no leader serves yet (a standby that
			// knows none, a master waiting for its predecessor's lease):
			// one will soon, and the agent must not sleep through it.
			limit = min(limit, l.cfg.ReachableBackoff)
			next++
		default:
			next++
		}
		backoff = min(backoff, limit)
		// Full jitter keeps thousands of agents from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		l.log.Debug("master stream ended, reconnecting", "master", master, "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(2*backoff, limit)
	}
	return nil
}

// result is how a subscription attempt ended.
type result int

const (
	unreachable result = iota // no master answered, or it hung
	answered                  // a master answered without subscribing the agent
	subscribed                // the master subscribed the agent; the stream ended later
	rejected                  // the master refused the registration itself (400)
)

func (l *Link) setStream(master, stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.master, l.streamID = master, stream
}

// subscribe opens one stream and reads it until it ends. It reports how
// far it got.
func (l *Link) subscribe(ctx context.Context, master string) (result, error) {
	info := l.cfg.Info
	info.ID = l.AgentID()
	call := mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: info}}
	if l.cfg.Tasks != nil && info.ID != "" {
		call.Subscribe.Tasks = l.cfg.Tasks()
	}
	body, err := json.Marshal(call)
	if err != nil {
		return unreachable, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A stream that stays silent past a few heartbeat intervals is dead,
	// and so is a master that does not answer the subscription at all
	// (hung, or waiting on its store): both are left for another try.
	interval := defaultInterval // until SUBSCRIBED says otherwise
	timeout := l.cfg.SubscribeTimeout
	if timeout == 0 {
		timeout = 3 * interval
	}
	idle := time.AfterFunc(timeout, cancel)
	defer idle.Stop()
	req, err := l.newRequest(sctx, master, body)
	if err != nil {
		return unreachable, err
	}
	resp, err := l.cfg.Client.Do(req) // follows a standby's 307 to the leader
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			// The host is up and the master not (yet) listening: it is
			// being restarted, most likely.
			return answered, fmt.Errorf("subscribing at %s: %w", master, err)
		}
		return unreachable, fmt.Errorf("subscribing at %s: %w", master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := fmt.Errorf("subscribing at %s: %s: %s", master, resp.Status, strings.TrimSpace(string(msg)))
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			// Asking again soon will not change the master's mind (a
			// refused secret or certificate, an ID another agent holds).
			l.log.Error("master rejected registration", "master", master, "status", resp.Status, "reason", strings.TrimSpace(string(msg)))
			return rejected, err
		}
		return answered, err
	}
	leader := resp.Request.URL.Host
	l.setStream(leader, resp.Header.Get(mesos.StreamIDHeader))

	var hbWG sync.WaitGroup
	defer hbWG.Wait()
	defer cancel()
	rr := mesos.NewRecordReader(resp.Body)
	res := answered
	for {
		var ev mesos.AgentEvent
		if err := rr.Read(&ev); err != nil {
			return res, fmt.Errorf("reading stream from %s: %w", leader, err)
		}
		if ev.Type == mesos.AgentEventSubscribed && ev.Subscribed != nil && res != subscribed {
			res = subscribed
			if s := ev.Subscribed.HeartbeatIntervalSeconds; s > 0 {
				interval = max(time.Duration(s*float64(time.Second)), minInterval)
			}
			l.mu.Lock()
			l.agentID = ev.Subscribed.AgentID
			l.mu.Unlock()
			l.once.Do(func() { close(l.registered) })
			hbWG.Add(1)
			go func() {
				defer hbWG.Done()
				l.heartbeat(sctx, cancel, interval)
			}()
		}
		if res == subscribed {
			idle.Reset(3 * interval)
		}
		if ev.Type != mesos.AgentEventHeartbeat {
			l.onEvent(ctx, ev)
		}
	}
}

// heartbeat tells the master the agent is alive; a slightly shorter period
// than the master's interval keeps it inside the ping timeout. A master
// that refuses the heartbeat no longer counts the stream as the agent's
// (it answers "subscribe again"), so the stream is dropped with drop.
func (l *Link) heartbeat(ctx context.Context, drop context.CancelFunc, interval time.Duration) {
	t := time.NewTicker(interval * 4 / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := l.Send(ctx, mesos.AgentCall{Type: mesos.AgentCallHeartbeat})
			var se *StatusError
			switch {
			case err == nil || ctx.Err() != nil:
			case errors.As(err, &se) && (se.Code == http.StatusBadRequest || se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden):
				l.log.Warn("master refused the heartbeat, subscribing again", "err", err)
				drop()
				return
			default:
				l.log.Debug("heartbeat failed", "err", err)
			}
		}
	}
}

// newRequest is an agent call to master, with the credentials.
func (l *Link) newRequest(ctx context.Context, master string, body []byte) (*http.Request, error) {
	scheme := "http://"
	if l.cfg.TLS != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+master+mesos.AgentAPIPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if l.cfg.Secret != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.Secret)
	}
	return req, nil
}

// ErrNotConnected is returned by Send while no stream is open.
var ErrNotConnected = errors.New("not connected to a master")

// StatusError is a call the master answered with an error status.
type StatusError struct {
	Call   string // the call's type
	Master string // host:port
	Code   int    // HTTP status code
	Msg    string // the master's reason
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sending %s to %s: %d %s: %s", e.Call, e.Master, e.Code, http.StatusText(e.Code), e.Msg)
}

// Send posts a call on the current stream. The agent ID is filled in. A
// call the master refuses returns a *StatusError.
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
	req, err := l.newRequest(ctx, master, body)
	if err != nil {
		return err
	}
	req.Header.Set(mesos.StreamIDHeader, stream)
	resp, err := l.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("sending %s to %s: %w", call.Type, master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Call: call.Type, Master: master, Code: resp.StatusCode, Msg: strings.TrimSpace(string(msg))}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// ClientTLS builds the TLS configuration of an agent's link from agentd's
// flags: the masters' server certificates are checked against caFile (the
// system's roots when empty), and certFile and keyFile, when given, are the
// agent's client certificate for masters that require one (--tls-ca).
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("invalid --tls-cert/--tls-key: give both or neither")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --tls-cert and --tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		pemBytes, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("invalid --tls-ca %q: no PEM certificate", caFile)
		}
	}
	return cfg, nil
}
