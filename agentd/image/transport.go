package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// plainHTTPAllowed reports whether host (host or host:port, as in a URL) may
// be reached over plain HTTP: loopback addresses always, others only when
// listed in insecure, where an entry without a port covers every port.
func plainHTTPAllowed(host string, insecure []string) bool {
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.TrimSuffix(strings.TrimPrefix(hostname, "["), "]")
	if hostname == "localhost" {
		return true
	}
	if ip := net.ParseIP(hostname); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, e := range insecure {
		if e == host || e == hostname {
			return true
		}
	}
	return false
}

var errPlainHTTP = errors.New("refusing plain HTTP")

// httpGuard refuses plain HTTP to hosts plainHTTPAllowed rejects.
// go-containerregistry on its own also falls back to HTTP for RFC 1918
// addresses, and a redirect could lead anywhere; both must be asked for.
type httpGuard struct {
	next     http.RoundTripper
	insecure []string
}

func newTransport(insecure []string) http.RoundTripper {
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		base = http.DefaultTransport.(*http.Transport)
	}
	return httpGuard{next: base.Clone(), insecure: insecure}
}

func (g httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !plainHTTPAllowed(req.URL.Host, g.insecure) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w to %s: not a loopback address and not an insecure registry", errPlainHTTP, req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// unreachable reports whether err means the registry could not be asked
// (no connection, timeout, a 5xx from it or a proxy in front of it), as
// opposed to a registry that answered no or a policy that forbids asking.
func unreachable(err error) bool {
	var terr *transport.Error
	var nerr net.Error
	switch {
	case errors.Is(err, errPlainHTTP):
		return false
	case errors.As(err, &terr):
		return terr.StatusCode >= 500
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}
