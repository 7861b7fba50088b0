package watch

import (
	"sort"
	"strings"

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
}

// maxEnded bounds the memory of ended tasks.
const maxEnded = 20000

func newState() *state {
	return &state{apps: map[string]*marathon.AppInfo{}, ended: map[string]struct{}{}}
}

func (s *state) reset(apps []marathon.AppInfo) {
	s.apps = make(map[string]*marathon.AppInfo, len(apps))
	for i := range apps {
		s.apps[apps[i].ID] = &apps[i]
	}
}

func (s *state) setApp(a marathon.AppInfo) { s.apps[a.ID] = &a }

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

// apply applies one decoded event.
func (s *state) apply(ev marathon.Event) effect {
	switch e := ev.(type) {
	case *marathon.StatusUpdateEvent:
		return s.statusUpdate(e)
	case *marathon.HealthStatusChangedEvent:
		return s.health(e.AppID, e.TaskID, e.InstanceID, &e.Alive)
	case *marathon.InstanceHealthChangedEvent:
		if e.Healthy == nil {
			return effect{}
		}
		return s.health(e.RunSpecID, "", e.InstanceID, e.Healthy)
	case *marathon.APIPostEvent:
		if e.AppDefinition.ID != "" {
			return effect{fetchApps: []string{e.AppDefinition.ID}}
		}
		return effect{fetchAll: true}
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

func (s *state) statusUpdate(e *marathon.StatusUpdateEvent) effect {
	a := s.apps[e.AppID]
	if terminal(e.TaskStatus) {
		s.markEnded(e.TaskID)
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
		return effect{changed: true}
	}
	t := marathon.Task{ID: e.TaskID, AppID: e.AppID, Host: e.Host, Ports: e.Ports, IPAddresses: e.IPAddresses,
		SlaveID: e.SlaveID, State: e.TaskStatus, StagedAt: e.Timestamp, Version: e.Version}
	if e.TaskStatus == "TASK_RUNNING" {
		t.StartedAt = e.Timestamp
	}
	a.Tasks = append(a.Tasks[:len(a.Tasks):len(a.Tasks)], t)
	return effect{changed: true}
}

// health applies a task's new health. Marathon 1.4 names the task,
// later versions its instance (the task IDs start with the instance ID).
// With several health checks one event does not tell the whole health:
// the app is read again.
func (s *state) health(appID, taskID, instanceID string, alive *bool) effect {
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
		return effect{changed: true}
	}
	return effect{fetchApps: []string{appID}}
}
