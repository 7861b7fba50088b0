package agent

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"corral/mesos"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the agent's figures, served as Prometheus text on /metrics
// and as Mesos's flat JSON object on /metrics/snapshot. Gauges are read at
// scrape time from the task and status managers, which /state and
// /monitor/statistics read too; counters count status updates as the
// agent records them.
type metrics struct {
	registry  *prometheus.Registry
	start     time.Time
	startTime prometheus.Histogram // task.Config.StartTime

	mu     sync.Mutex                 // guards ended and health
	ended  map[mesos.TaskState]uint64 // tasks that reached each terminal state
	health map[bool]uint64            // health status updates by result
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{registry: prometheus.NewRegistry(), start: time.Now(),
		ended: map[mesos.TaskState]uint64{}, health: map[bool]uint64{}}
	m.startTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "agentd", Name: "container_start_seconds",
		Help:    "Time from starting a task's shim to its process running in the container.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}})
	m.registry.MustRegister(m.startTime, &agentCollector{a: a},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// observe counts a status update the agent recorded.
func (m *metrics) observe(st mesos.TaskStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.State.Terminal() {
		m.ended[st.State]++
	}
	if st.Healthy != nil {
		m.health[*st.Healthy]++
	}
}

// agentFigures is one reading of the agent, which both formats render.
type agentFigures struct {
	registered  bool
	uptime      time.Duration
	tasks       map[mesos.TaskState]int // live tasks
	ended       map[mesos.TaskState]uint64
	frameworks  int // with live tasks
	total, used mesos.Resources
	pending     int
	// healthy and unhealthy count running tasks with a health check by
	// their latest result; healthUpdates counts results reported.
	healthy, unhealthy int
	healthUpdates      map[bool]uint64
}

func (a *Agent) figures() agentFigures {
	f := agentFigures{
		registered: a.link.Master() != "",
		uptime:     time.Since(a.metrics.start),
		tasks:      map[mesos.TaskState]int{},
		total:      a.cfg.Resources,
		pending:    a.status.PendingCount(),
	}
	frameworks := map[string]bool{}
	for _, t := range a.tasks.Tasks() {
		if t.State.Terminal() {
			continue
		}
		f.tasks[t.State]++
		frameworks[t.FrameworkID] = true
		f.used = f.used.Add(t.Info.Resources)
		if t.State != mesos.TaskRunning || t.Info.HealthCheck == nil {
			continue
		}
		if st, ok := a.status.Latest(t.FrameworkID, t.Info.TaskID); ok && st.Healthy != nil {
			if *st.Healthy {
				f.healthy++
			} else {
				f.unhealthy++
			}
		}
	}
	f.frameworks = len(frameworks)
	a.metrics.mu.Lock()
	f.ended = make(map[mesos.TaskState]uint64, len(a.metrics.ended))
	for k, v := range a.metrics.ended {
		f.ended[k] = v
	}
	f.healthUpdates = map[bool]uint64{true: a.metrics.health[true], false: a.metrics.health[false]}
	a.metrics.mu.Unlock()
	return f
}

// snapshot renders the figures with the Mesos agent's metric names.
func (f agentFigures) snapshot() map[string]float64 {
	out := map[string]float64{
		"slave/registered":        0,
		"slave/uptime_secs":       f.uptime.Seconds(),
		"slave/frameworks_active": float64(f.frameworks),
	}
	if f.registered {
		out["slave/registered"] = 1
	}
	for _, st := range mesos.MetricLiveStates {
		if st != mesos.TaskUnreachable { // the master's state, never the agent's
			out["slave/tasks_"+st.MetricName()] = float64(f.tasks[st])
		}
	}
	for _, st := range mesos.MetricEndStates {
		out["slave/tasks_"+st.MetricName()] = float64(f.ended[st])
	}
	for _, r := range mesos.MetricResources(f.total) {
		total, used := f.total.Scalar(r), f.used.Scalar(r)
		out["slave/"+r+"_total"] = total
		out["slave/"+r+"_used"] = used
		out["slave/"+r+"_percent"] = mesos.MetricPercent(used, total)
	}
	return out
}

// serveSnapshot serves /metrics/snapshot.
func (a *Agent) serveSnapshot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(a.figures().snapshot())
}

// serveMetrics serves /metrics.
func (a *Agent) serveMetrics() http.Handler {
	return promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{})
}

var (
	descRegistered = prometheus.NewDesc("mesos_slave_registered",
		"1 while the agent is subscribed to a master (slave/registered).", nil, nil)
	descUptime = prometheus.NewDesc("mesos_slave_uptime_seconds",
		"Seconds since agentd started (slave/uptime_secs).", nil, nil)
	descTasks = prometheus.NewDesc("mesos_slave_tasks",
		"Live tasks by state: staging, starting, running, killing (slave/tasks_<state>).", []string{"state"}, nil)
	descTasksEnded = prometheus.NewDesc("mesos_slave_tasks_terminal_total",
		"Tasks that reached a terminal state since agentd started, by state: finished, failed, killed, lost, error… (slave/tasks_<state>).", []string{"state"}, nil)
	descResources = prometheus.NewDesc("mesos_slave_resources",
		"The agent's scalar resources by resource and type: total, or used by its live tasks (slave/<resource>_total, _used).", []string{"resource", "type"}, nil)
	descPending = prometheus.NewDesc("agentd_status_updates_pending",
		"Status updates recorded and not yet acknowledged by the master.", nil, nil)
	descHealth = prometheus.NewDesc("agentd_tasks_health",
		"Running tasks with a health check, by their latest result: healthy or unhealthy (tasks not checked yet are in neither).", []string{"result"}, nil)
	descHealthUpdates = prometheus.NewDesc("agentd_health_updates_total",
		"Health results reported to the master (on a change of a task's health), by result.", []string{"result"}, nil)
	taskLabels       = []string{"framework", "task"}
	descTaskCPU      = prometheus.NewDesc("agentd_task_cpu_seconds_total", "CPU time of a task's cgroup, by mode: user or system.", append(taskLabels, "mode"), nil)
	descTaskCPUs     = prometheus.NewDesc("agentd_task_cpus_limit", "The task's cpus resource.", taskLabels, nil)
	descTaskMem      = prometheus.NewDesc("agentd_task_memory_usage_bytes", "Memory of a task's cgroup as its controller counts it (page cache included).", taskLabels, nil)
	descTaskRSS      = prometheus.NewDesc("agentd_task_memory_rss_bytes", "Anonymous memory of a task's cgroup.", taskLabels, nil)
	descTaskMemLimit = prometheus.NewDesc("agentd_task_memory_limit_bytes", "Memory limit of a task's cgroup (0: none).", taskLabels, nil)
	descTaskPids     = prometheus.NewDesc("agentd_task_processes", "Processes and threads in a task's cgroup.", taskLabels, nil)
	descTaskOOM      = prometheus.NewDesc("agentd_task_oom_kills_total", "Processes of a task the kernel killed for want of memory.", taskLabels, nil)
)

// agentCollector renders the agent's figures and its tasks' cgroup usage
// at scrape time.
type agentCollector struct{ a *Agent }

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRegistered, descUptime, descTasks, descTasksEnded, descResources,
		descPending, descHealth, descHealthUpdates, descTaskCPU, descTaskCPUs, descTaskMem, descTaskRSS,
		descTaskMemLimit, descTaskPids, descTaskOOM} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	f := c.a.figures()
	registered := 0.0
	if f.registered {
		registered = 1
	}
	gauge(descRegistered, registered)
	gauge(descUptime, f.uptime.Seconds())
	for _, st := range mesos.MetricLiveStates {
		if st != mesos.TaskUnreachable {
			gauge(descTasks, float64(f.tasks[st]), st.MetricName())
		}
	}
	for _, st := range mesos.MetricEndStates {
		counter(descTasksEnded, float64(f.ended[st]), st.MetricName())
	}
	for _, r := range mesos.MetricResources(f.total) {
		gauge(descResources, f.total.Scalar(r), r, "total")
		gauge(descResources, f.used.Scalar(r), r, "used")
	}
	gauge(descPending, float64(f.pending))
	gauge(descHealth, float64(f.healthy), "healthy")
	gauge(descHealth, float64(f.unhealthy), "unhealthy")
	counter(descHealthUpdates, float64(f.healthUpdates[true]), "healthy")
	counter(descHealthUpdates, float64(f.healthUpdates[false]), "unhealthy")
	for _, u := range c.a.tasks.Usage() {
		counter(descTaskCPU, u.CPUUserSeconds, u.FrameworkID, u.TaskID, "user")
		counter(descTaskCPU, u.CPUSystemSeconds, u.FrameworkID, u.TaskID, "system")
		gauge(descTaskCPUs, u.CPUsLimit, u.FrameworkID, u.TaskID)
		gauge(descTaskMem, float64(u.MemUsageBytes), u.FrameworkID, u.TaskID)
		gauge(descTaskRSS, float64(u.MemRSSBytes), u.FrameworkID, u.TaskID)
		gauge(descTaskMemLimit, float64(u.MemLimitBytes), u.FrameworkID, u.TaskID)
		gauge(descTaskPids, float64(u.Pids), u.FrameworkID, u.TaskID)
		counter(descTaskOOM, float64(u.OOMKills), u.FrameworkID, u.TaskID)
	}
}
