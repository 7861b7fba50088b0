package framework

import (
	"slices"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// deployment is a running deployment: the steps planned from the root
// before to the root after, and which step runs. The affected apps'
// definitions before it are kept for a rollback.
type deployment struct {
	ID       string                    `json:"id"`
	Seq      int64                     `json:"seq"` // creation order
	Version  string                    `json:"version"`
	Steps    []marathon.DeploymentStep `json:"steps"`
	Current  int                       `json:"current"` // index of the running step
	Affected []string                  `json:"affectedApps"`
	// Original holds the affected apps as they were; an app missing here
	// did not exist.
	Original map[string]marathon.App `json:"original"`
	// OriginalGroups holds the groups of the root before.
	OriginalGroups map[string]model.Group `json:"originalGroups,omitempty"`
}

// affects reports whether the deployment changes app id.
func (d *deployment) affects(id string) bool {
	_, ok := slices.BinarySearch(d.Affected, id)
	return ok
}

// action returns what the running step does to app id, if anything.
func (d *deployment) action(id string) (string, bool) {
	if d.Current >= len(d.Steps) {
		return "", false
	}
	for _, a := range d.Steps[d.Current].Actions {
		if a.App == id {
			return a.Action, true
		}
	}
	return "", false
}

// info renders the deployment as /v2/deployments lists it.
func (d *deployment) info() marathon.Deployment {
	out := marathon.Deployment{
		ID: d.ID, Version: d.Version, AffectedApps: slices.Clone(d.Affected), Steps: d.Steps,
		CurrentStep: min(d.Current+1, len(d.Steps)), TotalSteps: len(d.Steps),
	}
	if d.Current < len(d.Steps) {
		for _, a := range d.Steps[d.Current].Actions {
			out.CurrentActions = append(out.CurrentActions, marathon.DeploymentActionInfo{Action: a.Action, App: a.App})
		}
	}
	return out
}

// original reconstructs the root before d from the root after it.
func (d *deployment) original(after model.Root) model.Root {
	r := after.Clone()
	for _, id := range d.Affected {
		if a, ok := d.Original[id]; ok {
			r.Apps[id] = a
		} else {
			delete(r.Apps, id)
		}
	}
	if d.OriginalGroups != nil {
		r.Groups = d.OriginalGroups
	}
	return r
}

// plan renders d as the event stream carries it.
func (d *deployment) plan(after model.Root) marathon.DeploymentPlan {
	orig, _ := d.original(after).Tree(marathon.RootID, model.Definition)
	target, _ := after.Tree(marathon.RootID, model.Definition)
	return marathon.DeploymentPlan{ID: d.ID, Version: d.Version, Steps: d.Steps, Original: &orig, Target: &target}
}

// deploymentOf returns the running deployment that affects app id, if
// any (at most one does). Callers hold mu.
func (f *Framework) deploymentOf(id string) *deployment {
	for _, d := range f.deployments {
		if d.affects(id) {
			return d
		}
	}
	return nil
}
