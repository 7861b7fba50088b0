// Package metrics holds routerd's Prometheus metrics: connections,
// requests by status class, backend connect errors and latencies per app
// and port, and the route table's version, age and sync errors.
package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are one router's metrics, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	connections   *prometheus.CounterVec
	active        *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	connectErrors *prometheus.CounterVec
	latency       *prometheus.HistogramVec

	TableVersion prometheus.Gauge
	TableBuilt   prometheus.Gauge // Unix time the current table was built
	SyncErrors   prometheus.Counter
	Syncs        prometheus.Counter
	Skipped      prometheus.Gauge

	mu    sync.Mutex // guards byKey
	byKey map[string]*Service
}

// New makes and registers the metrics.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), byKey: map[string]*Service{}}
	labels := []string{"app", "port"}
	m.connections = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "routerd", Name: "connections_total",
		Help: "Client connections accepted, per app and port index."}, append(labels, "mode"))
	m.active = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "routerd", Name: "connections_active",
		Help: "Client connections open now, per app and port index."}, append(labels, "mode"))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "routerd", Name: "http_requests_total",
		Help: "HTTP requests answered, per app, port index and status class (2xx, 3xx, 4xx, 5xx)."}, append(labels, "class"))
	m.connectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "routerd", Name: "backend_connect_errors_total",
		Help: "Failed connects to backends, per app and port index."}, labels)
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "routerd", Name: "latency_seconds",
		Help:    "HTTP: request to response headers; TCP: time to connect to a backend. Per app and port index.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, append(labels, "mode"))
	m.TableVersion = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "routerd", Name: "table_version",
		Help: "Version of the route table in use."})
	m.TableBuilt = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "routerd", Name: "table_built_timestamp_seconds",
		Help: "Unix time the route table in use was built; its age is time() minus this."})
	m.SyncErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "routerd", Name: "sync_errors_total",
		Help: "Failed reads of Marathon (apps or event stream)."})
	m.Syncs = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "routerd", Name: "syncs_total",
		Help: "Full reads of Marathon's apps."})
	m.Skipped = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "routerd", Name: "skipped_ports",
		Help: "App ports the current table does not route (see /_router/routes for why)."})
	m.Registry.MustRegister(m.connections, m.active, m.requests, m.connectErrors, m.latency,
		m.TableVersion, m.TableBuilt, m.SyncErrors, m.Syncs, m.Skipped,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Service holds one service port's metrics, resolved once so the hot path
// only adds to counters.
type Service struct {
	Connections   prometheus.Counter
	Active        prometheus.Gauge
	ConnectErrors prometheus.Counter
	Latency       prometheus.Observer
	// Requests are indexed by status class: 0 for 1xx … 4 for 5xx.
	Requests [5]prometheus.Counter
}

// Service returns the metrics of port index port of app in mode ("tcp" or
// "http"); the same pointer for the same arguments.
func (m *Metrics) Service(app string, port int, mode string) *Service {
	key := app + "\x00" + strconv.Itoa(port) + "\x00" + mode
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.byKey[key]; s != nil {
		return s
	}
	p := strconv.Itoa(port)
	s := &Service{
		Connections:   m.connections.WithLabelValues(app, p, mode),
		Active:        m.active.WithLabelValues(app, p, mode),
		ConnectErrors: m.connectErrors.WithLabelValues(app, p),
		Latency:       m.latency.WithLabelValues(app, p, mode),
	}
	for i, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
		s.Requests[i] = m.requests.WithLabelValues(app, p, c)
	}
	m.byKey[key] = s
	return s
}

// Request counts one HTTP answer with status code.
func (s *Service) Request(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 4
	}
	s.Requests[i].Inc()
}
