// Package router keeps routerd's current route table and the service-port
// listeners that match it. Each update builds a new table off the hot path,
// publishes it with an atomic swap, then opens the listeners of new ports
// and closes those of ports that went away, one by one: the other ports'
// listeners and every open connection are never touched.
package router

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"corral/marathon"
	"corral/routerd/metrics"
	"corral/routerd/route"
)

// Server serves a service port's listener until the listener is closed.
type Server interface {
	Serve(ln net.Listener, listenAddr string) error
}

// ServerFunc adapts a function to Server.
type ServerFunc func(ln net.Listener, listenAddr string) error

// Serve calls f.
func (f ServerFunc) Serve(ln net.Listener, listenAddr string) error { return f(ln, listenAddr) }

// Router holds the table and the listeners.
type Router struct {
	cfg     route.Config
	tcp     Server
	http    Server
	metrics *metrics.Metrics
	log     *slog.Logger
	table   atomic.Pointer[route.Table]

	mu        sync.Mutex // guards listeners, version, skipped and closed
	listeners map[string]*listener
	version   uint64
	skipped   map[string]bool // "app port reason" already logged
	closed    bool
	wg        sync.WaitGroup // one per serving listener
}

type listener struct {
	ln   net.Listener
	mode route.Mode
}

// New makes a router with an empty table; tcp serves TCP-mode ports, http
// HTTP-mode ones.
func New(cfg route.Config, tcp, http Server, m *metrics.Metrics, log *slog.Logger) *Router {
	r := &Router{cfg: cfg, tcp: tcp, http: http, metrics: m, log: log,
		listeners: map[string]*listener{}, skipped: map[string]bool{}}
	r.table.Store(route.Build(cfg, nil, nil, 0, time.Now()))
	return r
}

// Table returns the current table; never nil.
func (r *Router) Table() *route.Table { return r.table.Load() }

// Update builds the table for apps, publishes it and brings the listeners
// in line with it.
func (r *Router) Update(apps []marathon.AppInfo) *route.Table {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.table.Load()
	}
	r.version++
	t := route.Build(r.cfg, apps, r.table.Load(), r.version, time.Now())
	// Publish first: a connection accepted on a new listener must find
	// its service.
	r.table.Store(t)
	if errs := r.applyListeners(t); len(errs) > 0 {
		t = t.WithListenErrors(errs)
		r.table.Store(t)
	}
	r.metrics.TableVersion.Set(float64(t.Version))
	r.metrics.TableBuilt.Set(float64(t.Built.UnixNano()) / 1e9)
	r.metrics.Skipped.Set(float64(len(t.Skipped)))
	r.logSkips(t)
	return t
}

// applyListeners opens the listeners t needs and closes the others; it
// returns the addresses that could not be bound.
func (r *Router) applyListeners(t *route.Table) map[string]string {
	want := map[string]route.Mode{}
	for _, s := range t.Services {
		if s.Listen != "" {
			want[s.Listen] = s.Mode
		}
	}
	for addr, l := range r.listeners {
		if m, ok := want[addr]; !ok || m != l.mode {
			l.ln.Close() // its connections go on; the Serve goroutine returns
			delete(r.listeners, addr)
			r.log.Info("service port closed", "listen", addr)
		}
	}
	var errs map[string]string
	for addr, mode := range want {
		if _, ok := r.listeners[addr]; ok {
			continue
		}
		ln, err := listen(addr)
		if err != nil {
			if errs == nil {
				errs = map[string]string{}
			}
			errs[addr] = err.Error()
			continue
		}
		srv := r.tcp
		if mode == route.ModeHTTP {
			srv = r.http
		}
		l := &listener{ln: ln, mode: mode}
		r.listeners[addr] = l
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := srv.Serve(ln, addr); err != nil {
				// Not left bound and unserved, where clients would hang:
				// closed, it refuses them, and the next update opens it
				// again.
				r.log.Warn("service port stopped; it opens again at the next update", "listen", addr, "err", err)
				r.mu.Lock()
				if r.listeners[addr] == l {
					ln.Close()
					delete(r.listeners, addr)
				}
				r.mu.Unlock()
			}
		}()
		r.log.Info("service port open", "listen", addr, "mode", mode)
	}
	return errs
}

func listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", addr)
}

// logSkips logs each skipped port once, when its reason first shows.
func (r *Router) logSkips(t *route.Table) {
	now := map[string]bool{}
	for _, s := range t.Skipped {
		key := fmt.Sprintf("%s %d %s", s.AppID, s.PortIndex, s.Reason)
		now[key] = true
		if !r.skipped[key] {
			r.log.Warn("app port not routed", "app", s.AppID, "portIndex", s.PortIndex, "servicePort", s.ServicePort, "reason", s.Reason)
		}
	}
	r.skipped = now
}

// Listening lists the addresses with an open listener.
func (r *Router) Listening() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.listeners))
	for a := range r.listeners {
		out = append(out, a)
	}
	return out
}

// Close closes every listener and waits for their Serve calls to return.
// Connections are the servers' to end.
func (r *Router) Close() {
	r.mu.Lock()
	r.closed = true
	for addr, l := range r.listeners {
		l.ln.Close()
		delete(r.listeners, addr)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
