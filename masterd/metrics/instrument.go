package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// Instrument times the requests h serves, labelled with api, the route
// that served them and their status code. The route is the ServeMux
// pattern a handler inside h matched (Request.Pattern), never the raw
// path: paths hold app and task IDs without bound.
func (m *Metrics) Instrument(api string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "-"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		m.http.WithLabelValues(api, route, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter records the status code written. Streams flush through it
// and reach the connection's deadlines through Unwrap
// (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
