package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"corral/marathon"
)

// authenticate checks HTTP basic auth when Config.Credentials is set. A
// request without credentials, or with wrong ones, gets 401 and the
// challenge, as Marathon's --http_credentials (Jetty's BasicAuthenticator)
// answers both; it reports whether the request may go on.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Credentials == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if ok && credentialsMatch(s.cfg.Credentials, user+":"+pass) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+s.cfg.Realm+`"`)
	writeJSON(w, http.StatusUnauthorized, marathon.Message{Message: "Unauthorized"})
	return false
}

// credentialsMatch compares in constant time (for the length too, by
// comparing digests). Configured credentials without a user match nothing.
func credentialsMatch(want, got string) bool {
	if user, _, ok := strings.Cut(want, ":"); !ok || user == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
