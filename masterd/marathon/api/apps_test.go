package api

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

func TestSplitAppPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want appRef
	}{
		{"", appRef{id: "/"}},
		{"web", appRef{id: "/web"}},
		{"prod/web/api/", appRef{id: "/prod/web/api"}},
		{"prod/web/restart", appRef{id: "/prod/web", sub: "restart"}},
		{"prod/web/tasks", appRef{id: "/prod/web", sub: "tasks"}},
		{"prod/web/tasks/prod_web.1234", appRef{id: "/prod/web", sub: "tasks", arg: "prod_web.1234"}},
		{"prod/web/versions", appRef{id: "/prod/web", sub: "versions"}},
		{"prod/web/versions/2024-01-01T00:00:00.000Z", appRef{id: "/prod/web", sub: "versions", arg: "2024-01-01T00:00:00.000Z"}},
		{"tasks/versions", appRef{id: "/tasks", sub: "versions"}},
		{"tasks/b", appRef{id: "/tasks/b"}}, // an app may sit in a group named tasks
		{"prod/*", appRef{id: "/prod", group: true}},
		{"*", appRef{id: "/", group: true}},
		{"prod/*/tasks", appRef{id: "/prod", group: true, sub: "tasks"}},
	} {
		if got := splitAppPath(tc.path); got != tc.want {
			t.Errorf("splitAppPath(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
}

// webTask is a running, healthy task of /prod/web.
func webTask(id string) marathon.Task {
	return marathon.Task{ID: id, AppID: "/prod/web", Host: "agent1", Ports: []int{31000}, State: marathon.TaskRunning,
		StagedAt: "2024-01-01T00:00:01.000Z", StartedAt: "2024-01-01T00:00:02.000Z", Version: "2024-01-01T00:00:01.000Z",
		HealthCheckResults: []marathon.HealthCheckResult{{Alive: true, TaskID: id}}}
}

func TestListAppsEmbeds(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web", "cmd": "serve", "instances": 2}`)
	f.setTasks("/prod/web", webTask("prod_web.1"), webTask("prod_web.2"))
	f.status["/prod/web"].LastTaskFailure = &marathon.TaskFailure{AppID: "/prod/web", TaskID: "prod_web.0", State: marathon.TaskFailed}
	f.status["/prod/web"].Deployments = []marathon.DeploymentRef{{ID: "d1"}}
	h, _ := leading(t, f)
	for _, tc := range []struct {
		query   string
		present []string
		absent  []string
	}{
		{"", []string{"tasksRunning", "tasksHealthy", "tasksStaged", "tasksUnhealthy", "deployments"},
			[]string{"tasks", "lastTaskFailure", "readinessCheckResults", "tasksStats"}},
		{"?embed=apps.tasks", []string{"tasks", "deployments", "tasksRunning"}, []string{"lastTaskFailure"}},
		{"?embed=app.tasks", []string{"tasks"}, nil},
		{"?embed=apps.lastTaskFailure", []string{"lastTaskFailure"}, []string{"tasks"}},
		{"?embed=apps.readiness", []string{"readinessCheckResults"}, []string{"tasks"}},
		{"?embed=apps.taskStats", []string{"tasksStats"}, []string{"tasks"}},
		{"?embed=apps.failures", []string{"tasks", "lastTaskFailure", "deployments", "tasksRunning"}, nil},
		{"?embed=apps.tasks&embed=apps.lastTaskFailure", []string{"tasks", "lastTaskFailure"}, nil},
		{"?embed=apps.tasks,apps.readiness", []string{"tasks", "readinessCheckResults"}, nil},
		{"?embed=apps.unknown", nil, []string{"tasks"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			body := expect[struct{ Apps []map[string]any }](t, do(t, h, "GET", "/v2/apps"+tc.query, ""), http.StatusOK)
			if len(body.Apps) != 1 {
				t.Fatalf("got %d apps, want 1", len(body.Apps))
			}
			app := body.Apps[0]
			for _, k := range tc.present {
				if _, ok := app[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
			for _, k := range tc.absent {
				if _, ok := app[k]; ok {
					t.Errorf("%s present", k)
				}
			}
		})
	}
	body := expect[marathon.AppList](t, do(t, h, "GET", "/v2/apps?embed=apps.tasks&embed=apps.taskStats", ""), http.StatusOK)
	a := body.Apps[0]
	if a.Counts == nil || a.Counts.Running != 2 || a.Counts.Healthy != 2 {
		t.Errorf("counts %+v, want 2 running and healthy", a.Counts)
	}
	if len(a.Tasks) != 2 || len(a.Deployments) != 1 || a.Deployments[0].ID != "d1" {
		t.Errorf("tasks %v deployments %v, want 2 tasks and d1", a.Tasks, a.Deployments)
	}
	ts := a.TasksStats
	if ts == nil || ts.TotalSummary == nil || ts.TotalSummary.Stats.Counts.Running != 2 || ts.TotalSummary.Stats.LifeTime == nil {
		t.Fatalf("tasksStats %+v, want a total of 2 running with a life time", ts)
	}
	if got := ts.TotalSummary.Stats.LifeTime.AverageSeconds; got != 3598 {
		t.Errorf("average life time %v, want 3598", got)
	}
}

func TestListAppsFilters(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web", "cmd": "python -m http.server", "labels": {"env": "prod", "tier": "frontend"}}`)
	f.addApp(t, `{"id": "/prod/db", "cmd": "postgres", "labels": {"env": "prod", "tier": "back end"}}`)
	f.addApp(t, `{"id": "/dev/web", "container": {"docker": {"image": "nginx"}}, "labels": {"env": "dev"}}`)
	h, _ := leading(t, f)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"/dev/web", "/prod/db", "/prod/web"}},
		{"?id=web", []string{"/dev/web", "/prod/web"}},
		{"?id=PROD/", []string{"/prod/db", "/prod/web"}},
		{"?cmd=Python", []string{"/prod/web"}},
		{"?cmd=", []string{"/prod/db", "/prod/web"}}, // apps without cmd never match
		{"?label=env==prod", []string{"/prod/db", "/prod/web"}},
		{"?label=env!=prod", []string{"/dev/web"}},
		{"?label=tier", []string{"/prod/db", "/prod/web"}},
		{"?label=tier!=frontend", []string{"/prod/db"}},
		{`?label=tier==back\+end`, []string{"/prod/db"}},
		{"?label=env==prod,tier==frontend", []string{"/prod/web"}},
		{"?label=env+in+(dev,+stage)", []string{"/dev/web"}},
		{"?label=env+notin+(dev)", []string{"/prod/db", "/prod/web"}},
		{"?id=web&label=env==prod", []string{"/prod/web"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			body := expect[marathon.AppList](t, do(t, h, "GET", "/v2/apps"+tc.query, ""), http.StatusOK)
			var got []string
			for _, a := range body.Apps {
				got = append(got, a.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("apps %v, want %v", got, tc.want)
			}
		})
	}
	expectError(t, do(t, h, "GET", "/v2/apps?label=env==(", ""), http.StatusUnprocessableEntity,
		`{"message": "Can not parse label selector env==(. Reason: unexpected \"(\" at 5"}`)
}

// TestAppsCarryCollections checks that every response with apps writes the
// collections clients index without checking, even for an app whose slices
// are nil.
func TestAppsCarryCollections(t *testing.T) {
	f := newFakeBackend()
	f.root.Apps["/bare"] = marathon.NewApp("/bare")
	f.root.Groups["/g"] = model.Group{ID: "/g"}
	h, _ := leading(t, f)
	check := func(name string, app map[string]any) {
		t.Helper()
		for _, k := range []string{"labels", "env"} {
			if _, ok := app[k].(map[string]any); !ok {
				t.Errorf("%s: %s = %v, want an object", name, k, app[k])
			}
		}
		for _, k := range []string{"healthChecks", "portDefinitions", "ports", "constraints", "fetch", "dependencies"} {
			if _, ok := app[k].([]any); !ok {
				t.Errorf("%s: %s = %v, want an array", name, k, app[k])
			}
		}
	}
	list := expect[struct{ Apps []map[string]any }](t, do(t, h, "GET", "/v2/apps", ""), http.StatusOK)
	check("GET /v2/apps", list.Apps[0])
	single := expect[struct{ App map[string]any }](t, do(t, h, "GET", "/v2/apps/bare", ""), http.StatusOK)
	check("GET /v2/apps/bare", single.App)
	group := expect[struct{ Apps []map[string]any }](t, do(t, h, "GET", "/v2/groups", ""), http.StatusOK)
	check("GET /v2/groups", group.Apps[0])
	created := expect[map[string]any](t, do(t, h, "POST", "/v2/apps", `{"id": "new", "cmd": "x"}`), http.StatusCreated)
	check("POST /v2/apps", created)
}

func TestGetApp(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web/api", "cmd": "serve"}`)
	f.addApp(t, `{"id": "/prod/db", "cmd": "db"}`)
	f.addApp(t, `{"id": "/dev/x", "cmd": "x"}`)
	h, _ := leading(t, f)
	body := expect[struct{ App map[string]any }](t, do(t, h, "GET", "/v2/apps/prod/web/api", ""), http.StatusOK)
	if body.App["id"] != "/prod/web/api" {
		t.Errorf("id %v, want /prod/web/api", body.App["id"])
	}
	for _, k := range []string{"tasks", "deployments", "tasksRunning", "readinessCheckResults"} {
		if _, ok := body.App[k]; !ok {
			t.Errorf("%s missing from GET /v2/apps/{id}", k)
		}
	}
	if _, ok := body.App["tasksStats"]; ok {
		t.Error("tasksStats present without embed")
	}
	body = expect[struct{ App map[string]any }](t, do(t, h, "GET", "/v2/apps//prod/web/api/?embed=app.taskStats", ""), http.StatusOK)
	if _, ok := body.App["tasksStats"]; !ok {
		t.Error("tasksStats missing with embed=app.taskStats")
	}
	expectError(t, do(t, h, "GET", "/v2/apps/prod/web", ""), http.StatusNotFound, `{"message": "App '/prod/web' does not exist"}`)
	star := expect[map[string][]marathon.AppInfo](t, do(t, h, "GET", "/v2/apps/prod/*", ""), http.StatusOK)
	if got := len(star["*"]); got != 2 {
		t.Errorf("GET /v2/apps/prod/* listed %d apps, want 2", got)
	}
}

func TestCreateApp(t *testing.T) {
	f := newFakeBackend()
	h, _ := leading(t, f)
	rec := do(t, h, "POST", "/v2/apps?force=true", `{"id": "prod/web", "cmd": "serve", "portDefinitions": [{"port": 0}], "version": "2000-01-01T00:00:00.000Z"}`)
	app := expect[marathon.AppInfo](t, rec, http.StatusCreated)
	if got := rec.Header().Get("Location"); got != "http://example.com/v2/apps/prod/web" {
		t.Errorf("Location %q, want http://example.com/v2/apps/prod/web", got)
	}
	if got := rec.Header().Get(marathon.DeploymentHeader); got != "deployment-1" {
		t.Errorf("%s %q, want deployment-1", marathon.DeploymentHeader, got)
	}
	if app.ID != "/prod/web" || len(app.Deployments) != 1 || app.Deployments[0].ID != "deployment-1" {
		t.Errorf("created %s with deployments %v, want /prod/web with deployment-1", app.ID, app.Deployments)
	}
	if app.Tasks == nil || len(app.Tasks) != 0 || app.Counts == nil || *app.Counts != (marathon.TaskCounts{}) {
		t.Errorf("tasks %v counts %v, want none", app.Tasks, app.Counts)
	}
	if len(app.PortDefinitions) != 1 || app.PortDefinitions[0].Port != 10000 || app.Version != "2024-01-01T00:00:01.000Z" {
		t.Errorf("port definitions %v version %s, want the backend's port 10000 and version", app.PortDefinitions, app.Version)
	}
	d := f.deploys[0]
	if !d.Force || d.Source != "POST /v2/apps" || d.URI != "/v2/apps" || d.ClientIP != "192.0.2.1" {
		t.Errorf("deploy options %+v, want forced, from POST /v2/apps by 192.0.2.1", d)
	}

	expectError(t, do(t, h, "POST", "/v2/apps", `{"id": "/prod/web", "cmd": "again"}`), http.StatusConflict,
		`{"message": "An app with id [/prod/web] already exists."}`)
	expectError(t, do(t, h, "POST", "/v2/apps", `{"id": "/x", "cmd": `), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/", "errors": ["unexpected EOF"]}]}`)
	expectError(t, do(t, h, "POST", "/v2/apps", `{"id": 5, "cpus": "many"}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/cpus", "errors": ["error.expected.jsnumber"]}, {"path": "/id", "errors": ["error.expected.jsstring"]}]}`)
	expectError(t, do(t, h, "POST", "/v2/apps", `{"cmd": "x"}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/id", "errors": ["error.path.missing"]}]}`)
	rec = do(t, h, "POST", "/v2/apps", `{"id": "/y", "cmd": "x", "cpus": 0}`)
	body := expect[marathon.Error](t, rec, http.StatusUnprocessableEntity)
	if body.Message != marathon.MessageObjectNotValid || len(body.Details) == 0 || body.Details[0].Path != "/cpus" {
		t.Errorf("body %s, want Object is not valid at /cpus", rec.Body)
	}
	if len(f.deploys) != 2 { // the duplicate reached Deploy, the invalid ones did not
		t.Errorf("%d deploys, want 2", len(f.deploys))
	}
}

func TestUpdateApp(t *testing.T) {
	f := newFakeBackend()
	orig := f.addApp(t, `{"id": "/prod/web", "cmd": "serve", "instances": 2, "labels": {"a": "1"}, "portDefinitions": [{"port": 0, "name": "http"}]}`)
	h, _ := leading(t, f)

	// PUT without partialUpdate merges: only instances change.
	rec := do(t, h, "PUT", "/v2/apps/prod/web", `{"id": "/prod/web", "instances": 5, "versionInfo": null}`)
	res := expect[marathon.DeploymentResult](t, rec, http.StatusOK)
	if res.DeploymentID == "" || rec.Header().Get(marathon.DeploymentHeader) != res.DeploymentID {
		t.Errorf("result %+v, header %q", res, rec.Header().Get(marathon.DeploymentHeader))
	}
	a, _ := f.app("/prod/web")
	if a.Instances != 5 || a.Cmd != "serve" || a.Labels["a"] != "1" || a.PortDefinitions[0].Port != orig.PortDefinitions[0].Port {
		t.Errorf("after PUT: instances %d cmd %q labels %v ports %v", a.Instances, a.Cmd, a.Labels, a.PortDefinitions)
	}
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"id": "/other", "instances": 6}`), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/id", "errors": ["does not equal /prod/web"]}]}`)
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"id": 5}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/id", "errors": ["error.expected.jsstring"]}]}`)
	if _, ok := f.app("/other"); ok {
		t.Error("PUT used the body's id, want it refused")
	}

	// PATCH replaces labels wholesale and keeps the rest.
	expect[marathon.DeploymentResult](t, do(t, h, "PATCH", "/v2/apps/prod/web", `{"labels": {"b": "2"}, "cpus": 0.5}`), http.StatusOK)
	a, _ = f.app("/prod/web")
	if a.Cpus != 0.5 || a.Instances != 5 || len(a.Labels) != 1 || a.Labels["b"] != "2" {
		t.Errorf("after PATCH: cpus %v instances %d labels %v", a.Cpus, a.Instances, a.Labels)
	}

	// partialUpdate=false replaces the definition.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/prod/web?partialUpdate=false", `{"cmd": "new"}`), http.StatusOK)
	a, _ = f.app("/prod/web")
	if a.Cmd != "new" || a.Instances != 1 || len(a.Labels) != 0 || a.Cpus != 1 {
		t.Errorf("after full PUT: cmd %q instances %d labels %v cpus %v", a.Cmd, a.Instances, a.Labels, a.Cpus)
	}

	// Deprecated fields in an update replace what the app holds.
	expect[marathon.DeploymentResult](t, do(t, h, "PATCH", "/v2/apps/prod/web", `{"ports": [0, 0], "uris": ["http://x/a.tgz"]}`), http.StatusOK)
	a, _ = f.app("/prod/web")
	if len(a.PortDefinitions) != 2 || len(a.Fetch) != 1 || !a.Fetch[0].Extract {
		t.Errorf("after PATCH with ports and uris: port definitions %v fetch %v", a.PortDefinitions, a.Fetch)
	}

	// PUT creates a missing app.
	rec = do(t, h, "PUT", "/v2/apps/prod/new", `{"cmd": "x"}`)
	expect[marathon.DeploymentResult](t, rec, http.StatusCreated)
	if got := rec.Header().Get("Location"); got != "http://example.com/v2/apps/prod/new" {
		t.Errorf("Location %q", got)
	}
	if a, ok := f.app("/prod/new"); !ok || a.Cmd != "x" {
		t.Errorf("PUT did not create /prod/new: %+v", a)
	}
	expectError(t, do(t, h, "PATCH", "/v2/apps/prod/other", `{"cmd": "x"}`), http.StatusNotFound, `{"message": "App '/prod/other' does not exist"}`)
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"cpus": -1}`), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/cpus", "errors": ["got -1.0, expected 0.001 or more"]}]}`)
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `[]`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/", "errors": ["error.expected.jsobject"]}]}`)
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"cpus": "x"}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/cpus", "errors": ["error.expected.jsnumber"]}]}`)

	// A version alone rolls back; with anything else it is refused.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/prod/web", `{"id": "/prod/web", "version": "`+orig.Version+`"}`), http.StatusOK)
	a, _ = f.app("/prod/web")
	if a.Cmd != "serve" || a.Instances != 2 || a.Version == orig.Version {
		t.Errorf("after rollback: cmd %q instances %d version %s", a.Cmd, a.Instances, a.Version)
	}
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"version": "`+orig.Version+`", "cmd": "x"}`), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/", "errors": ["The 'version' field may only be combined with the 'id' field."]}]}`)
	expectError(t, do(t, h, "PUT", "/v2/apps/prod/web", `{"version": "1999-01-01T00:00:00.000Z"}`), http.StatusNotFound,
		`{"message": "App '/prod/web' does not exist in version 1999-01-01T00:00:00.000Z"}`)
}

func TestUpdateApps(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/a", "cmd": "a"}`)
	h, _ := leading(t, f)
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps", `[{"id": "a", "instances": 3}, {"id": "/b", "cmd": "b"}]`), http.StatusOK)
	if a, _ := f.app("/a"); a.Instances != 3 || a.Cmd != "a" {
		t.Errorf("/a: instances %d cmd %q, want 3 and a", a.Instances, a.Cmd)
	}
	if _, ok := f.app("/b"); !ok {
		t.Error("bulk PUT did not create /b")
	}
	if n := len(f.deploys); n != 1 {
		t.Errorf("%d deploys, want 1 for the whole bulk update", n)
	}
	expectError(t, do(t, h, "PATCH", "/v2/apps", `[{"id": "/a", "instances": 1}, {"id": "/c", "cmd": "c"}]`), http.StatusNotFound,
		`{"message": "App '/c' does not exist"}`)
	if a, _ := f.app("/a"); a.Instances != 3 {
		t.Errorf("failed bulk PATCH changed /a")
	}
	expectError(t, do(t, h, "PUT", "/v2/apps", `[{"id": "/a"}, {"cmd": "x"}, 5]`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/(1)/id", "errors": ["error.path.missing"]}, {"path": "/(2)", "errors": ["error.expected.jsobject"]}]}`)
	expectError(t, do(t, h, "PUT", "/v2/apps", `{"id": "/a"}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/", "errors": ["error.expected.jsarray"]}]}`)
	rec := do(t, h, "PATCH", "/v2/apps/", `[{"id": "/a", "cpus": 0}]`)
	body := expect[marathon.Error](t, rec, http.StatusUnprocessableEntity)
	if len(body.Details) != 1 || body.Details[0].Path != "/(0)/cpus" {
		t.Errorf("details %v, want one at /(0)/cpus", body.Details)
	}
}

func TestDeleteAndRestartApp(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web", "cmd": "serve"}`)
	h, _ := leading(t, f)
	before, _ := f.app("/prod/web")
	expect[marathon.DeploymentResult](t, do(t, h, "POST", "/v2/apps/prod/web/restart?force=true", ""), http.StatusOK)
	after, _ := f.app("/prod/web")
	if d := f.deploys[len(f.deploys)-1]; !d.Force || !slices.Equal(d.Restart, []string{"/prod/web"}) {
		t.Errorf("restart deploy options %+v", d)
	}
	if after.Version == before.Version {
		t.Error("restart kept the version")
	}
	expectError(t, do(t, h, "POST", "/v2/apps/prod/nope/restart", ""), http.StatusNotFound, `{"message": "App '/prod/nope' does not exist"}`)
	expectError(t, do(t, h, "GET", "/v2/apps/prod/web/restart", ""), http.StatusMethodNotAllowed, `{"message": "HTTP 405 Method Not Allowed"}`)

	expect[marathon.DeploymentResult](t, do(t, h, "DELETE", "/v2/apps/prod/web", ""), http.StatusOK)
	if _, ok := f.app("/prod/web"); ok {
		t.Error("DELETE kept the app")
	}
	expectError(t, do(t, h, "DELETE", "/v2/apps/prod/web", ""), http.StatusNotFound, `{"message": "App '/prod/web' does not exist"}`)
}

func TestAppVersions(t *testing.T) {
	f := newFakeBackend()
	v1 := f.addApp(t, `{"id": "/web", "cmd": "one"}`)
	v2 := f.addApp(t, `{"id": "/web", "cmd": "two"}`)
	h, _ := leading(t, f)
	list := expect[marathon.VersionList](t, do(t, h, "GET", "/v2/apps/web/versions", ""), http.StatusOK)
	if !slices.Equal(list.Versions, []string{v2.Version, v1.Version}) {
		t.Errorf("versions %v, want %s and %s", list.Versions, v2.Version, v1.Version)
	}
	app := expect[marathon.App](t, do(t, h, "GET", "/v2/apps/web/versions/"+v1.Version, ""), http.StatusOK)
	if app.Cmd != "one" {
		t.Errorf("version %s has cmd %q, want one", v1.Version, app.Cmd)
	}
	expectError(t, do(t, h, "GET", "/v2/apps/web/versions/2000-01-01T00:00:00.000Z", ""), http.StatusNotFound,
		`{"message": "App '/web' does not exist in version 2000-01-01T00:00:00.000Z"}`)
	expectError(t, do(t, h, "GET", "/v2/apps/nope/versions", ""), http.StatusNotFound, `{"message": "App '/nope' does not exist"}`)
}

func TestDeployErrors(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/web", "cmd": "x"}`)
	h, lead := leading(t, f)

	f.deployErr = marathon.AppLocked("d1", "d2")
	expectError(t, do(t, h, "PUT", "/v2/apps/web", `{"instances": 2}`), http.StatusConflict,
		`{"message": "App is locked by one or more deployments.", "deployments": [{"id": "d1"}, {"id": "d2"}]}`)

	f.deployErr = marathon.NotValid([]marathon.ErrorDetail{{Path: "/apps(/web)/portDefinitions", Errors: []string{"no ports left"}}})
	expectError(t, do(t, h, "DELETE", "/v2/apps/web", ""), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/apps(/web)/portDefinitions", "errors": ["no ports left"]}]}`)

	f.deployErr = errors.New("etcd: context deadline exceeded")
	expectError(t, do(t, h, "DELETE", "/v2/apps/web", ""), http.StatusInternalServerError,
		`{"message": "etcd: context deadline exceeded"}`)

	f.onDeploy = func() { lead.setBackend(nil) } // leadership lost during the change
	expectError(t, do(t, h, "DELETE", "/v2/apps/web", ""), http.StatusServiceUnavailable,
		`{"message": "`+msgLostLeader+`"}`)
}
