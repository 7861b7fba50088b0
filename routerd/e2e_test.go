package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/masterd/state/statetest"
	"corral/routerd/admin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	marathontest.RemoveBinaries()
	os.Exit(code)
}

// env is a real masterd, agentd and routerd on loopback.
type env struct {
	*marathontest.Cluster
	t     testing.TB
	edge  string // host:port of the HTTP edge
	admin string // http://host:port of the admin endpoints
}

func newEnv(t *testing.T) *env {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (apt-get install busybox-static)")
	}
	return startRouterOn(t, marathontest.Start(t, marathontest.Options{}))
}

// startRouterOn starts routerd against the cluster, on loopback.
func startRouterOn(t testing.TB, c *marathontest.Cluster) *env {
	e := &env{Cluster: c, t: t}
	e.edge = "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t))
	e.admin = "http://127.0.0.1:" + strconv.Itoa(statetest.FreePort(t))
	c.StartRouter("--service-bind", "127.0.0.1", "--http-listen", e.edge, "--https-listen", "",
		"--admin-listen", strings.TrimPrefix(e.admin, "http://"), "--dns-listen", "", "--dns-http-listen", "")
	c.WaitFor(20*time.Second, "routerd's admin endpoints", func() bool {
		resp, err := http.Get(e.admin + "/_router/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

func (e *env) call(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.Marathon+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) mustCall(method, path string, body any) []byte {
	e.t.Helper()
	code, b := e.call(method, path, body)
	if code >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	return b
}

// httpdApp serves its task ID on $PORT0 with busybox httpd. It ignores
// SIGTERM, so a task being killed keeps answering through its grace period:
// only the router can keep clients away from it.
func httpdApp(id string, instances int, labels map[string]string) map[string]any {
	return map[string]any{
		"id":                         id,
		"cmd":                        "echo $MESOS_TASK_ID > index.html; trap '' TERM; exec busybox httpd -f -p $PORT0 -h .",
		"instances":                  instances,
		"cpus":                       0.05,
		"mem":                        32,
		"portDefinitions":            []map[string]any{{"port": 0, "name": "http"}},
		"labels":                     labels,
		"taskKillGracePeriodSeconds": 4,
		"backoffSeconds":             1,
	}
}

// servicePort waits until the app has a service port and returns it.
func (e *env) servicePort(id string) int {
	var port int
	e.WaitFor(10*time.Second, "a service port for "+id, func() bool {
		a, ok := e.App(id)
		if ok && len(a.ServicePorts()) > 0 && a.ServicePorts()[0] != 0 {
			port = a.ServicePorts()[0]
			return true
		}
		return false
	})
	return port
}

// fetch GETs url with a Host header over a new connection and returns
// status and body.
func fetch(url, host string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if host != "" {
		req.Host = host
	}
	c := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func decode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// answeringTasks asks 127.0.0.1:port until every task in want answered
// (TASK_RUNNING is not listening yet: retried), and fails on any other.
func (e *env) waitAnswers(port int, want map[string]bool) {
	e.t.Helper()
	seen := map[string]bool{}
	e.WaitFor(30*time.Second, fmt.Sprintf("answers from %d tasks on service port %d", len(want), port), func() bool {
		code, body, err := fetch("http://127.0.0.1:"+strconv.Itoa(port)+"/", "")
		if err == nil && code == http.StatusOK {
			if !want[body] {
				e.t.Fatalf("service port %d answered %q, not one of %v", port, body, want)
			}
			seen[body] = true
		}
		return len(seen) == len(want)
	})
}

func (e *env) runningTasks(id string, n int) map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	e.WaitFor(60*time.Second, fmt.Sprintf("%d running tasks of %s", n, id), func() bool {
		a, ok := e.App(id)
		if !ok {
			return false
		}
		clear(out)
		for _, task := range a.Tasks {
			if task.State == "TASK_RUNNING" {
				out[task.ID] = true
			}
		}
		return len(out) == n && len(a.Tasks) == n
	})
	return out
}

// routes reports whether routerd's table routes app to task.
func (e *env) routes(app, task string) bool {
	resp, err := http.Get(e.admin + "/_router/routes?app=" + app)
	if err != nil {
		return true
	}
	defer resp.Body.Close()
	var doc admin.RoutesDoc
	if json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return true
	}
	for _, s := range doc.Services {
		for _, b := range s.Backends {
			if b.TaskID == task {
				return true
			}
		}
	}
	return false
}

// TestRouterEndToEnd: an app answers on 127.0.0.1:<servicePort> from both
// of its tasks; scaled to 3 the new task gets traffic; a killed task gets
// no new connection once routerd has its TASK_KILLING; a health-checked
// app is routed only once healthy; the edge routes by Host and path.
func TestRouterEndToEnd(t *testing.T) {
	e := newEnv(t)
	events := e.Events()

	e.mustCall(http.MethodPost, "/v2/apps", httpdApp("/web", 2, nil))
	port := e.servicePort("/web")
	e.waitAnswers(port, e.runningTasks("/web", 2))

	e.mustCall(http.MethodPut, "/v2/apps/web", map[string]any{"instances": 3})
	e.waitAnswers(port, e.runningTasks("/web", 3))

	// Kill one task: it ignores SIGTERM and answers for 4 s more, but from
	// the moment routerd has its TASK_KILLING no new connection may reach it.
	tasks := e.runningTasks("/web", 3)
	var victim string
	for id := range tasks {
		victim = id
		break
	}
	e.mustCall(http.MethodDelete, "/v2/apps/web/tasks/"+victim+"?scale=true", nil)
	var killingAt time.Time
	e.WaitFor(10*time.Second, "TASK_KILLING of "+victim, func() bool {
		for _, ev := range events() {
			if ev.Type != marathon.EventStatusUpdate {
				continue
			}
			var u marathon.StatusUpdateEvent
			json.Unmarshal(ev.Data, &u)
			if u.TaskID == victim && u.TaskStatus == "TASK_KILLING" {
				killingAt = ev.At
				return true
			}
		}
		return false
	})
	// routerd reads the same event from its own stream: wait until its
	// table has dropped the task (within 1.5 s; the task answers for 4, and
	// the 2 s of requests below must all come before that).
	var droppedAt time.Time
	e.WaitFor(5*time.Second, "routerd to stop routing to "+victim, func() bool {
		droppedAt = time.Now()
		return !e.routes("/web", victim)
	})
	d := droppedAt.Sub(killingAt)
	t.Logf("routerd stopped routing to the killed task within %v of its TASK_KILLING", d.Round(time.Millisecond))
	if d > 1500*time.Millisecond {
		t.Errorf("routerd dropped the killed task %v after its TASK_KILLING, want within 1.5s", d.Round(time.Millisecond))
	}
	answered := map[string]int{}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		code, body, err := fetch("http://127.0.0.1:"+strconv.Itoa(port)+"/", "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("service port %d failed while one task is killed: %d %v", port, code, err)
		}
		answered[body]++
	}
	if answered[victim] > 0 {
		t.Errorf("the killed task %s answered %d new connections after its TASK_KILLING", victim, answered[victim])
	}
	if len(answered) != 2 {
		t.Errorf("answers by task during the kill: %v, want the 2 others", answered)
	}

	// A health-checked app starts serving 3 s after TASK_RUNNING: until it
	// is healthy its port answers 503 and its task is listed as not routed.
	checked := httpdApp("/checked", 1, nil)
	checked["cmd"] = "echo $MESOS_TASK_ID > index.html; sleep 3; exec busybox httpd -f -p $PORT0 -h ."
	checked["healthChecks"] = []map[string]any{{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
		"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3, "delaySeconds": 0}}
	e.mustCall(http.MethodPost, "/v2/apps", checked)
	cport := e.servicePort("/checked")
	e.runningTasks("/checked", 1)
	healthy := func() bool {
		a, ok := e.App("/checked")
		return ok && a.Counts != nil && a.Counts.Healthy == 1
	}
	sawUnready := false
	e.WaitFor(30*time.Second, "/checked to answer through routerd", func() bool {
		wasHealthy := healthy()
		code, body, err := fetch("http://127.0.0.1:"+strconv.Itoa(cport)+"/", "")
		if err != nil {
			return false
		}
		if code == http.StatusOK {
			if !wasHealthy && !healthy() {
				t.Fatalf("routerd routed to /checked before Marathon saw it healthy: %q", body)
			}
			return true
		}
		if code == http.StatusServiceUnavailable {
			sawUnready = true
		}
		return false
	})
	if !sawUnready {
		t.Errorf("never saw /checked's port answer 503 before the task was healthy")
	}

	// The edge: by Host, and by path prefix on any host.
	e.mustCall(http.MethodPost, "/v2/apps", httpdApp("/site", 1, map[string]string{"HAPROXY_0_VHOST": "site.example.com"}))
	e.mustCall(http.MethodPost, "/v2/apps", httpdApp("/docs", 1, map[string]string{"HAPROXY_0_MODE": "http", "HAPROXY_0_PATH": "/index.html"}))
	siteTasks := e.runningTasks("/site", 1)
	docsTasks := e.runningTasks("/docs", 1)
	for _, tt := range []struct {
		host, path string
		want       map[string]bool
	}{
		{"site.example.com", "/", siteTasks},
		{"SITE.example.com:80", "/", siteTasks},
		{"other.example.com", "/index.html", docsTasks},
	} {
		e.WaitFor(30*time.Second, "the edge to route "+tt.host+tt.path, func() bool {
			code, body, err := fetch("http://"+e.edge+tt.path, tt.host)
			return err == nil && code == http.StatusOK && tt.want[body]
		})
	}
	if code, _, err := fetch("http://"+e.edge+"/", "nobody.example.com"); err != nil || code != http.StatusNotFound {
		t.Errorf("edge request for an unknown host: %d %v, want 404", code, err)
	}

	// What routerd shows: every app routed, nothing skipped.
	var doc admin.RoutesDoc
	resp, err := http.Get(e.admin + "/_router/routes")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if len(doc.Skipped) != 0 {
		t.Errorf("skipped: %+v", doc.Skipped)
	}
	modes := map[string]string{}
	for _, s := range doc.Services {
		modes[s.AppID] = string(s.Mode)
	}
	want := map[string]string{"/web": "tcp", "/checked": "http", "/site": "http", "/docs": "http"}
	if fmt.Sprint(modes) != fmt.Sprint(want) {
		t.Errorf("routed modes = %v, want %v", modes, want)
	}

	// The metrics count what went through.
	resp, err = http.Get(e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`routerd_connections_total{app="/web",mode="tcp",port="0"}`,
		`routerd_http_requests_total{app="/checked",class="2xx",port="0"}`,
		`routerd_http_requests_total{app="/checked",class="5xx",port="0"}`,
		"routerd_table_version ",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
