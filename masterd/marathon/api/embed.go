package api

import (
	"slices"
	"strings"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// appEmbeds says what an app's rendering carries besides its definition.
type appEmbeds struct {
	counts, deployments, tasks, readiness, lastTaskFailure, taskStats bool
}

// embedValues splits the embed parameters; Marathon repeats the parameter,
// and a comma-separated list is taken too.
func embedValues(values []string) []string {
	var out []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// resolveAppEmbeds reads embed values after their prefix as Marathon's
// InfoEmbedResolver does. Unknown values are ignored; "tasks" implies
// deployments, and the deprecated "failures" tasks, lastTaskFailure,
// counts and deployments.
func resolveAppEmbeds(e *appEmbeds, name string) {
	switch name {
	case "tasks":
		e.tasks, e.deployments = true, true
	case "failures":
		e.tasks, e.lastTaskFailure, e.counts, e.deployments = true, true, true, true
	case "counts", "count":
		e.counts = true
	case "deployments":
		e.deployments = true
	case "readiness":
		e.readiness = true
	case "lastTaskFailure":
		e.lastTaskFailure = true
	case "taskStats":
		e.taskStats = true
	}
}

// listEmbeds are the embeds of GET /v2/apps: what the request asks for
// ("apps." or "app." prefixed) plus counts and deployments, which Marathon
// 1.x always adds there.
func listEmbeds(values []string) appEmbeds {
	e := appEmbeds{counts: true, deployments: true}
	for _, v := range embedValues(values) {
		if name, ok := strings.CutPrefix(v, "apps."); ok {
			resolveAppEmbeds(&e, name)
		} else if name, ok := strings.CutPrefix(v, "app."); ok {
			resolveAppEmbeds(&e, name)
		}
	}
	return e
}

// singleEmbeds are the embeds of GET /v2/apps/{id}: what the request asks
// for plus counts, deployments, tasks, lastTaskFailure and readiness.
func singleEmbeds(values []string) appEmbeds {
	e := listEmbeds(values)
	e.tasks, e.lastTaskFailure, e.readiness = true, true, true
	return e
}

// groupEmbeds are the embeds of GET /v2/groups: group.apps, group.groups
// and group.pods say which members a group shows (all three by default),
// group.apps.* what its apps carry (nothing by default).
type groupEmbeds struct {
	apps, groups, pods bool
	app                appEmbeds
}

func resolveGroupEmbeds(values []string) groupEmbeds {
	vs := embedValues(values)
	if len(vs) == 0 {
		return groupEmbeds{apps: true, groups: true, pods: true}
	}
	var g groupEmbeds
	for _, v := range vs {
		switch v {
		case "group.apps":
			g.apps = true
		case "group.groups":
			g.groups = true
		case "group.pods":
			g.pods = true
		default:
			if name, ok := strings.CutPrefix(v, "group.apps."); ok {
				resolveAppEmbeds(&g.app, name)
			}
		}
	}
	return g
}

// renderApp renders an app of the view with the given embeds.
func renderApp(v *model.View, a marathon.App, e appEmbeds, now time.Time) marathon.AppInfo {
	st := v.Apps[a.ID]
	if st == nil {
		st = &model.AppStatus{}
	}
	info := marathon.AppInfo{App: a}
	if e.counts {
		c := st.Counts
		info.Counts = &c
	}
	if e.deployments {
		info.Deployments = orEmpty(st.Deployments)
	}
	if e.tasks {
		info.Tasks = orEmpty(st.Tasks)
	}
	if e.readiness {
		info.ReadinessCheckResults = orEmpty(st.Readiness)
	}
	if e.lastTaskFailure {
		info.LastTaskFailure = st.LastTaskFailure
	}
	if e.taskStats {
		info.TasksStats = taskStats(&a, st.Tasks, now)
	}
	return info
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// taskStats is the apps.taskStats embed: counts and life times of all the
// app's tasks, of those running its latest configuration and the others,
// and of those started after the last scaling. A set without tasks is
// left out, as Marathon leaves it out.
func taskStats(a *marathon.App, tasks []marathon.Task, now time.Time) *marathon.TaskStatsByVersion {
	configAt, scaledAt := a.Version, a.Version
	if vi := a.VersionInfo; vi != nil {
		configAt, scaledAt = vi.LastConfigChangeAt, vi.LastScalingAt
	}
	var latest, outdated, afterScaling []marathon.Task
	for _, t := range tasks {
		if !before(t.Version, configAt) {
			latest = append(latest, t)
		} else {
			outdated = append(outdated, t)
		}
		if !before(t.StagedAt, scaledAt) {
			afterScaling = append(afterScaling, t)
		}
	}
	return &marathon.TaskStatsByVersion{
		StartedAfterLastScaling: statsOf(afterScaling, now),
		WithLatestConfig:        statsOf(latest, now),
		WithOutdatedConfig:      statsOf(outdated, now),
		TotalSummary:            statsOf(tasks, now),
	}
}

// before reports whether timestamp a is earlier than b; an unreadable or
// missing timestamp is never earlier.
func before(a, b string) bool {
	ta, errA := marathon.ParseTimestamp(a)
	tb, errB := marathon.ParseTimestamp(b)
	return errA == nil && errB == nil && ta.Before(tb)
}

func statsOf(tasks []marathon.Task, now time.Time) *marathon.TaskStatsWrapper {
	if len(tasks) == 0 {
		return nil
	}
	var s marathon.TaskStats
	var lives []float64
	for _, t := range tasks {
		switch t.State {
		case marathon.TaskStaging, marathon.TaskStarting:
			s.Counts.Staged++
		case marathon.TaskRunning:
			s.Counts.Running++
			switch health(t) {
			case healthy:
				s.Counts.Healthy++
			case unhealthy:
				s.Counts.Unhealthy++
			}
			if at, err := marathon.ParseTimestamp(t.StartedAt); err == nil {
				lives = append(lives, now.Sub(at).Seconds())
			}
		}
	}
	if len(lives) > 0 {
		slices.Sort(lives)
		sum := 0.0
		for _, l := range lives {
			sum += l
		}
		median := lives[len(lives)/2]
		if len(lives)%2 == 0 {
			median = (lives[len(lives)/2-1] + lives[len(lives)/2]) / 2
		}
		s.LifeTime = &marathon.TaskLifeTime{AverageSeconds: sum / float64(len(lives)), MedianSeconds: median}
	}
	return &marathon.TaskStatsWrapper{Stats: s}
}

type healthState int

const (
	unknownHealth healthState = iota
	healthy
	unhealthy
)

// health reads a task's health from its health check results: healthy
// when every check is alive, unhealthy when one is not.
func health(t marathon.Task) healthState {
	if len(t.HealthCheckResults) == 0 {
		return unknownHealth
	}
	for _, h := range t.HealthCheckResults {
		if !h.Alive {
			return unhealthy
		}
	}
	return healthy
}
