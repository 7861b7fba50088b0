package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"corral/marathon"
)

// TestRefusedInput sends what Marathon refuses and checks that each is
// answered as Marathon answers it (status, message, the field in details)
// and that nothing was changed.
func TestRefusedInput(t *testing.T) {
	long := strings.Repeat("a", 299) // "/" and 299 letters: a 300-character id
	msgPortIndex := "Health check port indices must address an element of the ports array or container port mappings."
	for _, tc := range []struct {
		name, method, target, body string
		path, msg                  string // the one detail of the 422
	}{
		// An id that differs from the path.
		{"PUT with another id", "PUT", "/v2/apps/p/web", `{"id": "/other", "cmd": "x"}`,
			"/id", "does not equal /p/web"},
		{"full PUT with another id", "PUT", "/v2/apps/p/web?partialUpdate=false", `{"id": "/other", "cmd": "x"}`,
			"/id", "does not equal /p/web"},
		{"PUT creating with another id", "PUT", "/v2/apps/p/new", `{"id": "/other", "cmd": "x"}`,
			"/id", "does not equal /p/new"},
		{"PUT with a relative id", "PUT", "/v2/apps/p/web", `{"id": "web", "cmd": "x"}`,
			"/id", "does not equal /p/web"},
		{"rollback with another id", "PUT", "/v2/apps/p/web", `{"id": "/other", "version": "2024-01-01T00:00:01.000Z"}`,
			"/id", "does not equal /p/web"},

		// A health check port index beyond the app's ports, whatever the
		// check's protocol.
		{"MESOS_HTTP portIndex 5", "POST", "/v2/apps",
			`{"id": "/hc", "cmd": "x", "portDefinitions": [{"port": 0}], "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 5}]}`,
			"/healthChecks(0)", msgPortIndex},
		{"MESOS_TCP portIndex 1", "POST", "/v2/apps",
			`{"id": "/hc", "cmd": "x", "healthChecks": [{"protocol": "MESOS_TCP", "portIndex": 1}]}`,
			"/healthChecks(0)", msgPortIndex},
		{"MESOS_HTTPS without ports", "POST", "/v2/apps",
			`{"id": "/hc", "cmd": "x", "portDefinitions": [], "healthChecks": [{"protocol": "MESOS_HTTPS"}]}`,
			"/healthChecks(0)", msgPortIndex},
		{"PATCH MESOS_HTTP portIndex 5", "PATCH", "/v2/apps/p/web",
			`{"healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 5}]}`,
			"/healthChecks(0)", msgPortIndex},

		// An id that is both an app and a group.
		{"app below an app", "POST", "/v2/apps", `{"id": "/p/web/sub", "cmd": "x"}`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},
		{"app on a group", "POST", "/v2/apps", `{"id": "/p", "cmd": "x"}`,
			"/", "Groups and Applications may not have the same identifier: /p"},
		{"PUT creating an app below an app", "PUT", "/v2/apps/p/web/sub", `{"cmd": "x"}`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},
		{"bulk PUT of an app below an app", "PUT", "/v2/apps", `[{"id": "/p/web/sub", "cmd": "x"}]`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},
		{"group update with an app below an app", "PUT", "/v2/groups/p/web", `{"apps": [{"id": "sub", "cmd": "x"}]}`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},
		{"group with an app and a group of one id", "POST", "/v2/groups",
			`{"id": "/g", "apps": [{"id": "a", "cmd": "x"}], "groups": [{"id": "a"}]}`,
			"/", "Groups and Applications may not have the same identifier: /g/a"},
		{"group update on an app", "PUT", "/v2/groups/p/web", `{}`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},
		{"dry run of a group update on an app", "PUT", "/v2/groups/p/web?dryRun=true", `{}`,
			"/", "Groups and Applications may not have the same identifier: /p/web"},

		// Ids too long for an agent to launch.
		{"300-character id", "POST", "/v2/apps", `{"id": "/` + long + `", "cmd": "x"}`,
			"/id", "got 300 characters, expected 128 or less"},
		{"300-character id by PUT", "PUT", "/v2/apps/" + long, `{"cmd": "x"}`,
			"/id", "got 300 characters, expected 128 or less"},
		{"300-character id in a group", "POST", "/v2/groups", `{"id": "/g", "apps": [{"id": "` + long[3:] + `", "cmd": "x"}]}`,
			"/apps(0)/id", "got 299 characters, expected 128 or less"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBackend()
			f.addApp(t, `{"id": "/p/web", "cmd": "serve", "instances": 2}`)
			h, _ := leading(t, f)
			before := rootJSON(t, f)
			b, _ := json.Marshal(tc.path)
			m, _ := json.Marshal(tc.msg)
			want := `{"message": "Object is not valid", "details": [{"path": ` + string(b) + `, "errors": [` + string(m) + `]}]}`
			expectError(t, do(t, h, tc.method, tc.target, tc.body), http.StatusUnprocessableEntity, want)
			if after := rootJSON(t, f); after != before {
				t.Errorf("%s %s changed the apps:\n%s\nwant\n%s", tc.method, tc.target, after, before)
			}
		})
	}
}

// rootJSON is the fake backend's apps and groups as JSON, to compare.
func rootJSON(t *testing.T, f *fakeBackend) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(struct {
		Apps   any
		Groups any
	}{f.root.Apps, f.root.Groups})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAcceptedInputWorks checks inputs near the refused ones that Marathon
// accepts, and what they do.
func TestAcceptedInputWorks(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/p/web", "cmd": "serve", "instances": 2}`)
	f.addApp(t, `{"id": "/q/app", "cmd": "serve"}`)
	f.addApp(t, `{"id": "/q/app/x", "cmd": "serve"}`) // an app and a group at once, stored before they were refused
	h, _ := leading(t, f)

	// The path's id given again, absolute or with a trailing slash, is fine;
	// PATCH ignores the body's id as the RAML says.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/p/web", `{"id": "/p/web", "instances": 3}`), http.StatusOK)
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/p/web", `{"id": "/p/web/", "instances": 3}`), http.StatusOK)
	expect[marathon.DeploymentResult](t, do(t, h, "PATCH", "/v2/apps/p/web", `{"id": "/ignored", "instances": 3}`), http.StatusOK)
	if _, ok := f.app("/ignored"); ok {
		t.Error("PATCH created the body's id")
	}

	// instances: null is no value: the default on create, unchanged on update.
	app := expect[marathon.AppInfo](t, do(t, h, "POST", "/v2/apps", `{"id": "/n", "cmd": "x", "instances": null}`), http.StatusCreated)
	if app.Instances != 1 {
		t.Errorf("POST with instances null: %d instances, want the default 1", app.Instances)
	}
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/p/web", `{"instances": null, "cmd": "serve2"}`), http.StatusOK)
	if a, _ := f.app("/p/web"); a.Instances != 3 || a.Cmd != "serve2" {
		t.Errorf("PUT with instances null: %d instances, cmd %q; want 3 kept and serve2", a.Instances, a.Cmd)
	}

	// A Mesos check on the app's one port, and a 128-character id.
	expect[marathon.AppInfo](t, do(t, h, "POST", "/v2/apps",
		`{"id": "/hc", "cmd": "x", "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0}, {"protocol": "COMMAND", "command": {"value": "true"}}]}`), http.StatusCreated)
	expect[marathon.AppInfo](t, do(t, h, "POST", "/v2/apps", `{"id": "/`+strings.Repeat("b", 127)+`", "cmd": "x"}`), http.StatusCreated)

	// Changes elsewhere go through although /q/app is both; DELETE of the
	// group /q/app removes what is below it, never the app /q/app.
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/apps/q/app", `{"instances": 2}`), http.StatusOK)
	expect[marathon.DeploymentResult](t, do(t, h, "PUT", "/v2/groups/q/app", `{"scaleBy": 3}`), http.StatusOK)
	if a, _ := f.app("/q/app"); a.Instances != 2 {
		t.Errorf("scaling the group /q/app scaled the app /q/app to %d instances, want 2", a.Instances)
	}
	if a, _ := f.app("/q/app/x"); a.Instances != 3 {
		t.Errorf("scaling the group /q/app left /q/app/x at %d instances, want 3", a.Instances)
	}
	expect[marathon.DeploymentResult](t, do(t, h, "DELETE", "/v2/groups/q/app", ""), http.StatusOK)
	if _, ok := f.app("/q/app"); !ok {
		t.Error("DELETE /v2/groups/q/app deleted the app /q/app")
	}
	if _, ok := f.app("/q/app/x"); ok {
		t.Error("DELETE /v2/groups/q/app kept /q/app/x")
	}
}
