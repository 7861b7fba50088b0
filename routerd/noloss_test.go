package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/masterd/marathon/marathontest"
)

// loadResult counts what a steady load saw.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex // guards errs
	errs       []string
}

func (r *loadResult) fail(err string) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, err)
	}
	r.mu.Unlock()
}

func (r *loadResult) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%d ok, %d failed %q", r.ok.Load(), r.failed.Load(), r.errs)
}

// steadyLoad sends rate requests per second to url until stop is called,
// half of them each on a new connection, half over keepAlive long-lived
// keep-alive connections (which must never be reset). A request fails on
// any error or a status other than 200.
func steadyLoad(url string, rate, keepAlive int) (stop func() *loadResult) {
	res := &loadResult{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(c *http.Client) {
		resp, err := c.Get(url)
		if err != nil {
			res.fail(err.Error())
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			res.fail(resp.Status)
			return
		}
		res.ok.Add(1)
	}
	tick := time.Second / time.Duration(rate/2)
	// New connections, paced.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		var inner sync.WaitGroup
		defer inner.Wait()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				inner.Add(1)
				go func() { defer inner.Done(); do(fresh) }()
			}
		}
	}()
	// Keep-alive connections, one client each, round robin over the ticks.
	for i := 0; i < keepAlive; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
			defer tr.CloseIdleConnections()
			c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
			t := time.NewTicker(tick * time.Duration(keepAlive))
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					do(c)
				}
			}
		}()
	}
	return func() *loadResult {
		close(done)
		wg.Wait()
		return res
	}
}

// echoCmd runs the test backend (tstest/echoserver), which answers body
// with keep-alive and drains for a second after SIGTERM, as a
// well-behaved service does.
func echoCmd(t testing.TB, body string) string {
	return filepath.Join(marathontest.Binaries(t), "echoserver") + " -body " + body
}

// echoApp is an app of echoservers answering body (default: the task ID).
func echoApp(t testing.TB, id string, instances int, body string) map[string]any {
	if body == "" {
		body = "$MESOS_TASK_ID"
	}
	a := httpdApp(id, instances, nil)
	a["cmd"] = echoCmd(t, body)
	return a
}

// deployed waits until the app has no deployment and n running tasks.
func (e *env) deployed(id string, n int, timeout time.Duration) {
	e.t.Helper()
	e.WaitFor(timeout, fmt.Sprintf("%s deployed with %d tasks", id, n), func() bool {
		a, ok := e.App(id)
		if !ok || len(a.Deployments) > 0 || len(a.Tasks) != n {
			return false
		}
		for _, task := range a.Tasks {
			if task.State != "TASK_RUNNING" {
				return false
			}
		}
		return true
	})
}

func newLoadEnv(t *testing.T) *env {
	if testing.Short() {
		t.Skip("a minute of load")
	}
	// posix isolation: the storm launches hundreds of tasks; what is under
	// test is routerd, not the containers.
	c := marathontest.Start(t, marathontest.Options{Isolation: "posix", Resources: "cpus:64;mem:65536;disk:4000;ports:[31000-32000]"})
	return startRouterOn(t, c)
}

// TestNoLossRollingRestart: 500 req/s through routerd while the routed
// app is restarted with a new cmd: not one request fails.
func TestNoLossRollingRestart(t *testing.T) {
	e := newLoadEnv(t)
	app := echoApp(t, "/roll", 3, "")
	app["healthChecks"] = []map[string]any{{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
		"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3, "delaySeconds": 0}}
	app["taskKillGracePeriodSeconds"] = 2
	e.mustCall(http.MethodPost, "/v2/apps", app)
	port := e.servicePort("/roll")
	e.deployed("/roll", 3, 60*time.Second)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	e.waitAnswers(port, e.runningTasks("/roll", 3))

	stop := steadyLoad(url, 500, 8)
	time.Sleep(time.Second)
	app["cmd"] = echoCmd(t, "v2-$MESOS_TASK_ID")
	e.mustCall(http.MethodPut, "/v2/apps/roll", app)
	e.WaitFor(60*time.Second, "the rolling restart to end with 3 new tasks answering", func() bool {
		a, ok := e.App("/roll")
		if !ok || len(a.Deployments) > 0 || len(a.Tasks) != 3 {
			return false
		}
		_, body, err := fetch(url, "")
		return err == nil && strings.HasPrefix(body, "v2-")
	})
	time.Sleep(time.Second)
	res := stop()
	t.Logf("rolling restart under load: %v", res)
	if res.failed.Load() != 0 {
		t.Errorf("requests failed during the rolling restart: %v", res)
	}
	if res.ok.Load() < 2000 {
		t.Errorf("only %d requests answered: the load did not run", res.ok.Load())
	}
}

// TestNoLossChangeStorm: 500 req/s to an untouched TCP app while 100 other
// apps are scaled up and down and their service ports open and close: not
// one request fails and no long-lived connection is reset.
func TestNoLossChangeStorm(t *testing.T) {
	e := newLoadEnv(t)
	e.mustCall(http.MethodPost, "/v2/apps", echoApp(t, "/steady", 2, ""))
	port := e.servicePort("/steady")
	e.waitAnswers(port, e.runningTasks("/steady", 2))

	// A raw long-lived TCP connection through the proxy: a reset or close
	// during the storm shows as a failed echo.
	raw, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rawR := bufio.NewReader(raw)
	rawGet := func() error {
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(raw, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(rawR, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	if err := rawGet(); err != nil {
		t.Fatalf("long-lived connection: %v", err)
	}

	stop := steadyLoad("http://127.0.0.1:"+strconv.Itoa(port)+"/", 500, 8)
	const apps = 100
	put := func(instances int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := 0; i < apps; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				a := echoApp(t, fmt.Sprintf("/storm/a%03d", i), instances, "")
				if code, b := e.call(http.MethodPut, fmt.Sprintf("/v2/apps/storm/a%03d?force=true", i), a); code >= 300 {
					t.Errorf("PUT /storm/a%03d: %d %s", i, code, b)
				}
			}()
		}
		wg.Wait()
	}
	routed := func(n int) func() bool {
		return func() bool {
			var doc struct {
				Services []struct {
					AppID    string `json:"appId"`
					Backends []any  `json:"backends"`
				} `json:"services"`
			}
			resp, err := http.Get(e.admin + "/_router/routes")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			if decode(resp.Body, &doc) != nil {
				return false
			}
			backends := 0
			for _, s := range doc.Services {
				if strings.HasPrefix(s.AppID, "/storm/") {
					backends += len(s.Backends)
				}
			}
			return backends == n
		}
	}
	for round, n := range []int{1, 0, 1} {
		put(n)
		e.WaitFor(120*time.Second, fmt.Sprintf("round %d: %d storm tasks routed", round, apps*n), routed(apps*n))
		if err := rawGet(); err != nil {
			t.Fatalf("round %d: the long-lived connection through the untouched app failed: %v", round, err)
		}
	}
	res := stop()
	t.Logf("change storm under load: %v", res)
	if res.failed.Load() != 0 {
		t.Errorf("requests to the untouched app failed during the storm: %v", res)
	}
}
