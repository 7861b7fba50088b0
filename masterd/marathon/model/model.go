// Package model holds the Marathon state that the framework, the deployment
// planner and the v2 API share: the root group of app definitions (what a
// deployment changes) and immutable views of what runs (what the API reads).
package model

import (
	"maps"

	"corral/marathon"
)

// Root is the whole tree of app definitions at one version, Marathon's root
// group. Apps are keyed by absolute ID and hold their defaults, service
// ports and Version; Groups holds the groups that exist on their own
// (created through /v2/groups, or carrying dependencies). A group that only
// contains apps is implied by their IDs and need not be listed.
type Root struct {
	Version string                  `json:"version"`
	Apps    map[string]marathon.App `json:"apps"`
	Groups  map[string]Group        `json:"groups"`
}

// Group is a group's own record: what is not derived from its apps.
type Group struct {
	ID           string   `json:"id"`
	Dependencies []string `json:"dependencies,omitempty"`
	Version      string   `json:"version,omitempty"`
	EnforceRole  *bool    `json:"enforceRole,omitempty"`
}

// Clone returns a copy whose maps may be changed without touching r. Apps
// are values; their slices and maps are shared, so replace an app rather
// than editing its slices in place.
func (r Root) Clone() Root {
	c := Root{Version: r.Version, Apps: maps.Clone(r.Apps), Groups: maps.Clone(r.Groups)}
	if c.Apps == nil {
		c.Apps = map[string]marathon.App{}
	}
	if c.Groups == nil {
		c.Groups = map[string]Group{}
	}
	return c
}

// View is an immutable snapshot of the leading Marathon: the deployed root
// and, per app, its tasks and their counts. Readers must not modify it;
// the framework builds a new one whenever something changes.
type View struct {
	Root        Root
	Apps        map[string]*AppStatus // one per app in Root.Apps
	Deployments []marathon.Deployment // running deployments, oldest first
	Queue       []marathon.QueueItem  // apps waiting for offers
}

// AppStatus is what runs of one app, for the embeds of /v2/apps.
type AppStatus struct {
	Tasks           []marathon.Task // live tasks, oldest first
	Counts          marathon.TaskCounts
	Deployments     []marathon.DeploymentRef
	LastTaskFailure *marathon.TaskFailure
	Readiness       []marathon.ReadinessCheckResult
}

// Task finds a live task by ID in the view.
func (v *View) Task(id string) (marathon.Task, bool) {
	for _, st := range v.Apps {
		for _, t := range st.Tasks {
			if t.ID == id {
				return t, true
			}
		}
	}
	return marathon.Task{}, false
}
