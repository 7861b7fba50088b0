package watch

import (
	"slices"
	"sort"
	"strings"
	"time"

	"corral/marathon"
)

// state is the watcher's copy of Marathon's apps and tasks, kept current
// by events between full reads.
type state struct {
	apps map[string]*marathon.AppInfo
	// ended remembers tasks that reached a terminal state, so a late or
	// reordered non-terminal update cannot bring them back.
	ended      map[string]struct{}
	endedOrder []string
	// recent holds what events said of each task lately, by task ID. A
	// read of Marathon that started before (or just after) an event may
	// not show it yet; replaying what came since keeps the read from
	// undoing it.
	recent map[string]recentTask
}

// recentTask is the latest word of the events on a task.
type recentTask struct {
	app   string
	task  marathon.Task // as the events left it
	ended bool
	at    time.Time // when the event was applied
}

// replayMargin is how far before a read's start events are replayed on
// it: a Marathon's API may lag its event stream a little.
const replayMargin = 2 * time.Second

// maxEnded bounds the memory of ended tasks.
const maxEnded = 20000

func newState() *state {
	return &state{apps: map[string]*marathon.AppInfo{}, ended: map[string]struct{}{}, recent: map[string]recentTask{}}
}

// reset replaces every app with a read of Marathon that started at
// started, then replays the events applied since.
func (s *state) reset(apps []marathon.AppInfo, started time.Time) {
	s.apps = make(map[string]*marathon.AppInfo, len(apps))
	for i := range apps {
		s.apps[apps[i].ID] = &apps[i]
	}
	s.replay("", started)
}

// setApp replaces one app with a read that started at started, then
// replays the events applied to it since.
func (s *state) setApp(a marathon.AppInfo, started time.Time) {
	s.apps[a.ID] = &a
	s.replay(a.ID, started)
}

// replay applies the recent events (of app, or of every app when app is
// "") to a read that started at started, and forgets older ones.
func (s *state) replay(app string, started time.Time) {
	cut := started.Add(-replayMargin)
	for id, r := range s.recent {
		if r.at.Before(cut) {
			if app == "" {
				delete(s.recent, id)
			}
			continue
		}
		if app != "" && r.app != app {
			continue
		}
		a := s.apps[r.app]
		if a == nil {
			continue
		}
		i := slices.IndexFunc(a.Tasks, func(t marathon.Task) bool { return t.ID == id })
		switch {
		case r.ended && i >= 0:
			a.Tasks = append(a.Tasks[:i:i], a.Tasks[i+1:]...)
		case r.ended:
		case i >= 0:
			tasks := slices.Clone(a.Tasks)
			tasks[i] = r.task
			a.Tasks = tasks
		default:
			a.Tasks = append(a.Tasks[:len(a.Tasks):len(a.Tasks)], r.task)
		}
	}
}

// remember records what an event left of a task.
func (s *state) remember(app, id string, t *marathon.Task, now time.Time) {
	r := recentTask{app: app, ended: t == nil, at: now}
	if t != nil {
		r.task = *t
	}
	s.recent[id] = r
}

func (s *state) snapshot() []marathon.AppInfo {
	out := make([]marathon.AppInfo, 0, len(s.apps))
	for _, a := range s.apps {
		cp := *a
		cp.Tasks = append([]marathon.Task(nil), a.Tasks...)
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *state) markEnded(id string) {
	if _, ok := s.ended[id]; ok {
		return
	}
	s.ended[id] = struct{}{}
	s.endedOrder = append(s.endedOrder, id)
	if len(s.endedOrder) > maxEnded {
		delete(s.ended, s.endedOrder[0])
		s.endedOrder = s.endedOrder[1:]
	}
}

// effect is what applying an event needs next.
type effect struct {
	changed   bool     // the apps changed: publish
	fetchApps []string // read these apps again
	fetchAll  bool     // read every app again
}

// terminal reports whether a Mesos task state is final.
func terminal(st string) bool {
	switch st {
	case "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR":
		return true
	}
	return false
}

// apply applies one decoded event at now.
func (s *state) apply(ev marathon.Event, now time.Time) effect {
	switch e := ev.(type) {
	case *marathon.StatusUpdateEvent:
		return s.statusUpdate(e, now)
	case *marathon.HealthStatusChangedEvent:
		return s.health(e.AppID, e.TaskID, e.InstanceID, &e.Alive, now)
	case *marathon.InstanceHealthChangedEvent:
		if e.Healthy == nil {
			return effect{}
		}
		return s.health(e.RunSpecID, "", e.InstanceID, e.Healthy, now)
	case *marathon.APIPostEvent:
		return s.apiPost(&e.AppDefinition)
	case *marathon.AppTerminatedEvent:
		if _, ok := s.apps[e.AppID]; ok {
			delete(s.apps, e.AppID)
			return effect{changed: true}
		}
	case *marathon.DeploymentStatusEvent, *marathon.DeploymentEvent, *marathon.GroupChangeEvent:
		// Definitions may have changed (scale, labels, ports, deletions):
		// a full read, coalesced, settles them. Tasks come as status updates.
		return effect{fetchAll: true}
	}
	return effect{}
}

// apiPost takes a new or changed definition as it comes, when Marathon
// has assigned its service ports; otherwise the app is read.
func (s *state) apiPost(def *marathon.App) effect {
	if def.ID == "" {
		return effect{fetchAll: true} // a group change: read everything
	}
	cp := *def
	cp.ApplyDefaults()
	for _, p := range cp.ServicePorts() {
		if p == 0 {
			return effect{fetchApps: []string{def.ID}}
		}
	}
	if a := s.apps[def.ID]; a != nil {
		a.App = *def
	} else {
		s.apps[def.ID] = &marathon.AppInfo{App: *def, Tasks: []marathon.Task{}}
	}
	return effect{changed: true}
}

func (s *state) statusUpdate(e *marathon.StatusUpdateEvent, now time.Time) effect {
	a := s.apps[e.AppID]
	if terminal(e.TaskStatus) {
		s.markEnded(e.TaskID)
		s.remember(e.AppID, e.TaskID, nil, now)
		if a == nil {
			return effect{}
		}
		for i, t := range a.Tasks {
			if t.ID == e.TaskID {
				a.Tasks = append(a.Tasks[:i:i], a.Tasks[i+1:]...)
				return effect{changed: true}
			}
		}
		return effect{}
	}
	if _, gone := s.ended[e.TaskID]; gone {
		return effect{} // a late update of a task that already ended
	}
	if a == nil {
		// A task of an app not read yet: the read of the app replays it.
		t := marathon.Task{ID: e.TaskID, AppID: e.AppID, Host: e.Host, Ports: e.Ports, IPAddresses: e.IPAddresses,
			SlaveID: e.SlaveID, State: e.TaskStatus, StagedAt: e.Timestamp, Version: e.Version}
		if e.TaskStatus == "TASK_RUNNING" {
			t.StartedAt = e.Timestamp
		}
		s.remember(e.AppID, t.ID, &t, now)
		return effect{fetchApps: []string{e.AppID}}
	}
	for i := range a.Tasks {
		t := &a.Tasks[i]
		if t.ID != e.TaskID {
			continue
		}
		tasks := append([]marathon.Task(nil), a.Tasks...) // snapshots share the old slice
		t = &tasks[i]
		t.State = e.TaskStatus
		if e.Host != "" {
			t.Host = e.Host
		}
		if len(e.Ports) > 0 {
			t.Ports = e.Ports
		}
		if len(e.IPAddresses) > 0 {
			t.IPAddresses = e.IPAddresses
		}
		if e.TaskStatus == "TASK_RUNNING" && t.StartedAt == "" {
			t.StartedAt = e.Timestamp
		}
		a.Tasks = tasks
		s.remember(e.AppID, t.ID, t, now)
		return effect{changed: true}
	}
	t := marathon.Task{ID: e.TaskID, AppID: e.AppID, Host: e.Host, Ports: e.Ports, IPAddresses: e.IPAddresses,
		SlaveID: e.SlaveID, State: e.TaskStatus, StagedAt: e.Timestamp, Version: e.Version}
	if e.TaskStatus == "TASK_RUNNING" {
		t.StartedAt = e.Timestamp
	}
	a.Tasks = append(a.Tasks[:len(a.Tasks):len(a.Tasks)], t)
	s.remember(e.AppID, t.ID, &t, now)
	return effect{changed: true}
}

// health applies a task's new health. Marathon 1.4 names the task,
// later versions its instance (the task IDs start with the instance ID).
// With several health checks one event does not tell the whole health:
// the app is read again.
func (s *state) health(appID, taskID, instanceID string, alive *bool, now time.Time) effect {
	a := s.apps[appID]
	if a == nil {
		return effect{fetchApps: []string{appID}}
	}
	if len(a.HealthChecks) > 1 {
		return effect{fetchApps: []string{appID}}
	}
	for i, t := range a.Tasks {
		if !(taskID != "" && t.ID == taskID || instanceID != "" && (t.ID == instanceID || strings.HasPrefix(t.ID, instanceID+"."))) {
			continue
		}
		tasks := append([]marathon.Task(nil), a.Tasks...)
		tasks[i].HealthCheckResults = []marathon.HealthCheckResult{{Alive: *alive, TaskID: t.ID, InstanceID: instanceID}}
		a.Tasks = tasks
		s.remember(appID, t.ID, &tasks[i], now)
		return effect{changed: true}
	}
	return effect{fetchApps: []string{appID}}
}
