// Package admin serves routerd's admin endpoints: /_router/health (ok, or
// degraded and why), /_router/routes (the route table as JSON) and
// /metrics (Prometheus).
package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"corral/routerd/route"
)

// Check is one part of routerd's health: Status returns what to show and,
// when the part is not well, why.
type Check struct {
	Name   string
	Status func() (detail any, problem string)
}

// Handler serves the admin endpoints.
type Handler struct {
	mux *http.ServeMux
}

// New makes the handler: table returns the current table (nil when
// routing is off), checks make up the health.
func New(table func() *route.Table, checks []Check, reg *prometheus.Registry) *Handler {
	h := &Handler{mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /_router/health", func(w http.ResponseWriter, r *http.Request) {
		body := struct {
			Status   string         `json:"status"`
			Problems []string       `json:"problems"`
			Parts    map[string]any `json:"parts"`
		}{Status: "ok", Problems: []string{}, Parts: map[string]any{}}
		for _, c := range checks {
			detail, problem := c.Status()
			body.Parts[c.Name] = detail
			if problem != "" {
				body.Status = "degraded"
				body.Problems = append(body.Problems, c.Name+": "+problem)
			}
		}
		code := http.StatusOK
		if body.Status != "ok" {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, body)
	})
	h.mux.HandleFunc("GET /_router/routes", func(w http.ResponseWriter, r *http.Request) {
		t := table()
		if t == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "routing is off (--marathon is empty)"})
			return
		}
		doc := Routes(t, time.Now())
		if app := r.URL.Query().Get("app"); app != "" { // one app's ports only
			doc.Services, doc.Skipped = nil, nil
			for _, s := range t.Services {
				if s.AppID == app {
					doc.Services = append(doc.Services, s)
				}
			}
			for _, s := range t.Skipped {
				if s.AppID == app {
					doc.Skipped = append(doc.Skipped, s)
				}
			}
		}
		writeJSON(w, http.StatusOK, doc)
	})
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return h
}

// RoutesDoc is the body of /_router/routes.
type RoutesDoc struct {
	Version    uint64           `json:"version"`
	Built      time.Time        `json:"built"`
	AgeSeconds float64          `json:"ageSeconds"`
	Services   []*route.Service `json:"services"`
	Skipped    []route.Skip     `json:"skipped"`
}

// Routes is the /_router/routes document of t at now.
func Routes(t *route.Table, now time.Time) RoutesDoc {
	return RoutesDoc{Version: t.Version, Built: t.Built, AgeSeconds: now.Sub(t.Built).Seconds(),
		Services: t.Services, Skipped: t.Skipped}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
