package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"corral/marathon"
)

// taskFixture deploys three apps with tasks: /prod/web on two ports
// (two running tasks and a staging one), /worker without ports and /br on
// the bridge.
func taskFixture(t *testing.T) *fakeBackend {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web", "cmd": "serve", "portDefinitions": [{"port": 10001}, {"port": 10002}]}`)
	f.addApp(t, `{"id": "/worker", "cmd": "work", "portDefinitions": []}`)
	f.addApp(t, `{"id": "/br", "networks": [{"mode": "container/bridge"}], "container": {"docker": {"image": "nginx"},
		"portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 10010}]}}`)
	f.setTasks("/prod/web",
		marathon.Task{ID: "prod_web.1", AppID: "/prod/web", Host: "a1", Ports: []int{31001, 31002}, State: marathon.TaskRunning},
		marathon.Task{ID: "prod_web.2", AppID: "/prod/web", Host: "a2", Ports: []int{31003, 31004}, State: marathon.TaskRunning},
		marathon.Task{ID: "prod_web.3", AppID: "/prod/web", Host: "a2", Ports: []int{31005, 31006}, State: marathon.TaskStaging})
	f.setTasks("/worker",
		marathon.Task{ID: "worker.1", AppID: "/worker", Host: "a1", State: marathon.TaskRunning},
		marathon.Task{ID: "worker.2", AppID: "/worker", Host: "a3", State: marathon.TaskRunning})
	f.setTasks("/br", marathon.Task{ID: "br.1", AppID: "/br", Host: "a3", Ports: []int{31010}, State: marathon.TaskRunning})
	return f
}

func TestListTasks(t *testing.T) {
	f := taskFixture(t)
	h, _ := leading(t, f)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"br.1", "prod_web.1", "prod_web.2", "prod_web.3", "worker.1", "worker.2"}},
		{"?status=running", []string{"br.1", "prod_web.1", "prod_web.2", "worker.1", "worker.2"}},
		{"?status=staging", []string{"prod_web.3"}},
		{"?status[]=staging&status[]=running", []string{"br.1", "prod_web.1", "prod_web.2", "prod_web.3", "worker.1", "worker.2"}},
		{"?status=unknown", []string{"br.1", "prod_web.1", "prod_web.2", "prod_web.3", "worker.1", "worker.2"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			body := expect[marathon.TaskList](t, do(t, h, "GET", "/v2/tasks"+tc.query, "", "Accept: application/json"), http.StatusOK)
			var got []string
			for _, task := range body.Tasks {
				got = append(got, task.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("tasks %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTasksText(t *testing.T) {
	f := taskFixture(t)
	h, _ := leading(t, f)
	rec := do(t, h, "GET", "/v2/tasks", "", "Accept: text/plain")
	want := "br\t10010\ta3:31010\t\n" +
		"prod_web\t10001\ta1:31001\ta2:31003\t\n" +
		"prod_web\t10002\ta1:31002\ta2:31004\t\n" +
		"worker\t \ta1 a3 \n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("GET /v2/tasks as text: %d %q, want %q", rec.Code, rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	rec = do(t, h, "GET", "/v2/apps/prod/web/tasks", "", "Accept: text/plain")
	if want := "prod_web\t10001\ta1:31001\ta2:31003\t\nprod_web\t10002\ta1:31002\ta2:31004\t\n"; rec.Body.String() != want {
		t.Errorf("GET /v2/apps/prod/web/tasks as text: %q, want %q", rec.Body, want)
	}
	body := expect[marathon.TaskList](t, do(t, h, "GET", "/v2/apps/prod/web/tasks", ""), http.StatusOK)
	if len(body.Tasks) != 3 {
		t.Errorf("GET /v2/apps/prod/web/tasks: %d tasks, want 3", len(body.Tasks))
	}
	body = expect[marathon.TaskList](t, do(t, h, "GET", "/v2/apps/prod/*/tasks", ""), http.StatusOK)
	if len(body.Tasks) != 3 {
		t.Errorf("GET /v2/apps/prod/*/tasks: %d tasks, want 3", len(body.Tasks))
	}
	expectError(t, do(t, h, "GET", "/v2/apps/nope/tasks", "", "Accept: text/plain"), http.StatusNotFound, `{"message": "App '/nope' does not exist"}`)
	expectError(t, do(t, h, "GET", "/v2/apps/nope/*/tasks", ""), http.StatusNotFound, `{"message": "Group '/nope' does not exist"}`)
	single := expect[marathon.TaskSingle](t, do(t, h, "GET", "/v2/apps/prod/web/tasks/prod_web.2", ""), http.StatusOK)
	if single.Task.ID != "prod_web.2" {
		t.Errorf("GET one task: %+v", single.Task)
	}
}

func TestWantsText(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"text/plain", true},
		{"text/*", true},
		{"text/plain, application/json", false},
		{"application/json;q=0.5, text/plain", true},
		{"text/plain;q=0.1, */*", false},
		{"text/html", false},
	} {
		r := httptest.NewRequest("GET", "/v2/tasks", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := wantsText(r); got != tc.want {
			t.Errorf("wantsText(Accept: %q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestKillTasks(t *testing.T) {
	f := taskFixture(t)
	h, _ := leading(t, f)

	body := expect[marathon.TaskList](t, do(t, h, "DELETE", "/v2/apps/prod/web/tasks?host=a2&wipe=true", ""), http.StatusOK)
	if len(body.Tasks) != 2 || !slices.Equal(f.killedIDs[0], []string{"prod_web.2", "prod_web.3"}) || !f.kills[0].Wipe {
		t.Errorf("killed %v (asked %v, %+v), want the two tasks on a2, wiped", body.Tasks, f.killedIDs[0], f.kills[0])
	}
	expect[marathon.TaskList](t, do(t, h, "DELETE", "/v2/apps/prod/web/tasks?host=*", ""), http.StatusOK)
	if got := f.killedIDs[1]; len(got) != 3 {
		t.Errorf("host=* asked to kill %v, want all three", got)
	}

	rec := do(t, h, "DELETE", "/v2/apps/prod/web/tasks?scale=true&force=true", "")
	res := expect[marathon.DeploymentResult](t, rec, http.StatusOK)
	if res.DeploymentID == "" || rec.Header().Get(marathon.DeploymentHeader) != res.DeploymentID || !f.kills[2].Force || !f.kills[2].Scale {
		t.Errorf("scale: result %+v, options %+v", res, f.kills[2])
	}

	expectError(t, do(t, h, "DELETE", "/v2/apps/prod/web/tasks?scale=true&wipe=true", ""), http.StatusBadRequest,
		`{"message": "You cannot use scale and wipe at the same time."}`)
	expectError(t, do(t, h, "DELETE", "/v2/apps/nope/tasks", ""), http.StatusNotFound, `{"message": "App '/nope' does not exist"}`)

	one := expect[marathon.TaskSingle](t, do(t, h, "DELETE", "/v2/apps/prod/web/tasks/prod_web.1", ""), http.StatusOK)
	if one.Task.ID != "prod_web.1" {
		t.Errorf("killed %+v, want prod_web.1", one.Task)
	}
	expectError(t, do(t, h, "DELETE", "/v2/apps/prod/web/tasks/worker.1", ""), http.StatusNotFound, `{"message": "Task 'worker.1' does not exist"}`)

	list := expect[marathon.TaskList](t, do(t, h, "POST", "/v2/tasks/delete", `{"ids": ["worker.1", "br.1", "gone.1"]}`), http.StatusOK)
	if len(list.Tasks) != 2 {
		t.Errorf("POST /v2/tasks/delete killed %v, want worker.1 and br.1", list.Tasks)
	}
	expectError(t, do(t, h, "POST", "/v2/tasks/delete", `{"ids": ["nodots"]}`), http.StatusBadRequest, `{"message": "Invalid task id 'nodots'."}`)
	expectError(t, do(t, h, "POST", "/v2/tasks/delete", `{"ids": [1]}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/ids(0)", "errors": ["error.expected.jsstring"]}]}`)
	expectError(t, do(t, h, "POST", "/v2/tasks/delete", `{}`), http.StatusBadRequest,
		`{"message": "Invalid JSON", "details": [{"path": "/ids", "errors": ["error.path.missing"]}]}`)
	res = expect[marathon.DeploymentResult](t, do(t, h, "POST", "/v2/tasks/delete?scale=true", `{"ids": ["gone.1"]}`), http.StatusOK)
	if res.DeploymentID != "" || res.Version == "" {
		t.Errorf("scaling with nothing to kill: %+v, want no deployment and the current version", res)
	}
}
