package source

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corral/tstest"
)

// TestCredentials: a master behind basic auth (masterd --http-credentials)
// is read with the credentials, also where a standby that does not serve
// /master/redirect (old Mesos) redirects the state to a leader on another
// host name, a redirect on which Go's client drops Authorization.
func TestCredentials(t *testing.T) {
	leader := newFakeMaster(t)
	inner := leader.srv.Config.Handler
	var anonymous atomic.Int32
	leader.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "dns" || p != "pw:1" {
			anonymous.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="mesos"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	})
	leaderAddr := strings.Replace(leader.addr(), "127.0.0.1", "localhost", 1)
	standby := newFakeMaster(t)
	standby.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/master/redirect" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Location", "//"+leaderAddr+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	_, snaps := run(t, func(c *Config) { c.Credentials = "dns:pw:1" }, standby.addr())
	tstest.WaitFor(t, 5*time.Second, "the leader's state through the standby, with the credentials", func() bool {
		_, ok := snaps.last()
		return ok
	})
	if n := anonymous.Load(); n > 0 {
		t.Errorf("%d requests reached the leader without the credentials", n)
	}
	if err := (Config{Masters: []string{"m:5050"}, Scheme: "http", Credentials: "dns:"}).Validate(); err == nil || !strings.Contains(err.Error(), "--mesos-credentials") {
		t.Errorf("Validate with an empty password = %v, want an error naming --mesos-credentials", err)
	}
}
