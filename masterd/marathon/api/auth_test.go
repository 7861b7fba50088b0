package api

import (
	"encoding/base64"
	"net/http"
	"testing"
)

func TestBasicAuth(t *testing.T) {
	h, _ := leading(t, newFakeBackend(), func(c *Config) { c.Credentials = "admin:s3cr:et" })
	basic := func(creds string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
	}
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"wrong password", []string{basic("admin:wrong")}, http.StatusUnauthorized},
		{"wrong user", []string{basic("root:s3cr:et")}, http.StatusUnauthorized},
		{"not basic", []string{"Authorization: Bearer xyz"}, http.StatusUnauthorized},
		{"right", []string{basic("admin:s3cr:et")}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, "GET", "/v2/apps", "", tc.header...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != http.StatusUnauthorized {
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="Mesosphere"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			expectError(t, rec, http.StatusUnauthorized, `{"message": "Unauthorized"}`)
		})
	}
	if rec := do(t, h, "GET", "/ping", ""); rec.Code != http.StatusOK {
		t.Errorf("GET /ping without credentials: %d", rec.Code)
	}
	h, _ = leading(t, newFakeBackend(), func(c *Config) { c.Credentials = "a:b"; c.Realm = "Corral" })
	if got := do(t, h, "GET", "/v2/info", "").Header().Get("WWW-Authenticate"); got != `Basic realm="Corral"` {
		t.Errorf("WWW-Authenticate %q with realm Corral", got)
	}
}
