package marathon

import "encoding/json"

// AppInfo is an app as GET /v2/apps returns it: the definition plus what
// the embed parameters ask for. A nil field is left out; a non-nil empty
// list is written as [] (an app without deployments still shows
// "deployments": [] when they are embedded).
type AppInfo struct {
	App

	Counts                *TaskCounts            // apps.counts: tasksStaged, tasksRunning, tasksHealthy, tasksUnhealthy
	Deployments           []DeploymentRef        // apps.deployments
	Tasks                 []Task                 // apps.tasks
	ReadinessCheckResults []ReadinessCheckResult // apps.readiness
	LastTaskFailure       *TaskFailure           // apps.lastTaskFailure
	TasksStats            *TaskStatsByVersion    // apps.taskStats
}

// TaskCounts counts an app's tasks by state and health.
type TaskCounts struct {
	Staged    int `json:"tasksStaged"`
	Running   int `json:"tasksRunning"`
	Healthy   int `json:"tasksHealthy"`
	Unhealthy int `json:"tasksUnhealthy"`
}

// TaskFailure is the last task of an app that failed.
type TaskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId,omitempty"`
}

// TaskStatsByVersion is the apps.taskStats embed.
type TaskStatsByVersion struct {
	StartedAfterLastScaling *TaskStatsWrapper `json:"startedAfterLastScaling,omitempty"`
	WithLatestConfig        *TaskStatsWrapper `json:"withLatestConfig,omitempty"`
	WithOutdatedConfig      *TaskStatsWrapper `json:"withOutdatedConfig,omitempty"`
	TotalSummary            *TaskStatsWrapper `json:"totalSummary,omitempty"`
}

// TaskStatsWrapper wraps TaskStats as {"stats": …}.
type TaskStatsWrapper struct {
	Stats TaskStats `json:"stats"`
}

// TaskStats are the counts and life times of a set of tasks.
type TaskStats struct {
	Counts   TaskStatsCounts `json:"counts"`
	LifeTime *TaskLifeTime   `json:"lifeTime,omitempty"`
}

// TaskStatsCounts are the counts of TaskStats.
type TaskStatsCounts struct {
	Staged    int `json:"staged"`
	Running   int `json:"running"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
}

// TaskLifeTime is how long a set of tasks has been running.
type TaskLifeTime struct {
	AverageSeconds float64 `json:"averageSeconds"`
	MedianSeconds  float64 `json:"medianSeconds"`
}

// MarshalJSON writes the app's definition followed by the embedded parts
// that are set.
func (a AppInfo) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(a.App)
	if err != nil {
		return nil, err
	}
	var m members
	if c := a.Counts; c != nil {
		m.add("tasksStaged", c.Staged)
		m.add("tasksRunning", c.Running)
		m.add("tasksHealthy", c.Healthy)
		m.add("tasksUnhealthy", c.Unhealthy)
	}
	if a.Deployments != nil {
		m.add("deployments", a.Deployments)
	}
	if a.ReadinessCheckResults != nil {
		m.add("readinessCheckResults", a.ReadinessCheckResults)
	}
	if a.Tasks != nil {
		m.add("tasks", a.Tasks)
	}
	if a.LastTaskFailure != nil {
		m.add("lastTaskFailure", a.LastTaskFailure)
	}
	if a.TasksStats != nil {
		m.add("tasksStats", a.TasksStats)
	}
	extra, err := m.bytes()
	if err != nil {
		return nil, err
	}
	return mergeObjects(b, extra), nil
}

// UnmarshalJSON reads the definition and whatever was embedded.
func (a *AppInfo) UnmarshalJSON(b []byte) error {
	var app App
	if err := json.Unmarshal(b, &app); err != nil {
		return err
	}
	var v struct {
		TasksStaged           *int                   `json:"tasksStaged"`
		TasksRunning          *int                   `json:"tasksRunning"`
		TasksHealthy          *int                   `json:"tasksHealthy"`
		TasksUnhealthy        *int                   `json:"tasksUnhealthy"`
		Deployments           []DeploymentRef        `json:"deployments"`
		Tasks                 []Task                 `json:"tasks"`
		ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults"`
		LastTaskFailure       *TaskFailure           `json:"lastTaskFailure"`
		TasksStats            *TaskStatsByVersion    `json:"tasksStats"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = AppInfo{
		App:                   app,
		Deployments:           v.Deployments,
		Tasks:                 v.Tasks,
		ReadinessCheckResults: v.ReadinessCheckResults,
		LastTaskFailure:       v.LastTaskFailure,
		TasksStats:            v.TasksStats,
	}
	if v.TasksStaged != nil || v.TasksRunning != nil || v.TasksHealthy != nil || v.TasksUnhealthy != nil {
		a.Counts = &TaskCounts{Staged: deref(v.TasksStaged), Running: deref(v.TasksRunning),
			Healthy: deref(v.TasksHealthy), Unhealthy: deref(v.TasksUnhealthy)}
	}
	return nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// AppList is the body of GET /v2/apps.
type AppList struct {
	Apps []AppInfo `json:"apps"`
}

// MarshalJSON writes an empty list as [].
func (l AppList) MarshalJSON() ([]byte, error) {
	type alias AppList
	v := alias(l)
	v.Apps = orEmpty(v.Apps)
	return json.Marshal(v)
}

// AppSingle is the body of GET /v2/apps/{id}.
type AppSingle struct {
	App AppInfo `json:"app"`
}

// VersionList is the body of GET /v2/apps/{id}/versions.
type VersionList struct {
	Versions []string `json:"versions"`
}

// MarshalJSON writes an empty list as [].
func (l VersionList) MarshalJSON() ([]byte, error) {
	type alias VersionList
	v := alias(l)
	v.Versions = orEmpty(v.Versions)
	return json.Marshal(v)
}
