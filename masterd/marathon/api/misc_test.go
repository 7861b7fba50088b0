package api

import (
	"net/http"
	"slices"
	"testing"

	"corral/marathon"
)

func TestPing(t *testing.T) {
	h, lead := leading(t, newFakeBackend(), func(c *Config) { c.Credentials = "u:p" })
	lead.setBackend(nil) // neither auth nor leadership matter
	rec := do(t, h, "GET", "/ping", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "pong\n" || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("GET /ping: %d %q %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"))
	}
}

func TestInfo(t *testing.T) {
	h, _ := leading(t, newFakeBackend())
	rec := do(t, h, "GET", "/v2/info", "")
	info := expect[marathon.Info](t, rec, http.StatusOK)
	if !info.Elected || info.Leader != "leader.example:8080" || info.FrameworkID != "framework-1" || info.Version != "1.10.0-test" {
		t.Errorf("info %+v", info)
	}
	if got := rec.Header().Get("X-Marathon-Leader"); got != "http://leader.example:8080" {
		t.Errorf("X-Marathon-Leader %q", got)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-cache, no-store, must-revalidate" {
		t.Errorf("Cache-Control %q", got)
	}
}

func TestLeader(t *testing.T) {
	h, lead := leading(t, newFakeBackend())
	if got := expect[marathon.LeaderInfo](t, do(t, h, "GET", "/v2/leader", ""), http.StatusOK); got.Leader != "leader.example:8080" {
		t.Errorf("leader %q", got.Leader)
	}
	expectError(t, do(t, h, "DELETE", "/v2/leader", ""), http.StatusOK, `{"message": "Leadership abdicated"}`)
	if lead.abdicated != 1 {
		t.Errorf("abdicated %d times, want 1", lead.abdicated)
	}
	lead.mu.Lock()
	lead.b, lead.elected = nil, false
	lead.mu.Unlock()
	expectError(t, do(t, h, "GET", "/v2/leader", ""), http.StatusNotFound, `{"message": "There is no leader"}`)
}

func TestDeployments(t *testing.T) {
	f := newFakeBackend()
	h, _ := leading(t, f)
	rec := do(t, h, "GET", "/v2/deployments", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "[]\n" {
		t.Errorf("GET /v2/deployments without any: %d %q, want []", rec.Code, rec.Body)
	}
	f.deployments = []marathon.Deployment{{ID: "d1", Version: "2024-01-01T00:00:00.000Z", AffectedApps: []string{"/web"},
		Steps:       []marathon.DeploymentStep{{Actions: []marathon.DeploymentAction{{Action: marathon.ActionStartApplication, App: "/web"}}}},
		CurrentStep: 1, TotalSteps: 1}}
	list := expect[[]map[string]any](t, do(t, h, "GET", "/v2/deployments", ""), http.StatusOK)
	if len(list) != 1 || list[0]["id"] != "d1" || list[0]["currentActions"] == nil || list[0]["affectedPods"] == nil {
		t.Errorf("deployments %v", list)
	}

	rec = do(t, h, "DELETE", "/v2/deployments/d1", "")
	res := expect[marathon.DeploymentResult](t, rec, http.StatusOK)
	if res.DeploymentID != "rollback-of-d1" || rec.Header().Get(marathon.DeploymentHeader) != "rollback-of-d1" {
		t.Errorf("rollback %+v", res)
	}
	rec = do(t, h, "DELETE", "/v2/deployments/d1?force=true", "")
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 || !slices.Equal(f.cancelForc, []bool{false, true}) {
		t.Errorf("forced cancel: %d %q (force %v)", rec.Code, rec.Body, f.cancelForc)
	}
	expectError(t, do(t, h, "DELETE", "/v2/deployments/nope", ""), http.StatusNotFound, `{"message": "DeploymentPlan nope does not exist"}`)
}

func TestQueue(t *testing.T) {
	f := newFakeBackend()
	app := marathon.NewApp("/web")
	f.queue = []marathon.QueueItem{{App: &app, Count: 2, Since: "2024-01-01T00:00:00.000Z",
		LastUnusedOffers: []marathon.UnusedOffer{{Reason: []string{marathon.ReasonInsufficientCpus}}}}}
	f.delayed["/prod/web"] = true
	h, _ := leading(t, f)
	q := expect[marathon.Queue](t, do(t, h, "GET", "/v2/queue", ""), http.StatusOK)
	if len(q.Queue) != 1 || q.Queue[0].Count != 2 || q.Queue[0].LastUnusedOffers != nil {
		t.Errorf("queue %+v, want one item without offers", q.Queue)
	}
	q = expect[marathon.Queue](t, do(t, h, "GET", "/v2/queue?embed=lastUnusedOffers", ""), http.StatusOK)
	if len(q.Queue[0].LastUnusedOffers) != 1 {
		t.Errorf("queue with embed=lastUnusedOffers: %+v", q.Queue)
	}
	rec := do(t, h, "DELETE", "/v2/queue/prod/web/delay", "")
	if rec.Code != http.StatusNoContent {
		t.Errorf("DELETE delay: %d %s", rec.Code, rec.Body)
	}
	expectError(t, do(t, h, "DELETE", "/v2/queue/prod/web/delay", ""), http.StatusNotFound,
		`{"message": "Application /prod/web not found in tasks queue."}`)
}

func TestUnknownPaths(t *testing.T) {
	h, _ := leading(t, newFakeBackend())
	expectError(t, do(t, h, "GET", "/v2/nope", ""), http.StatusNotFound, `{"message": "HTTP 404 Not Found"}`)
	expectError(t, do(t, h, "GET", "/", ""), http.StatusNotFound, `{"message": "HTTP 404 Not Found"}`)
	rec := do(t, h, "POST", "/v2/info", "")
	expectError(t, rec, http.StatusMethodNotAllowed, `{"message": "HTTP 405 Method Not Allowed"}`)
	if got := rec.Header().Get("Allow"); got != "GET" {
		t.Errorf("Allow %q, want GET", got)
	}
	expectError(t, do(t, h, "DELETE", "/v2/apps", ""), http.StatusMethodNotAllowed, `{"message": "HTTP 405 Method Not Allowed"}`)
	expectError(t, do(t, h, "PATCH", "/v2/groups/x", ""), http.StatusMethodNotAllowed, `{"message": "HTTP 405 Method Not Allowed"}`)
}

func TestEventsLocal(t *testing.T) {
	var hits int
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: x\ndata: {}\n\n"))
	})
	h, _ := leading(t, newFakeBackend(), func(c *Config) { c.EventStream = stream })
	rec := do(t, h, "GET", "/v2/events", "", "Accept: text/event-stream")
	if rec.Code != http.StatusOK || hits != 1 || rec.Body.String() != "event: x\ndata: {}\n\n" {
		t.Errorf("GET /v2/events: %d %q after %d calls", rec.Code, rec.Body, hits)
	}
	h, _ = leading(t, newFakeBackend())
	expectError(t, do(t, h, "GET", "/v2/events", ""), http.StatusNotFound, `{"message": "HTTP 404 Not Found"}`)
}

func TestBodyLimit(t *testing.T) {
	h, _ := leading(t, newFakeBackend(), func(c *Config) { c.MaxBodyBytes = 16 })
	expectError(t, do(t, h, "POST", "/v2/apps", `{"id": "/web", "cmd": "a long command"}`), http.StatusRequestEntityTooLarge,
		`{"message": "Request body too large"}`)
}
