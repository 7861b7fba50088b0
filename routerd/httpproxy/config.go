package httpproxy

import (
	"fmt"
	"time"
)

// Config is how the proxy serves clients and reaches backends.
type Config struct {
	// TLSCertDir holds the edge's certificates: *.pem files each with a
	// certificate chain and its key, or NAME.pem/NAME.crt next to NAME.key.
	// Empty: only services' HAPROXY_{n}_SSL_CERT files are served.
	TLSCertDir string
	// CertCheckInterval is how often, at most, a TLS handshake checks
	// TLSCertDir and the services' certificate files for changes.
	CertCheckInterval time.Duration

	// DialTimeout bounds a connect to a backend.
	DialTimeout time.Duration
	// ReadTimeout bounds reading a client's request, from its first byte
	// (fasthttp's semantics: a streamed request body counts too).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response to the client; 0: no bound
	// (large downloads to slow clients).
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive client connection may wait for
	// its next request.
	IdleTimeout time.Duration
	// BackendTimeout is how long a backend may stay silent: waiting for
	// its response headers, or between two reads of its body (HAProxy's
	// "timeout server").
	BackendTimeout time.Duration
	// BackendIdleTimeout closes pooled keep-alive connections to a backend
	// idle this long; keep it below the backends' own idle timeouts (5s
	// for Node.js) so a request is seldom sent on a connection the backend
	// is closing.
	BackendIdleTimeout time.Duration
	// UnusedBackendTTL drops the connection pool of a backend address no
	// request used for this long and no table lists.
	UnusedBackendTTL time.Duration
	// ShutdownTimeout bounds how long Close waits for requests in flight.
	ShutdownTimeout time.Duration

	// MaxHeaderBytes bounds a request's line and headers; more is 431.
	MaxHeaderBytes int
	// BodyBufferBytes is how much of a request body is read before the
	// request is forwarded; larger bodies are streamed to the backend.
	BodyBufferBytes int
	// MaxConnsPerBackend bounds the connections to one backend address.
	MaxConnsPerBackend int
	// Retries is how many other backends a request is tried on when
	// connecting fails (nothing was sent, so any method may be retried).
	Retries int
	// StickyCookie names the cookie of HAPROXY_{n}_STICKY services.
	StickyCookie string
}

// DefaultConfig returns the defaults: connect in 2s, backend silence 60s,
// client idle 90s, 16 KiB of request headers.
func DefaultConfig() Config {
	return Config{
		CertCheckInterval:  2 * time.Second,
		DialTimeout:        2 * time.Second,
		ReadTimeout:        60 * time.Second,
		IdleTimeout:        90 * time.Second,
		BackendTimeout:     60 * time.Second,
		BackendIdleTimeout: 4 * time.Second,
		UnusedBackendTTL:   5 * time.Minute,
		ShutdownTimeout:    30 * time.Second,
		MaxHeaderBytes:     16 << 10,
		BodyBufferBytes:    64 << 10,
		MaxConnsPerBackend: 1024,
		Retries:            2,
		StickyCookie:       "corral_sticky",
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
		zero bool // 0 allowed
	}{
		{"cert check interval", c.CertCheckInterval, false},
		{"dial timeout", c.DialTimeout, false},
		{"read timeout", c.ReadTimeout, false},
		{"write timeout", c.WriteTimeout, true},
		{"idle timeout", c.IdleTimeout, false},
		{"backend timeout", c.BackendTimeout, false},
		{"backend idle timeout", c.BackendIdleTimeout, false},
		{"unused backend TTL", c.UnusedBackendTTL, false},
		{"shutdown timeout", c.ShutdownTimeout, false},
	} {
		if d.v < 0 || d.v == 0 && !d.zero {
			rule := "must be positive"
			if d.zero {
				rule = "must be 0 (none) or positive"
			}
			return fmt.Errorf("invalid %s %v, %s", d.name, d.v, rule)
		}
	}
	if c.MaxHeaderBytes < 1<<10 || c.MaxHeaderBytes > 1<<20 {
		return fmt.Errorf("invalid max header bytes %d, must be in [1024, 1048576]", c.MaxHeaderBytes)
	}
	if c.BodyBufferBytes < 0 || c.BodyBufferBytes > 64<<20 {
		return fmt.Errorf("invalid body buffer bytes %d, must be in [0, 67108864]", c.BodyBufferBytes)
	}
	if c.MaxConnsPerBackend < 1 {
		return fmt.Errorf("invalid max conns per backend %d, must be at least 1", c.MaxConnsPerBackend)
	}
	if c.Retries < 0 || c.Retries > 10 {
		return fmt.Errorf("invalid retries %d, must be in [0, 10]", c.Retries)
	}
	if c.StickyCookie == "" || !isToken(c.StickyCookie) {
		return fmt.Errorf("invalid sticky cookie name %q, must be a non-empty HTTP token", c.StickyCookie)
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isSeparator(c) {
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}
