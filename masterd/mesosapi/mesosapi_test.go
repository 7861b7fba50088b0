package mesosapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"corral/masterd/leader"
	"corral/masterd/master"
)

type fixedLeader struct {
	l       *leader.Info
	leading bool
}

func (f fixedLeader) Leader() (leader.Info, bool) {
	if f.l == nil {
		return leader.Info{}, false
	}
	return *f.l, true
}
func (f fixedLeader) IsLeader() bool { return f.leading }

func TestStandbyAnswers(t *testing.T) {
	other := &leader.Info{ID: "x", Hostname: "m2.example", IP: "10.0.0.2", Port: 5050}
	none := func() *master.Master { return nil }
	for _, tc := range []struct {
		name     string
		el       fixedLeader
		target   string
		code     int
		location string
	}{
		{"redirect to leader with path and query", fixedLeader{l: other}, "/master/state?jsonp=cb", 307, "//m2.example:5050/master/state?jsonp=cb"},
		{"agent API redirected too", fixedLeader{l: other}, "/api/v1/agent", 307, "//m2.example:5050/api/v1/agent"},
		{"master/redirect names the leader", fixedLeader{l: other}, "/master/redirect", 307, "//m2.example:5050"},
		{"no leader", fixedLeader{}, "/master/state", 503, ""},
		{"no leader redirect", fixedLeader{}, "/master/redirect", 503, ""},
		{"elected but recovering", fixedLeader{l: other, leading: true}, "/master/state", 503, ""},
		{"health always", fixedLeader{}, "/health", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.target == "/api/v1/agent" {
				method = http.MethodPost
			}
			w := httptest.NewRecorder()
			New(tc.el, none).ServeHTTP(w, httptest.NewRequest(method, tc.target, nil))
			if w.Code != tc.code || w.Header().Get("Location") != tc.location {
				t.Fatalf("%s %s = %d Location %q, want %d %q", method, tc.target, w.Code, w.Header().Get("Location"), tc.code, tc.location)
			}
			if tc.code == 503 && w.Body.String() != "No leader elected\n" {
				t.Fatalf("503 body = %q, want %q", w.Body.String(), "No leader elected\n")
			}
		})
	}
}

func TestMasterInfoIP(t *testing.T) {
	// Mesos packs 127.0.0.1 as 16777343.
	if got := MasterInfo(leader.Info{IP: "127.0.0.1"}).IP; got != 16777343 {
		t.Fatalf("MasterInfo(127.0.0.1).IP = %d, want 16777343", got)
	}
}
