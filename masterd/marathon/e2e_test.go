package marathon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
)

// call sends a JSON request to the Marathon API and returns the status and
// body.
func call(t testing.TB, c *marathontest.Cluster, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Marathon+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// webApp serves its version string over HTTP on $PORT0 with busybox httpd,
// health-checked by the agent.
func webApp(version string, instances int) map[string]any {
	return map[string]any{
		"id":              "/web",
		"cmd":             fmt.Sprintf("echo %s > index.html && exec busybox httpd -f -p $PORT0 -h .", version),
		"instances":       instances,
		"cpus":            0.1,
		"mem":             32,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
		"healthChecks": []map[string]any{{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
			"delaySeconds": 0, "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}},
		"readinessChecks": []map[string]any{{"name": "served", "protocol": "HTTP", "path": "/index.html", "portName": "http",
			"intervalSeconds": 2, "timeoutSeconds": 1, "httpStatusCodesForReady": []int{200}}},
		"upgradeStrategy":            map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
		"taskKillGracePeriodSeconds": 1,
		"backoffSeconds":             1,
	}
}

// get fetches http://127.0.0.1:port/ and returns the body.
func get(port int) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// settled waits until the app runs n healthy instances of the given
// version, every one answering with it, and no deployment is left.
func settled(t *testing.T, c *marathontest.Cluster, n int, version string) marathon.AppInfo {
	t.Helper()
	var app marathon.AppInfo
	c.WaitFor(60*time.Second, fmt.Sprintf("%d healthy instances serving %s", n, version), func() bool {
		a, ok := c.App("/web")
		if !ok || len(a.Deployments) > 0 || a.Counts == nil || a.Counts.Healthy != n || len(a.Tasks) != n {
			return false
		}
		for _, task := range a.Tasks {
			if task.State != "TASK_RUNNING" || len(task.Ports) != 1 {
				return false
			}
			if body, err := get(task.Ports[0]); err != nil || body != version {
				return false
			}
		}
		app = a
		return true
	})
	return app
}

// healthyOverTime replays the event stream: the number of healthy tasks of
// /web after each event, from the first time it reached from.
func healthyOverTime(t *testing.T, evs []marathontest.Event, since time.Time) []int {
	healthy := map[string]bool{}
	var out []int
	for _, e := range evs {
		switch e.Type {
		case marathon.EventHealthStatusChanged:
			var v marathon.HealthStatusChangedEvent
			json.Unmarshal(e.Data, &v)
			if v.AppID == "/web" {
				if v.Alive {
					healthy[v.TaskID] = true
				} else {
					delete(healthy, v.TaskID)
				}
			}
		case marathon.EventStatusUpdate:
			var v marathon.StatusUpdateEvent
			json.Unmarshal(e.Data, &v)
			if v.TaskStatus != "TASK_RUNNING" && v.TaskStatus != "TASK_STAGING" && v.TaskStatus != "TASK_STARTING" {
				delete(healthy, v.TaskID) // killing or ended: no longer capacity
			}
		default:
			continue
		}
		if !e.At.Before(since) {
			out = append(out, len(healthy))
		}
	}
	return out
}

func TestAppLifecycleEndToEnd(t *testing.T) {
	c := marathontest.Start(t, marathontest.Options{})
	events := c.Events()

	// Create: 3 instances on agent ports, each answering HTTP.
	status, body := call(t, c, http.MethodPost, "/v2/apps", webApp("v1", 3))
	if status != http.StatusCreated {
		t.Fatalf("POST /v2/apps: %d %s", status, body)
	}
	start := time.Now()
	stage := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	app := settled(t, c, 3, "v1")
	stage("3 instances healthy")
	if len(app.ReadinessCheckResults) != 3 {
		t.Errorf("readinessCheckResults %+v, want one ready result per task", app.ReadinessCheckResults)
	}
	for _, r := range app.ReadinessCheckResults {
		if !r.Ready || r.Name != "served" {
			t.Errorf("readiness result %+v, want ready", r)
		}
	}
	for _, task := range app.Tasks {
		if p := task.Ports[0]; p < 31000 || p > 32000 {
			t.Errorf("task %s on port %d, want one in [31000, 32000]", task.ID, p)
		}
		if len(task.ServicePorts) != 1 || task.ServicePorts[0] < 10000 || task.ServicePorts[0] > 20000 {
			t.Errorf("task %s service ports %v, want one in [10000, 20000]", task.ID, task.ServicePorts)
		}
	}
	servicePort := app.PortDefinitions[0].Port

	// Rolling upgrade: healthy capacity never drops below
	// ceil(3 × minimumHealthCapacity 0.5) = 2.
	upgradeStart := time.Now()
	status, body = call(t, c, http.MethodPut, "/v2/apps/web", webApp("v2", 3))
	if status != http.StatusOK {
		t.Fatalf("PUT /v2/apps/web: %d %s", status, body)
	}
	app = settled(t, c, 3, "v2")
	stage("rolling upgrade done")
	if app.PortDefinitions[0].Port != servicePort {
		t.Errorf("service port moved from %d to %d on update", servicePort, app.PortDefinitions[0].Port)
	}
	minHealthy := int(math.Ceil(3 * 0.5))
	levels := healthyOverTime(t, events(), upgradeStart)
	if len(levels) == 0 {
		t.Fatal("no health or status events during the upgrade")
	}
	for i, n := range levels {
		if n < minHealthy {
			t.Fatalf("healthy tasks fell to %d (event %d of the upgrade), below minimumHealthCapacity's %d: %v", n, i, minHealthy, levels)
		}
	}
	if !seen(events(), marathon.EventDeploymentSuccess) {
		t.Error("no deployment_success event after the upgrade")
	}

	// Scale 3 → 5 → 1.
	for _, n := range []int{5, 1} {
		status, body = call(t, c, http.MethodPut, "/v2/apps/web", webApp("v2", n))
		if status != http.StatusOK {
			t.Fatalf("PUT instances %d: %d %s", n, status, body)
		}
		app = settled(t, c, n, "v2")
		stage(fmt.Sprintf("scaled to %d", n))
	}

	// A killed task is replaced.
	killed := app.Tasks[0].ID
	status, body = call(t, c, http.MethodDelete, "/v2/apps/web/tasks/"+killed, nil)
	if status != http.StatusOK {
		t.Fatalf("DELETE task: %d %s", status, body)
	}
	c.WaitFor(60*time.Second, "a replacement task", func() bool {
		a, ok := c.App("/web")
		return ok && len(a.Tasks) == 1 && a.Tasks[0].ID != killed && a.Counts.Healthy == 1
	})
	stage("killed task replaced")

	// Delete: every task ends and app_terminated_event arrives.
	status, body = call(t, c, http.MethodDelete, "/v2/apps/web", nil)
	if status != http.StatusOK {
		t.Fatalf("DELETE /v2/apps/web: %d %s", status, body)
	}
	c.WaitFor(30*time.Second, "app_terminated_event", func() bool { return seen(events(), marathon.EventAppTerminated) })
	if status, _ := call(t, c, http.MethodGet, "/v2/apps/web", nil); status != http.StatusNotFound {
		t.Errorf("GET a deleted app: %d, want 404", status)
	}
	c.WaitFor(30*time.Second, "no tasks", func() bool {
		var l marathon.TaskList
		_, b := call(t, c, http.MethodGet, "/v2/tasks", nil)
		return json.Unmarshal(b, &l) == nil && len(l.Tasks) == 0
	})
}

func seen(evs []marathontest.Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestGroupDependenciesOrdered deploys a group whose web app depends on its
// db app: web's tasks start only once db runs.
func TestGroupDependenciesOrdered(t *testing.T) {
	c := marathontest.Start(t, marathontest.Options{})
	events := c.Events()
	group := map[string]any{
		"id": "/shop",
		"apps": []map[string]any{
			{"id": "/shop/web", "cmd": "exec sleep 3600", "instances": 2, "cpus": 0.1, "mem": 16, "dependencies": []string{"/shop/db"}},
			{"id": "/shop/db", "cmd": "sleep 1 && exec sleep 3600", "instances": 1, "cpus": 0.1, "mem": 16},
		},
	}
	status, body := call(t, c, http.MethodPost, "/v2/groups", group)
	if status != http.StatusCreated {
		t.Fatalf("POST /v2/groups: %d %s", status, body)
	}
	c.WaitFor(60*time.Second, "both apps running", func() bool {
		web, ok1 := c.App("/shop/web")
		db, ok2 := c.App("/shop/db")
		return ok1 && ok2 && web.Counts.Running == 2 && db.Counts.Running == 1 && len(web.Deployments) == 0
	})
	dbRunning, webFirst := -1, -1
	for i, e := range events() {
		if e.Type != marathon.EventStatusUpdate {
			continue
		}
		var v marathon.StatusUpdateEvent
		json.Unmarshal(e.Data, &v)
		if v.AppID == "/shop/db" && v.TaskStatus == "TASK_RUNNING" && dbRunning < 0 {
			dbRunning = i
		}
		if v.AppID == "/shop/web" && webFirst < 0 {
			webFirst = i
		}
	}
	if dbRunning < 0 || webFirst < 0 || webFirst < dbRunning {
		t.Fatalf("event order: db first running at %d, web's first update at %d; want web after db", dbRunning, webFirst)
	}
}
