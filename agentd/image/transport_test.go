package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestPlainHTTPAllowed(t *testing.T) {
	insecure := []string{"reg.local:5000", "10.0.0.7", "[fd00::1]:5000"}
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.0.0.2", true},
		{"localhost:5000", true},
		{"localhost", true},
		{"[::1]:5000", true},
		{"reg.local:5000", true},
		{"reg.local:5001", false},
		{"reg.local", false},
		{"10.0.0.7:443", true},
		{"10.0.0.8:5000", false},
		{"192.168.1.1:5000", false},
		{"[fd00::1]:5000", true},
		{"index.docker.io", false},
		{"localhost.evil.com", false},
	}
	for _, tt := range tests {
		if got := plainHTTPAllowed(tt.host, insecure); got != tt.want {
			t.Errorf("plainHTTPAllowed(%q, %q) = %v, want %v", tt.host, insecure, got, tt.want)
		}
	}
}

func TestHTTPGuard(t *testing.T) {
	called := false
	g := httpGuard{next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})}
	tests := []struct {
		url  string
		want bool // passed on
	}{
		{"http://127.0.0.1:5000/v2/", true},
		{"https://10.0.0.1:5000/v2/", true},
		{"http://10.0.0.1:5000/v2/", false},
		{"http://storage.example.com/blob", false},
	}
	for _, tt := range tests {
		called = false
		req, err := http.NewRequest(http.MethodGet, tt.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := g.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		if called != tt.want || (err == nil) != tt.want {
			t.Errorf("RoundTrip(%s) passed on %v, err %v; want passed on %v", tt.url, called, err, tt.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestUnreachable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"timeout", fmt.Errorf("pulling: %w", context.DeadlineExceeded), true},
		{"503", &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"manifest unknown", &transport.Error{StatusCode: http.StatusNotFound}, false},
		{"unauthorized", &transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{"plain HTTP refused", &url.Error{Op: "Get", URL: "http://x", Err: fmt.Errorf("%w to x", errPlainHTTP)}, false},
		{"no image for this platform", errors.New("no child with platform linux/amd64 in index"), false},
	}
	for _, tt := range tests {
		if got := unreachable(tt.err); got != tt.want {
			t.Errorf("unreachable(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
