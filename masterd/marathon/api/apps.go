package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// appRef is what a path below /v2/apps/ names: an app (or with group,
// every app below a group, "/v2/apps/prod/*") and a sub-resource of it.
type appRef struct {
	id    string // canonical app ID, or the group's with group
	group bool
	sub   string // "", "restart", "tasks" or "versions"
	arg   string // the task ID or version after tasks/ or versions/
}

// splitAppPath splits the path after /v2/apps/ as Jersey matches
// Marathon's templates "{id:.+}/restart", "{appId:.+}/tasks/{taskId}",
// "{appId:.+}/versions/{version}" and "{id:.+}": the sub-resource is taken
// from the end, and the app ID is all that precedes it. App IDs cannot end
// in restart, tasks or versions, so no app is hidden by this.
func splitAppPath(path string) appRef {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	n := len(segs)
	var ref appRef
	switch {
	case n >= 3 && (segs[n-2] == "tasks" || segs[n-2] == "versions"):
		ref.sub, ref.arg, segs = segs[n-2], segs[n-1], segs[:n-2]
	case n >= 2 && (segs[n-1] == "tasks" || segs[n-1] == "versions" || segs[n-1] == "restart"):
		ref.sub, segs = segs[n-1], segs[:n-1]
	}
	if k := len(segs); k > 0 && segs[k-1] == "*" {
		ref.group, segs = true, segs[:k-1]
	}
	ref.id = marathon.JoinID(marathon.RootID, strings.Join(segs, "/"))
	return ref
}

// appResource serves /v2/apps/{path...}.
func (s *server) appResource(w http.ResponseWriter, r *http.Request, b Backend) error {
	ref := splitAppPath(r.PathValue("path"))
	m := r.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	switch {
	case ref.sub == "" && marathon.IsRootID(ref.id) && !ref.group: // "/v2/apps"
		switch m {
		case http.MethodGet:
			return s.listApps(w, r, b)
		case http.MethodPost:
			return s.createApp(w, r, b)
		case http.MethodPut, http.MethodPatch:
			return s.updateApps(w, r, b)
		}
	case ref.sub == "":
		switch {
		case m == http.MethodGet:
			return s.getApp(w, r, b, ref)
		case ref.group:
		case m == http.MethodPut:
			return s.updateApp(w, r, b, ref.id, false)
		case m == http.MethodPatch:
			return s.updateApp(w, r, b, ref.id, true)
		case m == http.MethodDelete:
			return s.deleteApp(w, r, b, ref.id)
		}
	case ref.sub == "restart" && m == http.MethodPost && !ref.group:
		return s.restartApp(w, r, b, ref.id)
	case ref.sub == "tasks" && ref.arg == "":
		switch m {
		case http.MethodGet:
			return s.appTasks(w, r, b, ref)
		case http.MethodDelete:
			return s.killAppTasks(w, r, b, ref.id)
		}
	case ref.sub == "tasks":
		switch m {
		case http.MethodGet:
			return s.appTask(w, r, b, ref.id, ref.arg)
		case http.MethodDelete:
			return s.killAppTask(w, r, b, ref.id, ref.arg)
		}
	case ref.sub == "versions" && m == http.MethodGet && !ref.group:
		return s.appVersions(w, r, b, ref.id, ref.arg)
	}
	return methodNotAllowed()
}

// listApps serves GET /v2/apps: every app, filtered by id and cmd
// (case-insensitive substrings) and label (a selector query), with the
// embeds asked for plus counts and deployments.
func (s *server) listApps(w http.ResponseWriter, r *http.Request, b Backend) error {
	q := r.URL.Query()
	var sels []labelSelector
	if q.Has("label") {
		var err error
		if sels, err = parseLabelSelectors(q.Get("label")); err != nil {
			return err
		}
	}
	e := listEmbeds(q["embed"])
	v := b.View()
	key := cacheKey{resource: "apps", query: filterQuery(q, "id", "cmd", "label"), embeds: e}
	s.cache.get(v, key, func() response {
		now := s.now()
		apps := make([]marathon.AppInfo, 0, len(v.Root.Apps))
		for _, id := range sortedAppIDs(v.Root) {
			a := v.Root.Apps[id]
			switch {
			case q.Has("id") && !containsFold(a.ID, q.Get("id")):
			case q.Has("cmd") && (a.Cmd == "" || !containsFold(a.Cmd, q.Get("cmd"))):
			case !matchAll(sels, a.Labels):
			default:
				apps = append(apps, renderApp(v, a, e, now))
			}
		}
		return jsonResponse(http.StatusOK, marathon.AppList{Apps: apps})
	}).write(w)
	return nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func sortedAppIDs(r model.Root) []string {
	ids := make([]string, 0, len(r.Apps))
	for id := range r.Apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// appsBelow lists the apps in group gid and its subgroups, sorted.
func appsBelow(r model.Root, gid string) []string {
	var ids []string
	for _, id := range sortedAppIDs(r) {
		if inGroup(gid, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// getApp serves GET /v2/apps/{id}: {"app": …} with counts, deployments,
// tasks, lastTaskFailure and readiness besides what the request asks for;
// for "{group}/*", {"*": […]} with every app below the group.
func (s *server) getApp(w http.ResponseWriter, r *http.Request, b Backend, ref appRef) error {
	e := singleEmbeds(r.URL.Query()["embed"])
	v := b.View()
	if ref.group {
		key := cacheKey{resource: "apps below " + ref.id, embeds: e}
		s.cache.get(v, key, func() response {
			now := s.now()
			apps := []marathon.AppInfo{}
			for _, id := range appsBelow(v.Root, ref.id) {
				apps = append(apps, renderApp(v, v.Root.Apps[id], e, now))
			}
			return jsonResponse(http.StatusOK, map[string][]marathon.AppInfo{"*": apps})
		}).write(w)
		return nil
	}
	a, ok := v.Root.Apps[ref.id]
	if !ok {
		return marathon.AppNotFound(ref.id)
	}
	s.cache.get(v, cacheKey{resource: "app " + ref.id, embeds: e}, func() response {
		return jsonResponse(http.StatusOK, marathon.AppSingle{App: renderApp(v, a, e, s.now())})
	}).write(w)
	return nil
}

// createApp serves POST /v2/apps: 201 with the app as stored (service
// ports assigned), zero counts, no tasks and the deployment that starts
// it; 409 when the ID is taken.
func (s *server) createApp(w http.ResponseWriter, r *http.Request, b Backend) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	app, details, err := marathon.ParseAppWith(body, "", s.cfg.Normalization)
	if err != nil {
		return err
	}
	if len(details) > 0 {
		return marathon.NotValid(details)
	}
	app.Version, app.VersionInfo = "", nil // the backend stamps them
	res, err := b.Deploy(r.Context(), keepIDsDistinct(func(root *model.Root) error {
		if _, ok := root.Apps[app.ID]; ok {
			return marathon.AppExists(app.ID)
		}
		root.Apps[app.ID] = app
		return nil
	}), deployOptions(r, flag(r.URL.Query(), "force", false)))
	if err != nil {
		return err
	}
	if stored, ok := b.View().Root.Apps[app.ID]; ok {
		app = stored
	}
	info := marathon.AppInfo{App: app, Counts: &marathon.TaskCounts{}, Tasks: []marathon.Task{}, Deployments: []marathon.DeploymentRef{}}
	if res.DeploymentID != "" {
		info.Deployments = []marathon.DeploymentRef{{ID: res.DeploymentID}}
		w.Header().Set(marathon.DeploymentHeader, res.DeploymentID)
	}
	w.Header().Set("Location", location(r, "/v2/apps"+app.ID))
	writeJSON(w, http.StatusCreated, info)
	return nil
}

// updateApp serves PUT and PATCH /v2/apps/{id}. PUT creates a missing
// app (201) and, with partialUpdate (the default) or as PATCH, keeps what
// the body leaves out; a body of only "version" rolls back to it.
func (s *server) updateApp(w http.ResponseWriter, r *http.Request, b Backend, id string, patch bool) error {
	q := r.URL.Query()
	partial := patch || flag(q, "partialUpdate", true)
	body, err := readBody(r)
	if err != nil {
		return err
	}
	u, err := decodeObject(body)
	if err != nil {
		return err
	}
	var p problems
	if !patch {
		checkSameID(&p, id, u)
	}
	version := checkVersionOnly(&p, "", u)
	if err := p.err(); err != nil {
		return err
	}
	var rollback *marathon.App
	if version != "" {
		if rollback, err = s.versionOf(r, b, id, version); err != nil {
			return err
		}
	}
	created := false
	res, err := b.Deploy(r.Context(), keepIDsDistinct(func(root *model.Root) error {
		cur, exists := root.Apps[id]
		created = false
		switch {
		case !exists && (patch || rollback != nil):
			return marathon.AppNotFound(id)
		case rollback != nil:
			root.Apps[id] = rolledBack(id, *rollback)
			return nil
		}
		var current *marathon.App
		if exists && partial {
			current = &cur
		}
		app, details, err := buildApp(id, current, u, s.cfg.Normalization)
		var p problems
		p.parsed("", details, err)
		if err := p.err(); err != nil {
			return err
		}
		root.Apps[id] = app
		created = !exists
		return nil
	}), deployOptions(r, flag(q, "force", false)))
	if err != nil {
		return err
	}
	if created {
		w.Header().Set("Location", location(r, "/v2/apps"+id))
		writeDeployment(w, http.StatusCreated, res)
		return nil
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// bulkItem is one app of PUT or PATCH /v2/apps.
type bulkItem struct {
	id       string
	update   map[string]any
	rollback *marathon.App
}

// updateApps serves PUT and PATCH /v2/apps: an array of app updates,
// each naming its app by id, applied in one deployment. PUT creates the
// apps that are missing; PATCH (and PUT with partialUpdate, the default)
// keeps what an update leaves out.
func (s *server) updateApps(w http.ResponseWriter, r *http.Request, b Backend) error {
	q := r.URL.Query()
	patch := r.Method == http.MethodPatch
	partial := patch || flag(q, "partialUpdate", true)
	body, err := readBody(r)
	if err != nil {
		return err
	}
	v, err := decodeJSON(body)
	if err != nil {
		return err
	}
	list, ok := v.([]any)
	if !ok {
		return invalidJSON("/", errArray)
	}
	var p problems
	items := make([]bulkItem, 0, len(list))
	for i, e := range list {
		at := fmt.Sprintf("/(%d)", i)
		u, ok := e.(map[string]any)
		if !ok {
			p.badJSON(at, errObject)
			continue
		}
		id, ok := u["id"].(string)
		switch {
		case u["id"] == nil:
			p.badJSON(at+"/id", errPathMissing)
			continue
		case !ok:
			p.badJSON(at+"/id", errString)
			continue
		}
		items = append(items, bulkItem{id: marathon.JoinID(marathon.RootID, id), update: u})
		if version := checkVersionOnly(&p, at, u); version != "" {
			it := &items[len(items)-1]
			if it.rollback, err = s.versionOf(r, b, it.id, version); err != nil {
				return err
			}
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	res, err := b.Deploy(r.Context(), keepIDsDistinct(func(root *model.Root) error {
		var p problems
		for i, it := range items {
			cur, exists := root.Apps[it.id]
			switch {
			case !exists && (patch || it.rollback != nil):
				return marathon.AppNotFound(it.id)
			case it.rollback != nil:
				root.Apps[it.id] = rolledBack(it.id, *it.rollback)
				continue
			}
			var current *marathon.App
			if exists && partial {
				current = &cur
			}
			app, details, err := buildApp(it.id, current, it.update, s.cfg.Normalization)
			p.parsed(fmt.Sprintf("/(%d)", i), details, err)
			if err == nil && len(details) == 0 {
				root.Apps[it.id] = app
			}
		}
		return p.err()
	}), deployOptions(r, flag(q, "force", false)))
	if err != nil {
		return err
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// deleteApp serves DELETE /v2/apps/{id}.
func (s *server) deleteApp(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	res, err := b.Deploy(r.Context(), func(root *model.Root) error {
		if _, ok := root.Apps[id]; !ok {
			return marathon.AppNotFound(id)
		}
		delete(root.Apps, id)
		return nil
	}, deployOptions(r, flag(r.URL.Query(), "force", false)))
	if err != nil {
		return err
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// restartApp serves POST /v2/apps/{id}/restart: a deployment that
// replaces every task with one of a new version of the same definition.
func (s *server) restartApp(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	opts := deployOptions(r, flag(r.URL.Query(), "force", false))
	opts.Restart = []string{id}
	res, err := b.Deploy(r.Context(), func(root *model.Root) error {
		if _, ok := root.Apps[id]; !ok {
			return marathon.AppNotFound(id)
		}
		return nil
	}, opts)
	if err != nil {
		return err
	}
	writeDeployment(w, http.StatusOK, res)
	return nil
}

// appVersions serves GET /v2/apps/{id}/versions ({"versions": […]},
// newest first) and /v2/apps/{id}/versions/{version} (the definition).
func (s *server) appVersions(w http.ResponseWriter, r *http.Request, b Backend, id, version string) error {
	if _, ok := b.View().Root.Apps[id]; !ok {
		return marathon.AppNotFound(id)
	}
	if version == "" {
		vs, err := b.Versions(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, marathon.VersionList{Versions: vs})
		return nil
	}
	app, err := s.versionOf(r, b, id, version)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, app)
	return nil
}

// versionOf fetches a stored version of an app.
func (s *server) versionOf(r *http.Request, b Backend, id, version string) (*marathon.App, error) {
	app, ok, err := b.Version(r.Context(), id, version)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(fmt.Sprintf("App '%s' does not exist in version %s", id, version))
	}
	return &app, nil
}
