// Package metrics exports masterd's figures: Prometheus text on /metrics
// (both ports) and Mesos's flat JSON object on /metrics/snapshot (the Mesos
// port), which Mesos exporters and dashboards read.
//
// Gauges are computed at scrape time from the leading master's Stats and
// Marathon's published view, the same state /master/state and /v2/*
// render, so the figures cannot drift from them; counters count events.
// Names follow Mesos's: the snapshot key "master/tasks_running" is the
// Prometheus series mesos_master_tasks{state="running"}; figures Mesos has
// no name for are masterd_* (and marathon_* for Marathon's).
package metrics

import (
	"encoding/json"
	"net/http"
	"time"

	"corral/masterd/marathon/model"
	"corral/masterd/master"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are where scrapes read the state. Each may return nil or false
// while this master does not lead.
type Sources struct {
	Master   func() *master.Master // the leading master
	Marathon func() *model.View    // the leading Marathon's view
	Leading  func() bool           // this master is the elected leader
	// LeaderChanges counts the elections this master saw.
	LeaderChanges func() uint64
}

// Metrics are one masterd's metrics, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry
	// AllocationTime observes allocation cycles (master.Config.AllocationTime).
	AllocationTime prometheus.Histogram

	src   Sources
	start time.Time
	etcd  *prometheus.HistogramVec
	http  *prometheus.HistogramVec
}

// latencyBuckets span a loopback etcd write to a slow stream, in seconds.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New makes and registers the metrics.
func New(src Sources) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), src: src, start: time.Now()}
	m.AllocationTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "mesos", Subsystem: "allocator", Name: "allocation_run_seconds",
		Help:    "Duration of the allocator's cycles (Mesos's allocator/mesos/allocation_run_ms); its count is allocator/mesos/allocation_runs.",
		Buckets: latencyBuckets})
	m.etcd = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "masterd", Name: "etcd_request_duration_seconds",
		Help: "Duration of unary requests to etcd, by method (Range, Txn, Put, LeaseGrant…).", Buckets: latencyBuckets}, []string{"method"})
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "masterd", Name: "http_request_duration_seconds",
		Help:    "Duration of HTTP requests by API (mesos, marathon), route (the pattern that served it, \"-\" for none) and status code; streams count until they end.",
		Buckets: latencyBuckets}, []string{"api", "route", "code"})
	m.Registry.MustRegister(m.AllocationTime, m.etcd, m.http, &collector{m: m},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// ObserveEtcd records one etcd request (state.Config.ObserveRequest).
func (m *Metrics) ObserveEtcd(method string, took time.Duration) {
	m.etcd.WithLabelValues(method).Observe(took.Seconds())
}

// Handler serves /metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Snapshot returns Mesos's /metrics/snapshot figures now.
func (m *Metrics) Snapshot() map[string]float64 { return m.read().snapshot() }

// SnapshotHandler serves /metrics/snapshot: a JSON object of metric names
// and values, as a Mesos master serves it.
func (m *Metrics) SnapshotHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m.Snapshot())
	})
}
