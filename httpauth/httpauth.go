// Package httpauth holds the HTTP authentication every Corral port shares:
// basic-auth credentials ("user:password", as Marathon's and Mesos's
// --http-credentials), their validation at start, a middleware that guards a
// handler but for the probes' paths, and the constant-time comparison behind
// both, which also checks the agents' shared secret.
package httpauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Check validates credentials as a flag gives them: empty (no auth) or
// user:password with neither part empty, so that a typo is a start-up error
// rather than a silent lock-out. flag names the flag in the message.
func Check(flag, creds string) error {
	if creds == "" {
		return nil
	}
	user, pass, ok := strings.Cut(creds, ":")
	switch {
	case !ok:
		return errors.New("invalid " + flag + ", must be user:password")
	case user == "":
		return errors.New("invalid " + flag + ": empty user, must be user:password")
	case pass == "":
		return errors.New("invalid " + flag + ": empty password, must be user:password")
	}
	return nil
}

// Equal compares two secrets in constant time, for their length too (it
// compares their digests).
func Equal(want, got string) bool {
	a, b := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Match reports whether a request's basic-auth credentials are want's
// (user:password). Configured credentials without a user match nothing.
func Match(want string, r *http.Request) bool {
	if user, _, ok := strings.Cut(want, ":"); !ok || user == "" {
		return false
	}
	user, pass, ok := r.BasicAuth()
	return ok && Equal(want, user+":"+pass)
}

// Basic guards next with HTTP basic auth: a request without creds, or with
// wrong ones, gets 401 with the realm's challenge, unless open says its path
// needs none (probes). Empty creds turn it off.
func Basic(creds, realm string, open func(*http.Request) bool, next http.Handler) http.Handler {
	if creds == "" {
		return next
	}
	challenge := `Basic realm="` + realm + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (open != nil && open(r)) || Match(creds, r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	})
}

// Bearer returns the token of an "Authorization: Bearer <token>" header,
// and whether there was one.
func Bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// ReadSecret reads a shared secret from a file, as masterd's
// --agent-secret-file and agentd's --secret-file give it: surrounding
// white space (a trailing newline) is not part of it, and an empty secret
// is an error, never "no authentication". An empty path returns "".
func ReadSecret(flag, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", flag, err)
	}
	s := strings.TrimSpace(string(b))
	switch {
	case s == "":
		return "", fmt.Errorf("invalid %s %q: the file is empty, must hold the secret", flag, path)
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("invalid %s %q: the secret must be one line", flag, path)
	}
	return s, nil
}

// AgentProxyToken is the bearer token the masters present on an agent's own
// HTTP port, derived from the agents' shared secret: the proxy's requests
// to agents go over plain HTTP, and whoever reads one there learns this
// token, which opens agents' /state and /files, but not the secret, which
// registers agents.
func AgentProxyToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("corral: the masters' /agent/<id>/ proxy"))
	return hex.EncodeToString(m.Sum(nil))
}
