package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"syscall"
	"time"

	"corral/marathon"
)

// leaderPoll is how often a request waiting for a leader looks again.
const leaderPoll = 50 * time.Millisecond

// Headers of leader forwarding, Marathon's names.
const (
	headerVia    = "X-Marathon-Via"
	headerLeader = "X-Marathon-Leader"
)

// awaitLeader says who serves r: this master's backend (b non-nil), or the
// leader at addr (ok). While an election is under way, or while the
// election names this master but it does not lead yet, it waits up to
// Config.LeaderWait for either, as Marathon's LeaderProxyFilter does.
func (s *server) awaitLeader(r *http.Request) (b Backend, addr string, ok bool) {
	if b := s.lead.Backend(); b != nil {
		return b, "", false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.LeaderWait)
	defer cancel()
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		if b := s.lead.Backend(); b != nil {
			return b, "", false
		}
		if addr, ok := s.lead.Leader(); ok && addr != s.cfg.Self {
			return nil, addr, true
		}
		select {
		case <-ctx.Done():
			return nil, "", false
		case <-t.C:
		}
	}
}

// leaderKey carries the leader's address from forward to the proxy.
type leaderKey struct{}

// forward proxies r to the leader at addr. Streams (the event stream)
// are flushed as they come.
func (s *server) forward(w http.ResponseWriter, r *http.Request, addr string) {
	if slices.Contains(r.Header.Values(headerVia), s.via) {
		s.log.Error("refusing to forward a request that this master forwarded before", "method", r.Method, "path", r.URL.Path, "leader", addr)
		writeJSON(w, http.StatusBadGateway, marathon.Message{Message: msgProxyLoop})
		return
	}
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), leaderKey{}, addr)))
}

func (s *server) newProxy() *httputil.ReverseProxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: s.cfg.ProxyDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSClientConfig = s.cfg.LeaderTLS.Clone()
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			addr, _ := pr.In.Context().Value(leaderKey{}).(string)
			pr.SetURL(&url.URL{Scheme: scheme(pr.In), Host: addr})
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			pr.Out.Header.Add(headerVia, s.via)
		},
		Transport:     tr,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Add(headerVia, s.via)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status, msg := http.StatusBadGateway, msgProxyFailed
			var ne net.Error
			switch {
			case errors.Is(err, context.Canceled):
				return // the client went away
			case errors.Is(err, syscall.ECONNREFUSED):
				msg = msgProxyRefused
			case errors.As(err, &ne) && ne.Timeout():
				status, msg = http.StatusGatewayTimeout, msgProxyTimeout
			}
			s.log.Warn("forwarding to the leader failed", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, status, marathon.Message{Message: msg})
		},
	}
}
