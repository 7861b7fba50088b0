package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// tree is a group as the tests compare it: IDs only.
type tree struct {
	ID     string  `json:"id"`
	Apps   []appID `json:"apps"`
	Groups []tree  `json:"groups"`
}

type appID struct {
	ID    string          `json:"id"`
	Tasks []marathon.Task `json:"tasks"`
}

func (g tree) String() string {
	b, _ := json.Marshal(g)
	return string(b)
}

func groupFixture(t *testing.T) *fakeBackend {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/a", "cmd": "a"}`)
	f.addApp(t, `{"id": "/prod/web", "cmd": "web", "instances": 3}`)
	f.addApp(t, `{"id": "/prod/db/pg", "cmd": "pg"}`)
	f.root.Groups["/empty"] = model.Group{ID: "/empty", Dependencies: []string{"/prod"}}
	f.setTasks("/prod/web", webTask("prod_web.1"))
	return f
}

func TestGetGroups(t *testing.T) {
	f := groupFixture(t)
	h, _ := leading(t, f)
	got := expect[tree](t, do(t, h, "GET", "/v2/groups", ""), http.StatusOK)
	want := `{"id":"/","apps":[{"id":"/a","tasks":null}],"groups":[` +
		`{"id":"/empty","apps":[],"groups":[]},` +
		`{"id":"/prod","apps":[{"id":"/prod/web","tasks":null}],"groups":[{"id":"/prod/db","apps":[{"id":"/prod/db/pg","tasks":null}],"groups":[]}]}]}`
	if got.String() != want {
		t.Errorf("GET /v2/groups:\n%s\nwant\n%s", got, want)
	}

	raw := expect[map[string]any](t, do(t, h, "GET", "/v2/groups", ""), http.StatusOK)
	for _, k := range []string{"id", "apps", "groups", "pods", "dependencies", "version"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET /v2/groups: %s missing", k)
		}
	}
	empty := raw["groups"].([]any)[0].(map[string]any)
	if deps := empty["dependencies"].([]any); len(deps) != 1 || deps[0] != "/prod" {
		t.Errorf("/empty dependencies %v, want [/prod]", deps)
	}

	raw = expect[map[string]any](t, do(t, h, "GET", "/v2/groups?embed=group.apps", ""), http.StatusOK)
	if _, ok := raw["groups"]; ok {
		t.Error("embed=group.apps shows groups")
	}
	if _, ok := raw["apps"]; !ok {
		t.Error("embed=group.apps hides apps")
	}

	got = expect[tree](t, do(t, h, "GET", "/v2/groups/prod?embed=group.apps&embed=group.groups&embed=group.apps.tasks", ""), http.StatusOK)
	if got.ID != "/prod" || len(got.Apps) != 1 || len(got.Apps[0].Tasks) != 1 || len(got.Groups) != 1 {
		t.Errorf("GET /v2/groups/prod with tasks: %s", got)
	}
	app := expect[map[string]any](t, do(t, h, "GET", "/v2/groups/prod/db", ""), http.StatusOK)["apps"].([]any)[0].(map[string]any)
	if _, ok := app["tasks"]; ok {
		t.Error("apps of a group carry tasks without group.apps.tasks")
	}
	expectError(t, do(t, h, "GET", "/v2/groups/nope", ""), http.StatusNotFound, `{"message": "Group '/nope' does not exist"}`)

	empty2 := newFakeBackend()
	h2, _ := leading(t, empty2)
	if got := expect[tree](t, do(t, h2, "GET", "/v2/groups/", ""), http.StatusOK); got.String() != `{"id":"/","apps":[],"groups":[]}` {
		t.Errorf("GET /v2/groups of an empty root: %s", got)
	}
}

func TestCreateGroup(t *testing.T) {
	f := groupFixture(t)
	h, _ := leading(t, f)
	body := `{"id": "shop", "dependencies": ["prod"], "apps": [{"id": "web", "cmd": "w"}],
		"groups": [{"id": "db", "apps": [{"id": "/shop/db/pg", "cmd": "pg"}]}, {"id": "cache"}]}`
	rec := do(t, h, "POST", "/v2/groups", body)
	expect[marathon.DeploymentResult](t, rec, http.StatusCreated)
	if got := rec.Header().Get("Location"); got != "http://example.com/v2/groups/shop" {
		t.Errorf("Location %q", got)
	}
	for _, id := range []string{"/shop/web", "/shop/db/pg"} {
		if _, ok := f.app(id); !ok {
			t.Errorf("%s not created", id)
		}
	}
	if g := f.root.Groups["/shop"]; !slices.Equal(g.Dependencies, []string{"/prod"}) {
		t.Errorf("/shop record %+v, want dependencies [/prod]", g)
	}
	if _, ok := f.root.Groups["/shop/cache"]; !ok {
		t.Error("empty group /shop/cache not recorded")
	}

	expectError(t, do(t, h, "POST", "/v2/groups/shop", `{}`), http.StatusConflict,
		`{"message": "Group /shop is already created. Use PUT to change this group."}`)
	expectError(t, do(t, h, "POST", "/v2/groups", `{"id": "/a"}`), http.StatusConflict,
		`{"message": "An app with the path /a already exists."}`)
	expectError(t, do(t, h, "POST", "/v2/groups/other", `{"apps": [{"id": "/app", "cmd": "x"}]}`), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/apps(0)/id", "errors": ["identifier /app is not child of /other. Hint: use relative paths."]}]}`)
	expectError(t, do(t, h, "POST", "/v2/groups/other", `{"groups": [{"id": "x", "apps": [{"id": 5}]}], "scaleBy": "2"}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/groups(0)/apps(0)/id", "errors": ["error.expected.jsstring"]}, {"path": "/scaleBy", "errors": ["error.expected.jsnumber"]}]}`)
	rec = do(t, h, "POST", "/v2/groups/other", `{"apps": [{"id": "x", "cmd": "x", "cpus": 0}]}`)
	if e := expect[marathon.Error](t, rec, http.StatusUnprocessableEntity); len(e.Details) != 1 || e.Details[0].Path != "/apps(0)/cpus" {
		t.Errorf("details %v, want one at /apps(0)/cpus", e.Details)
	}
}

func TestUpdateGroup(t *testing.T) {
	f := groupFixture(t)
	f.addApp(t, `{"id": "/prod/api", "cmd": "api"}`)
	h, _ := leading(t, f)

	// Apps given replace the group's direct apps; subgroups stay.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/prod", `{"apps": [{"id": "web", "cmd": "web2"}]}`), http.StatusOK)
	if a, _ := f.app("/prod/web"); a.Cmd != "web2" {
		t.Errorf("/prod/web cmd %q, want web2", a.Cmd)
	}
	if _, ok := f.app("/prod/api"); ok {
		t.Error("/prod/api kept, though the update's apps leave it out")
	}
	if _, ok := f.app("/prod/db/pg"); !ok {
		t.Error("/prod/db/pg removed, though the update gives no groups")
	}

	// scaleBy scales every app below, rounding up.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/prod", `{"scaleBy": 1.5}`), http.StatusOK)
	web, _ := f.app("/prod/web")
	pg, _ := f.app("/prod/db/pg")
	if web.Instances != 2 || pg.Instances != 2 { // the full PUT above reset web to 1
		t.Errorf("after scaleBy 1.5: web %d, pg %d; want 2 and 2", web.Instances, pg.Instances)
	}

	// dryRun shows the plan and changes nothing.
	deploys := len(f.deploys)
	plan := expect[struct {
		Original tree
		Target   tree
		Steps    []marathon.DeploymentStep
	}](t, do(t, h, "PUT", "/v2/groups/prod?dryRun=true", `{"groups": []}`), http.StatusOK)
	if len(f.deploys) != deploys {
		t.Error("dryRun deployed")
	}
	if len(plan.Steps) != 1 || plan.Steps[0].Actions[0] != (marathon.DeploymentAction{Action: marathon.ActionStopApplication, App: "/prod/db/pg"}) {
		t.Errorf("dryRun steps %+v, want stopping /prod/db/pg", plan.Steps)
	}

	// groups given replace the subgroups.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/prod", `{"groups": [{"id": "cache", "apps": [{"id": "redis", "cmd": "r"}]}]}`), http.StatusOK)
	if _, ok := f.app("/prod/db/pg"); ok {
		t.Error("/prod/db/pg kept, though the update's groups leave /prod/db out")
	}
	if _, ok := f.app("/prod/cache/redis"); !ok {
		t.Error("/prod/cache/redis not created")
	}

	// version rolls the group's apps back.
	web, _ = f.app("/prod/web")
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/prod", `{"version": "`+web.Version+`"}`), http.StatusOK)
	if a, _ := f.app("/prod/web"); a.Instances != 2 || a.Cmd != "web2" {
		t.Errorf("after rollback: /prod/web %d × %q", a.Instances, a.Cmd)
	}
	if _, ok := f.app("/prod/cache/redis"); ok {
		t.Error("rollback kept /prod/cache/redis, which did not exist then")
	}

	// PUT creates a missing group.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/new", `{"apps": [{"id": "x", "cmd": "x"}]}`), http.StatusOK)
	if _, ok := f.app("/new/x"); !ok {
		t.Error("PUT /v2/groups/new did not create /new/x")
	}
	expectError(t, do(t, h, "PUT", "/v2/groups/prod", `{"scaleBy": -1}`), http.StatusUnprocessableEntity,
		`{"message": "Object is not valid", "details": [{"path": "/scaleBy", "errors": ["got -1.0, expected 0.0 or more"]}]}`)
}

func TestDeleteGroup(t *testing.T) {
	f := groupFixture(t)
	h, _ := leading(t, f)
	expect[marathon.DeploymentResult](t, do(t, h, "DELETE", "/v2/groups/prod?force=true", ""), http.StatusOK)
	if !f.deploys[len(f.deploys)-1].Force {
		t.Error("force not passed on")
	}
	for _, id := range []string{"/prod/web", "/prod/db/pg"} {
		if _, ok := f.app(id); ok {
			t.Errorf("%s kept", id)
		}
	}
	if _, ok := f.app("/a"); !ok {
		t.Error("/a removed with /prod")
	}
	expectError(t, do(t, h, "DELETE", "/v2/groups/prod", ""), http.StatusNotFound, `{"message": "Group '/prod' does not exist"}`)
	expect[marathon.DeploymentResult](t, do(t, h, "DELETE", "/v2/groups", ""), http.StatusOK)
	if len(f.root.Apps) != 0 || len(f.root.Groups) != 0 {
		t.Errorf("DELETE /v2/groups left %v and %v", f.root.Apps, f.root.Groups)
	}
}

func TestGroupVersions(t *testing.T) {
	f := newFakeBackend()
	v1 := f.addApp(t, `{"id": "/g/a", "cmd": "one"}`)
	v2 := f.addApp(t, `{"id": "/g/a", "cmd": "two"}`)
	h, _ := leading(t, f)
	vs := expect[[]string](t, do(t, h, "GET", "/v2/groups/g/versions", ""), http.StatusOK)
	if !slices.Equal(vs, []string{v2.Version, v1.Version}) {
		t.Errorf("versions %v, want %s, %s", vs, v2.Version, v1.Version)
	}
	got := expect[struct {
		Apps []marathon.App
	}](t, do(t, h, "GET", "/v2/groups/g/versions/"+v1.Version, ""), http.StatusOK)
	if len(got.Apps) != 1 || got.Apps[0].Cmd != "one" {
		t.Errorf("group at %s: %+v", v1.Version, got.Apps)
	}
	expectError(t, do(t, h, "DELETE", "/v2/groups/g/versions", ""), http.StatusMethodNotAllowed, `{"message": "HTTP 405 Method Not Allowed"}`)
}
