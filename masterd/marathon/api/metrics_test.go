package api

import (
	"encoding/base64"
	"net/http"
	"testing"
)

// TestMetricsServedLocallyBehindAuth: GET /metrics is this master's own,
// served whether it leads or not (a standby must not forward it to the
// leader, whose figures are not its own), and behind --http-credentials.
func TestMetricsServedLocallyBehindAuth(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("this master's metrics\n")) })
	h, lead := leading(t, newFakeBackend(), func(c *Config) { c.Credentials = "admin:pw"; c.Metrics = metrics })
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:pw"))
	if rec := do(t, h, "GET", "/metrics", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without credentials: %d, want 401", rec.Code)
	}
	if rec := do(t, h, "GET", "/metrics", "", auth); rec.Code != http.StatusOK || rec.Body.String() != "this master's metrics\n" {
		t.Errorf("GET /metrics on the leader: %d %q", rec.Code, rec.Body)
	}
	lead.setBackend(nil) // a standby; the leader is elsewhere
	if rec := do(t, h, "GET", "/metrics", "", auth); rec.Code != http.StatusOK || rec.Body.String() != "this master's metrics\n" {
		t.Errorf("GET /metrics on a standby: %d %q, want its own metrics", rec.Code, rec.Body)
	}
}
