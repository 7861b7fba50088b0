package api

import (
	"net/http"

	"corral/httpauth"
	"corral/marathon"
)

// authenticate checks HTTP basic auth when Config.Credentials is set. A
// request without credentials, or with wrong ones, gets 401 and the
// challenge, as Marathon's --http_credentials (Jetty's BasicAuthenticator)
// answers both; it reports whether the request may go on.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Credentials == "" || httpauth.Match(s.cfg.Credentials, r) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+s.cfg.Realm+`"`)
	writeJSON(w, http.StatusUnauthorized, marathon.Message{Message: "Unauthorized"})
	return false
}
