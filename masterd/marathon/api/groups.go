package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// groupResource serves /v2/groups and /v2/groups/{path...}:
// "{id}/versions" and "{id}/versions/{version}" for GET, the group
// otherwise.
func (s *server) groupResource(w http.ResponseWriter, r *http.Request, b Backend) error {
	path := strings.Trim(r.PathValue("path"), "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	n := len(segs)
	switch {
	case n >= 1 && segs[n-1] == "versions":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed()
		}
		return s.groupVersions(w, r, b, marathon.JoinID(marathon.RootID, strings.Join(segs[:n-1], "/")))
	case n >= 2 && segs[n-2] == "versions":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed()
		}
		return s.groupVersion(w, r, b, marathon.JoinID(marathon.RootID, strings.Join(segs[:n-2], "/")), segs[n-1])
	}
	id := marathon.JoinID(marathon.RootID, path)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.getGroup(w, r, b, id)
	case http.MethodPost:
		return s.createGroup(w, r, b, id)
	case http.MethodPut:
		return s.updateGroup(w, r, b, id)
	case http.MethodDelete:
		return s.deleteGroup(w, r, b, id)
	}
	return methodNotAllowed()
}

// groupInfo is a group as GET /v2/groups shows it: apps, groups and pods
// only when embedded.
type groupInfo struct {
	ID           string              `json:"id"`
	Apps         *[]marathon.AppInfo `json:"apps,omitempty"`
	Groups       *[]groupInfo        `json:"groups,omitempty"`
	Pods         *[]json.RawMessage  `json:"pods,omitempty"`
	Dependencies []string            `json:"dependencies"`
	Version      string              `json:"version,omitempty"`
	EnforceRole  *bool               `json:"enforceRole,omitempty"`
}

// renderGroup renders group id of root, whose apps' status v holds.
func (s *server) renderGroup(v *model.View, root model.Root, id string, e groupEmbeds) (groupInfo, bool) {
	now := s.now()
	g, ok := root.Tree(id, func(a marathon.App) marathon.AppInfo { return renderApp(v, a, e.app, now) })
	if !ok {
		return groupInfo{}, false
	}
	return toGroupInfo(g, e), true
}

func toGroupInfo(g marathon.Group, e groupEmbeds) groupInfo {
	out := groupInfo{ID: g.ID, Dependencies: orEmpty(g.Dependencies), Version: g.Version, EnforceRole: g.EnforceRole}
	if e.apps {
		apps := orEmpty(g.Apps)
		out.Apps = &apps
	}
	if e.groups {
		groups := make([]groupInfo, 0, len(g.Groups))
		for _, sub := range g.Groups {
			groups = append(groups, toGroupInfo(sub, e))
		}
		out.Groups = &groups
	}
	if e.pods {
		pods := []json.RawMessage{}
		out.Pods = &pods
	}
	return out
}

// getGroup serves GET /v2/groups/{id}: the group and everything below
// it, with embeds group.apps, group.groups, group.pods (all three by
// default) and group.apps.* for its apps.
func (s *server) getGroup(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	v := b.View()
	g, ok := s.renderGroup(v, v.Root, id, resolveGroupEmbeds(r.URL.Query()["embed"]))
	if !ok {
		return unknownGroup(id)
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// createGroup serves POST /v2/groups/{id}: 201 with the deployment; 409
// when the group or an app of its ID exists.
func (s *server) createGroup(w http.ResponseWriter, r *http.Request, b Backend, pathID string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	u, err := parseGroupBody(body, pathID, s.cfg.Normalization)
	if err != nil {
		return err
	}
	res, err := b.Deploy(r.Context(), keepIDsDistinct(func(root *model.Root) error {
		if hasGroup(*root, u.id) {
			return conflict(fmt.Sprintf("Group %s is already created. Use PUT to change this group.", u.id))
		}
		if _, ok := root.Apps[u.id]; ok {
			return conflict(fmt.Sprintf("An app with the path %s already exists.", u.id))
		}
		applyGroupUpdate(root, u)
		return nil
	}), deployOptions(r, flag(r.URL.Query(), "force", false)))
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(r, "/v2/groups"+u.id))
	writeDeployment(w, http.StatusCreated, res)
	return nil
}

// updateGroup serves PUT /v2/groups/{id}: with version a rollback of the
// group to that version, else with scaleBy a scaling of all its apps,
// else the update (creating the group when missing). dryRun answers the
// original and target roots and the steps between them instead.
func (s *server) updateGroup(w http.ResponseWriter, r *http.Request, b Backend, pathID string) error {
	q := r.URL.Query()
	body, err := readBody(r)
	if err != nil {
		return err
	}
	u, err := parseGroupBody(body, pathID, s.cfg.Normalization)
	if err != nil {
		return err
	}
	var versioned map[string]marathon.App
	if u.version != "" {
		root := b.View().Root
		if !hasGroup(root, u.id) {
			return &marathon.Error{Status: http.StatusUnprocessableEntity,
				Message: fmt.Sprintf("Group %s not available in version %s", u.id, u.version)}
		}
		if versioned, err = s.groupAt(r, b, root, u.id, u.version); err != nil {
			return err
		}
	}
	change := keepIDsDistinct(func(root *model.Root) error {
		switch {
		case u.version != "":
			for _, id := range appsBelow(*root, u.id) {
				delete(root.Apps, id)
			}
			for id, a := range versioned {
				root.Apps[id] = rolledBack(id, a)
			}
		case u.scaleBy != nil:
			scaleGroup(root, u.id, *u.scaleBy)
		default:
			applyGroupUpdate(root, u)
		}
		return nil
	})
	if flag(q, "dryRun", false) {
		original := b.View().Root
		target := original.Clone()
		if err := change(&target); err != nil {
			return err
		}
		orig, _ := original.Tree(marathon.RootID, model.Definition)
		targ, _ := target.Tree(marathon.RootID, model.Definition)
		writeJSON(w, http.StatusOK, struct {
			Original marathon.Group            `json:"original"`
			Target   marathon.Group            `json:"target"`
			Steps    []marathon.DeploymentStep `json:"steps"`
		}{orig, targ, planSteps(original, target)})
		return nil
	}
	res, err := b.Deploy(r.Context(), change, deployOptions(r, flag(q, "force", false)))
	if err != nil {
		return err
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// deleteGroup serves DELETE /v2/groups/{id}: the group and all below it
// go; DELETE /v2/groups empties the root.
func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	res, err := b.Deploy(r.Context(), func(root *model.Root) error {
		if !hasGroup(*root, id) {
			return unknownGroup(id)
		}
		removeGroup(root, id)
		return nil
	}, deployOptions(r, flag(r.URL.Query(), "force", false)))
	if err != nil {
		return err
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// groupVersions serves GET /v2/groups/{id}/versions: a JSON array, newest
// first, of the group's current version and every stored version of the
// apps in it.
func (s *server) groupVersions(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	v := b.View()
	g, ok := v.Root.Tree(id, model.Definition)
	if !ok {
		return unknownGroup(id)
	}
	set := map[string]bool{}
	if g.Version != "" {
		set[g.Version] = true
	}
	for _, aid := range appsBelow(v.Root, id) {
		vs, err := b.Versions(r.Context(), aid)
		if err != nil {
			return err
		}
		for _, ver := range vs {
			set[ver] = true
		}
	}
	out := make([]string, 0, len(set))
	for ver := range set {
		out = append(out, ver)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out))) // timestamps sort as strings
	writeJSON(w, http.StatusOK, out)
	return nil
}

// groupVersion serves GET /v2/groups/{id}/versions/{version}: the group
// with its apps as they were then (see groupAt).
func (s *server) groupVersion(w http.ResponseWriter, r *http.Request, b Backend, id, version string) error {
	v := b.View()
	if !hasGroup(v.Root, id) {
		return unknownGroup(id)
	}
	apps, err := s.groupAt(r, b, v.Root, id, version)
	if err != nil {
		return err
	}
	then := model.Root{Version: version, Apps: apps, Groups: v.Root.Groups}
	g, ok := s.renderGroup(v, then, id, resolveGroupEmbeds(r.URL.Query()["embed"]))
	if !ok {
		g = groupInfo{ID: id, Dependencies: []string{}, Version: version}
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// planSteps approximates the deployment from old to new for dryRun:
// stopping removed apps, then starting new ones, then restarting changed
// and scaling rescaled ones. The backend's planner orders by dependencies;
// this does not.
func planSteps(old, new model.Root) []marathon.DeploymentStep {
	ids := map[string]bool{}
	for id := range old.Apps {
		ids[id] = true
	}
	for id := range new.Apps {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	var stop, start, change []marathon.DeploymentAction
	for _, id := range sorted {
		o, wasThere := old.Apps[id]
		n, isThere := new.Apps[id]
		switch {
		case !isThere:
			stop = append(stop, marathon.DeploymentAction{Action: marathon.ActionStopApplication, App: id})
		case !wasThere:
			start = append(start, marathon.DeploymentAction{Action: marathon.ActionStartApplication, App: id})
		case !sameConfig(o, n):
			change = append(change, marathon.DeploymentAction{Action: marathon.ActionRestartApplication, App: id})
		case o.Instances != n.Instances:
			change = append(change, marathon.DeploymentAction{Action: marathon.ActionScaleApplication, App: id})
		}
	}
	steps := []marathon.DeploymentStep{}
	for _, actions := range [][]marathon.DeploymentAction{stop, start, change} {
		if len(actions) > 0 {
			steps = append(steps, marathon.DeploymentStep{Actions: actions})
		}
	}
	return steps
}

// sameConfig reports whether two definitions differ at most in instances
// and versions.
func sameConfig(a, b marathon.App) bool {
	a.Instances, b.Instances = 0, 0
	a.Version, b.Version = "", ""
	a.VersionInfo, b.VersionInfo = nil, nil
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
