package mesos

import (
	"maps"
	"slices"
	"strings"
)

// The names of Mesos's metrics (/metrics/snapshot), which the master's and
// the agent's share: "master/tasks_running", "slave/cpus_used".

// The task states with a <role>/tasks_<state> figure: gauges of the live
// states and counters of the terminal ones.
var (
	MetricLiveStates = []TaskState{TaskStaging, TaskStarting, TaskRunning, TaskKilling, TaskUnreachable}
	MetricEndStates  = []TaskState{TaskFinished, TaskFailed, TaskKilled, TaskLost, TaskError, TaskDropped, TaskGone, TaskGoneByOperator}
)

// MetricName is the state as metric names spell it: "gone_by_operator"
// for TASK_GONE_BY_OPERATOR.
func (s TaskState) MetricName() string {
	return strings.ToLower(strings.TrimPrefix(string(s), "TASK_"))
}

// MetricResources are the scalar resources of rs with cpus, gpus, mem and
// disk always among them (Mesos always reports those), sorted.
func MetricResources(rs ...Resources) []string {
	names := map[string]bool{CPUs: true, GPUs: true, Mem: true, Disk: true}
	for _, r := range rs {
		for n := range r.Scalars {
			names[n] = true
		}
	}
	return slices.Sorted(maps.Keys(names))
}

// MetricPercent is used/total as the *_percent figures have it: a
// fraction, 0 when there is nothing in total.
func MetricPercent(used, total float64) float64 {
	if total == 0 {
		return 0
	}
	return used / total
}
