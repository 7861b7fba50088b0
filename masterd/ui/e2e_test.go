package ui_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
)

const testCredentials = "admin:s3cr:et"

// api sends a JSON request to the cluster's Marathon API and returns the
// status.
func api(t testing.TB, c *marathontest.Cluster, method, path string, body any) int {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.Marathon+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUI drives the UI in Chromium against a real masterd and agentd,
// with basic auth and TLS on the Marathon port, as an operator would:
// create an app through the form (a field the API refuses is marked), see
// it deploy and turn healthy, scale it, read what a task printed, see why
// a failing app's tasks fail, roll back to an earlier version and destroy
// the app; the deployments and cluster pages show what runs. Each page's
// screenshot is saved in the test's artifact directory (go test
// -artifacts -outputdir DIR keeps them).
func TestUI(t *testing.T) {
	c := marathontest.Start(t, marathontest.Options{Credentials: testCredentials, TLS: true,
		MasterArgs: []string{"--log-level", "info"}, AgentArgs: []string{"--log-level", "info"}})
	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)

	// The Mesos port's / leads to the UI.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(c.Mesos + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || loc != c.Marathon+"/" {
		t.Errorf("GET %s/ = %s, Location %q; want 307 to %s/", c.Mesos, resp.Status, loc, c.Marathon)
	}
	// Without credentials the UI is refused, so the browser asks for them.
	req, _ := http.NewRequest(http.MethodGet, c.Marathon+"/", nil)
	tr := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(c)}}
	if resp, err := tr.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / without credentials = %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	b := newBrowser(t, 1280, 860, shots)
	b.do("open the UI", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/"))
	b.waitJS(20*time.Second, "the event stream", `document.querySelector('.live-live')`)
	b.waitText(10*time.Second, "#app-count", "0 of 0 apps")

	// Create an app through the form; the API's 422 names cpus, shown
	// beside the field.
	b.do("open the form", chromedp.Click(chromedp.CSS(`a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-id")))
	b.do("fill in the form",
		clearAndType("#f-id", "/ui/web"),
		clearAndType("#f-cmd", "echo hello-from-the-ui-$MESOS_TASK_ID; echo ok > index.html; exec busybox httpd -f -p $PORT0 -h ."),
		clearAndType("#f-instances", "1"),
		clearAndType("#f-cpus", "0"),
		clearAndType("#f-mem", "32"),
		clearAndType("#f-ports", "0"),
		clearAndType("#f-labels", "team=ui"),
		choose("#f-health", "MESOS_HTTP"),
	)
	// Health checks every second, written in the JSON editor: the form
	// follows it.
	b.do("edit the JSON", chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector('#json-editor'), a = JSON.parse(e.value);
		Object.assign(a.healthChecks[0], {intervalSeconds: 1, delaySeconds: 0, gracePeriodSeconds: 10, timeoutSeconds: 1});
		e.value = JSON.stringify(a, null, 2); e.dispatchEvent(new Event('input', {bubbles: true})); })()`))
	b.waitJS(5*time.Second, "the JSON editor to follow the form", `(() => { const a = JSON.parse(document.querySelector('#json-editor').value);
		return a.id === '/ui/web' && a.healthChecks[0].protocol === 'MESOS_HTTP' && a.portDefinitions[0].port === 0 && a.labels.team === 'ui'
		&& a.healthChecks[0].intervalSeconds === 1 && document.querySelector('#f-labels').value === 'team=ui'; })()`)
	b.do("submit", chromedp.Click(chromedp.CSS("#submit-app")))
	b.waitJS(10*time.Second, "the 422 beside cpus", `document.querySelector('[data-field="cpus"] .field-error')`)
	b.do("scroll up", chromedp.Evaluate[chromedp.Void](`scrollTo(0, 0)`))
	b.shot("create-form")
	b.do("fix cpus and submit", clearAndType("#f-cpus", "0.1"), chromedp.Click(chromedp.CSS("#submit-app")))

	// Watch it deploy and turn healthy: no reloads, the event stream
	// brings the changes.
	b.waitJS(10*time.Second, "the app's page", `location.hash === '#/apps/ui/web'`)
	b.waitText(60*time.Second, "#instance-summary", "1 healthy")
	b.waitJS(10*time.Second, "a healthy task", `document.querySelector('tr.task .status.healthy')`)

	b.waitText(30*time.Second, "#app-status", "running") // the deployment is over

	// Scale to 2 through the dialog.
	b.do("scale", chromedp.Click(chromedp.CSS("#scale")), chromedp.WaitVisible(chromedp.CSS("dialog input")),
		clearAndType("dialog input", "2"), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	b.waitText(60*time.Second, "#instance-summary", "2 healthy")
	b.shot("app")

	// The apps page lists it with its status and group; search finds it.
	b.do("apps page", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/apps"))
	b.waitJS(10*time.Second, "the app in the list", `document.querySelector('.row.app[data-id="/ui/web"] .status.running')`)
	b.waitJS(5*time.Second, "the group in the tree", `[...document.querySelectorAll('.tree a')].some(a => a.textContent.startsWith('ui'))`)
	b.do("search", clearAndType("#app-search", "team=ui"))
	b.waitText(5*time.Second, "#app-count", "1 of 1 apps")
	b.shot("apps")

	// A failing app: its last failure's cause and its launch delay.
	if s := api(t, c, http.MethodPost, "/v2/apps", map[string]any{"id": "/ui/failing", "cmd": "echo about to fail; exit 3",
		"instances": 1, "cpus": 0.05, "mem": 16, "backoffSeconds": 30}); s != http.StatusCreated {
		t.Fatalf("POST /v2/apps /ui/failing = %d", s)
	}
	b.do("open the failing app", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/apps/ui/failing"))
	b.waitText(60*time.Second, "#last-failure-message", "Command exited with status 3")
	b.waitJS(30*time.Second, "the launch delay", `document.querySelector('#reset-delay')`)
	b.shot("app-failing")

	// Edit /ui/web (a new version), then roll back to the first.
	b.do("open the editor", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/edit/ui/web"))
	b.waitJS(10*time.Second, "the app in the editor", `document.querySelector('#f-cmd')?.value.includes('hello-from-the-ui')`)
	b.do("change the command", clearAndType("#f-cmd", "echo second-version; echo ok > index.html; exec busybox httpd -f -p $PORT0 -h ."),
		chromedp.Click(chromedp.CSS("#submit-app")))
	b.waitJS(10*time.Second, "the app's page", `location.hash === '#/apps/ui/web'`)
	b.do("deployments page", chromedp.Click(chromedp.CSS(`a[href="#/deployments"]`)))
	b.waitJS(10*time.Second, "the deployments page", `document.querySelector('section.deployment, #no-deployments')`)
	b.shot("deployments")
	waitApp(t, c, "/ui/web", func(a marathon.AppInfo) bool {
		return strings.Contains(a.Cmd, "second-version") && a.Counts != nil && a.Counts.Healthy == 2 && len(a.Deployments) == 0
	})
	b.do("versions tab", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/apps/ui/web?tab=versions"))
	b.waitJS(10*time.Second, "the diff", `[...document.querySelectorAll('pre.diff .d\\+')].some(l => l.textContent.includes('second-version'))`)
	b.shot("versions")
	b.do("roll back to the first version", chromedp.Click(chromedp.CSS("tr.version:last-child button.rollback")),
		chromedp.WaitVisible(chromedp.CSS("#dialog-confirm")), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	waitApp(t, c, "/ui/web", func(a marathon.AppInfo) bool {
		return strings.Contains(a.Cmd, "hello-from-the-ui") && a.Counts != nil && a.Counts.Healthy == a.Instances && len(a.Deployments) == 0
	})
	b.do("configuration tab", chromedp.Click(chromedp.CSS(`a[href$="?tab=config"]`)))
	b.waitText(10*time.Second, "pre.json", "hello-from-the-ui")

	// The cluster: the agent with its resources.
	b.do("cluster page", chromedp.Click(chromedp.CSS(`a[href="#/cluster"]`)))
	b.waitJS(10*time.Second, "the agent", `document.querySelector('tr.agent .status.running')`)
	b.waitText(5*time.Second, "#leader", "127.0.0.1")
	b.shot("cluster")

	// A task's stdout, in the page, following what it prints.
	b.do("open the app", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/apps/ui/web"))
	b.do("open a task's stdout", chromedp.WaitVisible(chromedp.CSS("tr.task")), chromedp.Click(chromedp.CSS(`tr.task a[href*="file=stdout"]`)))
	b.waitText(30*time.Second, "#log", "hello-from-the-ui-")
	b.shot("task-log")

	// Destroy it, confirmed.
	b.do("open the app", chromedp.Navigate(withCredentials(c.Marathon, testCredentials)+"/#/apps/ui/web"))
	b.do("destroy", chromedp.WaitVisible(chromedp.CSS("#destroy")), chromedp.Click(chromedp.CSS("#destroy")),
		chromedp.WaitVisible(chromedp.CSS("#dialog-confirm")), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	b.waitJS(10*time.Second, "the apps page", `location.hash === '#/apps'`)
	b.waitJS(30*time.Second, "the app to leave the list", `!document.querySelector('.row.app[data-id="/ui/web"]') && document.querySelector('.row.app[data-id="/ui/failing"]')`)
	if s := api(t, c, http.MethodGet, "/v2/apps/ui/web", nil); s != http.StatusNotFound {
		t.Errorf("GET /v2/apps/ui/web after destroying it = %d, want 404", s)
	}

	// Phone-sized: the same pages fit and work.
	b.do("phone-sized viewport", chromedp.EmulateViewport(390, 844))
	b.waitJS(10*time.Second, "no horizontal scrolling", `document.documentElement.scrollWidth <= innerWidth`)
	b.shot("apps-phone")
	b.checkErrors()
}

// waitApp waits until the app as the API reads it satisfies cond.
func waitApp(t *testing.T, c *marathontest.Cluster, id string, cond func(marathon.AppInfo) bool) {
	t.Helper()
	c.WaitFor(90*time.Second, "app "+id, func() bool {
		a, ok := c.App(id)
		return ok && cond(a)
	})
}

// tlsConfig trusts the cluster's certificate.
func tlsConfig(c *marathontest.Cluster) *tls.Config { return &tls.Config{RootCAs: c.RootCAs} }
