package watch

import (
	"testing"
	"time"

	"corral/marathon"
)

func TestAPIPostUsesTheDefinition(t *testing.T) {
	st := newState()
	def := marathon.NewApp("/a")
	def.PortDefinitions = []marathon.PortDefinition{{Port: 10000, Protocol: "tcp"}}
	if eff := st.apply(&marathon.APIPostEvent{AppDefinition: def}, time.Now()); !eff.changed || len(eff.fetchApps) != 0 {
		t.Errorf("api_post_event with assigned ports: %+v, want the definition taken as it is", eff)
	}
	if st.apps["/a"] == nil {
		t.Fatalf("app not added")
	}
	def.PortDefinitions = []marathon.PortDefinition{{Port: 0, Protocol: "tcp"}}
	if eff := st.apply(&marathon.APIPostEvent{AppDefinition: def}, time.Now()); len(eff.fetchApps) != 1 {
		t.Errorf("api_post_event with a port not assigned yet: %+v, want the app read", eff)
	}
	if eff := st.apply(&marathon.APIPostEvent{}, time.Now()); !eff.fetchAll {
		t.Errorf("api_post_event of a group: %+v, want a full read", eff)
	}
}

// A read replays the events applied since shortly before it started, not
// older ones: Marathon's own view wins over stale memories.
func TestReplay(t *testing.T) {
	st := newState()
	now := time.Now()
	st.reset([]marathon.AppInfo{{App: marathon.NewApp("/a")}}, now)
	st.apply(&marathon.StatusUpdateEvent{AppID: "/a", TaskID: "old", TaskStatus: "TASK_RUNNING"}, now.Add(-time.Minute))
	st.apply(&marathon.StatusUpdateEvent{AppID: "/a", TaskID: "new", TaskStatus: "TASK_RUNNING"}, now)
	st.apply(&marathon.StatusUpdateEvent{AppID: "/a", TaskID: "gone", TaskStatus: "TASK_KILLED"}, now)
	read := []marathon.AppInfo{{App: marathon.NewApp("/a"), Tasks: []marathon.Task{{ID: "gone", State: "TASK_RUNNING"}}}}
	st.reset(read, now.Add(time.Second))
	var ids []string
	for _, task := range st.apps["/a"].Tasks {
		ids = append(ids, task.ID)
	}
	if len(ids) != 1 || ids[0] != "new" {
		t.Errorf("tasks after the read = %v, want [new]: the recent event kept, the old one forgotten, the ended task not revived", ids)
	}
	if _, ok := st.recent["old"]; ok {
		t.Errorf("the old event is still remembered")
	}
}
