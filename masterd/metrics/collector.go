package metrics

import (
	"corral/mesos"

	"github.com/prometheus/client_golang/prometheus"
)

// The figures computed at scrape time.
var (
	descElected = prometheus.NewDesc("mesos_master_elected",
		"1 while this master is the elected leader (master/elected).", nil, nil)
	descUptime = prometheus.NewDesc("mesos_master_uptime_seconds",
		"Seconds since masterd started (master/uptime_secs).", nil, nil)
	descLeaderChanges = prometheus.NewDesc("masterd_leader_changes_total",
		"Elections of a new leader this master saw, the first one included.", nil, nil)
	descAgents = prometheus.NewDesc("mesos_master_slaves",
		"Agents by state: active (connected), inactive (registered, disconnected), unreachable (master/slaves_<state>).", []string{"state"}, nil)
	descFrameworks = prometheus.NewDesc("mesos_master_frameworks",
		"Frameworks by state: active (subscribed) or inactive (master/frameworks_<state>).", []string{"state"}, nil)
	descTasks = prometheus.NewDesc("mesos_master_tasks",
		"Live tasks by state: staging, starting, running, killing, unreachable (master/tasks_<state>).", []string{"state"}, nil)
	descTasksEnded = prometheus.NewDesc("mesos_master_tasks_terminal_total",
		"Tasks that reached a terminal state since this master was elected, by state: finished, failed, killed, lost, error, dropped, gone (master/tasks_<state>).", []string{"state"}, nil)
	descResources = prometheus.NewDesc("mesos_master_resources",
		"Scalar resources of the agents /master/state lists, by resource and type: total, used (by tasks) or offered (master/<resource>_total, _used).", []string{"resource", "type"}, nil)
	descOutstanding = prometheus.NewDesc("mesos_master_outstanding_offers",
		"Offers made and neither accepted, declined nor rescinded (master/outstanding_offers).", nil, nil)
	descDeclined = prometheus.NewDesc("mesos_master_offers_declined_total",
		"Offers frameworks declined since this master was elected (master/messages_decline_offers).", nil, nil)
	descRescinded = prometheus.NewDesc("masterd_offers_rescinded_total",
		"Offers the master withdrew (expired, or their agent became unreachable) since it was elected.", nil, nil)
	descApps = prometheus.NewDesc("marathon_apps",
		"Apps Marathon deploys.", nil, nil)
	descDeployments = prometheus.NewDesc("marathon_deployments",
		"Deployments in progress.", nil, nil)
	descQueueApps = prometheus.NewDesc("marathon_launch_queue_apps",
		"Apps in the launch queue: waiting for offers to launch instances (/v2/queue).", nil, nil)
	descQueueInstances = prometheus.NewDesc("marathon_launch_queue_instances",
		"Instances the apps of the launch queue are waiting to launch.", nil, nil)
)

// collector renders figures as Prometheus metrics at scrape time.
type collector struct{ m *Metrics }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descElected, descUptime, descLeaderChanges, descAgents, descFrameworks,
		descTasks, descTasksEnded, descResources, descOutstanding, descDeclined, descRescinded,
		descApps, descDeployments, descQueueApps, descQueueInstances} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.read().collect(ch)
}

func (f figures) collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descUptime, f.uptime.Seconds())
	counter(descLeaderChanges, float64(f.leaderChanges))
	s := f.master
	if s == nil {
		gauge(descElected, 0)
		return
	}
	gauge(descElected, 1)
	gauge(descAgents, float64(s.AgentsActive), "active")
	gauge(descAgents, float64(s.AgentsInactive), "inactive")
	gauge(descAgents, float64(s.AgentsUnreachable), "unreachable")
	gauge(descFrameworks, float64(s.FrameworksActive), "active")
	gauge(descFrameworks, float64(s.FrameworksInactive), "inactive")
	for _, st := range mesos.MetricLiveStates {
		gauge(descTasks, float64(s.Tasks[st]), st.MetricName())
	}
	for _, st := range mesos.MetricEndStates {
		counter(descTasksEnded, float64(s.Ended[st]), st.MetricName())
	}
	for _, r := range mesos.MetricResources(s.Total, s.Used, s.Offered) {
		gauge(descResources, s.Total.Scalar(r), r, "total")
		gauge(descResources, s.Used.Scalar(r), r, "used")
		gauge(descResources, s.Offered.Scalar(r), r, "offered")
	}
	gauge(descOutstanding, float64(s.OutstandingOffers))
	counter(descDeclined, float64(s.OffersDeclined))
	counter(descRescinded, float64(s.OffersRescinded))
	if v := f.view; v != nil {
		apps, instances := queue(v)
		gauge(descApps, float64(len(v.Root.Apps)))
		gauge(descDeployments, float64(len(v.Deployments)))
		gauge(descQueueApps, float64(apps))
		gauge(descQueueInstances, float64(instances))
	}
}
