package server_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/marathon"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// The tests below run real masterd binaries over one real etcd, and an
// agentd with posix isolation where tasks are needed.

var (
	agentdOnce sync.Once
	agentdPath string
	agentdErr  error
)

// agentdBinary builds agentd once per test run, with corral-shim and
// corral-exec beside it as installed, next to masterdBinary's masterd so
// that TestMain removes them all.
func agentdBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(masterdBinary(t))
	agentdOnce.Do(func() {
		agentdPath = filepath.Join(dir, "agentd")
		if out, err := exec.Command("go", "build", "-o", dir+"/", "corral/agentd", "corral/agentd/corral-shim", "corral/isolation/corral-exec").CombinedOutput(); err != nil {
			agentdErr = fmt.Errorf("go build agentd: %v\n%s", err, out)
		}
	})
	if agentdErr != nil {
		t.Fatal(agentdErr)
	}
	return agentdPath
}

// marathonMaster is one masterd process with its Mesos and Marathon
// addresses; start runs it (again, after kill) on the same ports.
type marathonMaster struct {
	t        *testing.T
	name     string
	mesos    string // 127.0.0.1:port of the Mesos API
	marathon string // 127.0.0.1:port of the Marathon API
	scheme   string // http or https
	args     []string
	logPath  string
	cmd      *exec.Cmd
}

// startMarathonMaster runs masterd against the etcd at etcdURL; extra
// flags follow the defaults. Its log goes to a file, printed when the test
// fails.
func startMarathonMaster(t *testing.T, name, etcdURL string, extra ...string) *marathonMaster {
	t.Helper()
	dir := t.TempDir()
	m := &marathonMaster{
		t:        t,
		name:     name,
		mesos:    "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		marathon: "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		scheme:   "http",
		logPath:  filepath.Join(dir, name+".log"),
	}
	if slices.Contains(extra, "--marathon-tls-cert") {
		m.scheme = "https"
	}
	m.args = append([]string{
		"--work-dir", filepath.Join(dir, "work"),
		"--etcd-endpoints", etcdURL,
		"--listen", m.mesos,
		"--marathon-listen", m.marathon,
		"--hostname", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--election-ttl", "2s", "--allocation-interval", "100ms", "--agent-ping-timeout", "1s",
		"--log-level", "debug",
	}, extra...)
	m.start()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			logTail(t, m.logPath)
		}
	})
	return m
}

func (m *marathonMaster) start() {
	m.t.Helper()
	bin := masterdBinary(m.t)
	log, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(m.args, " "))
	cmd := exec.Command(bin, m.args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.cmd = cmd
}

// kill ends masterd with SIGKILL: no resignation, its session must expire.
func (m *marathonMaster) kill() {
	if m.cmd != nil && m.cmd.ProcessState == nil {
		m.cmd.Process.Signal(syscall.SIGKILL)
		m.cmd.Wait()
	}
}

// url is the Marathon API URL of path on this master.
func (m *marathonMaster) url(path string) string { return m.scheme + "://" + m.marathon + path }

func logTail(t *testing.T, path string) {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	t.Logf("last lines of %s:\n%s", filepath.Base(path), strings.Join(lines[max(0, len(lines)-60):], "\n"))
}

// startPosixAgent runs agentd with posix isolation registered with the
// masters; when the test ends it stops agentd and kills the tasks it left.
// It returns the agent's work directory.
func startPosixAgent(t *testing.T, masters ...*marathonMaster) string {
	t.Helper()
	return startPosixAgentWith(t, []string{"--registration-backoff", "50ms"}, masters...)
}

// startPosixAgentWith is startPosixAgent with extra agentd flags.
func startPosixAgentWith(t *testing.T, extra []string, masters ...*marathonMaster) string {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	var addrs []string
	for _, m := range masters {
		addrs = append(addrs, m.mesos)
	}
	logPath := filepath.Join(dir, "agentd.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	args := append([]string{
		"--master", strings.Join(addrs, ","), "--work-dir", work,
		"--listen", "127.0.0.1:0", "--isolation", "posix", "--hostname", "127.0.0.1",
		"--advertise-ip", "127.0.0.1", "--resources", "cpus:4;mem:2048;disk:1000;ports:[31000-32000]",
		"--kill-grace-period", "1s", "--log-level", "debug"}, extra...)
	cmd := exec.Command(agentdBinary(t), args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		runs, _ := filepath.Glob(filepath.Join(work, "tasks", "*", "run"))
		for _, d := range runs {
			if p, ok, _ := shim.ReadPid(d); ok && p.Alive() {
				shim.RequestKill(d, p, 0)
				for i := 0; i < 500 && p.Alive(); i++ {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		if t.Failed() {
			logTail(t, logPath)
		}
	})
	return work
}

// launchedTasks counts the sandboxes the agent made: one per launch, so a
// relaunch shows as one more.
func launchedTasks(agentWork string) int {
	entries, _ := os.ReadDir(filepath.Join(agentWork, "tasks"))
	return len(entries)
}

// apiClient talks to the Marathon API, over TLS trusting roots when set,
// with basic auth when user is set.
type apiClient struct {
	http       *http.Client
	user, pass string
}

func newAPIClient(roots *x509.CertPool) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	return &apiClient{http: &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r response) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

func (c *apiClient) do(method, url, body string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// leaderOf returns the master that both masters' GET /v2/leader name,
// once they agree on one and it serves the API as the leader.
func leaderOf(t *testing.T, c *apiClient, timeout time.Duration, masters ...*marathonMaster) *marathonMaster {
	t.Helper()
	var lead *marathonMaster
	waitFor(t, timeout, "all masters to name one leader that serves /v2/info", func() bool {
		lead = nil
		var named string
		for _, m := range masters {
			r := c.do(http.MethodGet, m.url("/v2/leader"), "")
			var li marathon.LeaderInfo
			if r.err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &li) != nil {
				return false
			}
			if named != "" && li.Leader != named {
				return false
			}
			named = li.Leader
		}
		for _, m := range masters {
			if m.marathon == named {
				lead = m
			}
		}
		if lead == nil {
			return false
		}
		r := c.do(http.MethodGet, lead.url("/v2/info"), "")
		var info marathon.Info
		return r.status == http.StatusOK && json.Unmarshal(r.body, &info) == nil && info.Elected && info.Leader == named &&
			r.header.Get("X-Marathon-Via") == ""
	})
	return lead
}

// sse is one event of /v2/events.
type sse struct {
	Type string
	Data json.RawMessage
}

// followEvents reads /v2/events at url until the test ends; the returned
// function returns the events so far.
func followEvents(t *testing.T, c *apiClient, url string) func() []sse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	// The stream outlives the client's timeout.
	stream := &http.Client{Transport: c.http.Transport}
	resp, err := stream.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s: %s (Content-Type %q) %s", url, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	var mu sync.Mutex
	var evs []sse
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		var typ string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				typ = strings.TrimSpace(line[len("event:"):])
			case strings.HasPrefix(line, "data:"):
				mu.Lock()
				evs = append(evs, sse{Type: typ, Data: json.RawMessage(strings.TrimSpace(line[len("data:"):]))})
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return func() []sse {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(evs)
	}
}

// postedApp reports whether evs hold an api_post_event for app.
func postedApp(evs []sse, app string) bool {
	for _, e := range evs {
		if e.Type != marathon.EventAPIPost {
			continue
		}
		var v struct {
			AppDefinition struct {
				ID string `json:"id"`
			} `json:"appDefinition"`
		}
		if json.Unmarshal(e.Data, &v) == nil && v.AppDefinition.ID == app {
			return true
		}
	}
	return false
}

// deploymentInfoFor reports whether evs hold a deployment_info whose plan
// affects app.
func deploymentInfoFor(evs []sse, app string) bool {
	for _, e := range evs {
		if e.Type != marathon.EventDeploymentInfo {
			continue
		}
		var v struct {
			Plan struct {
				AffectedApps []string `json:"affectedApps"`
				Steps        []struct {
					Actions []struct {
						App string `json:"app"`
					} `json:"actions"`
				} `json:"steps"`
			} `json:"plan"`
		}
		if json.Unmarshal(e.Data, &v) != nil {
			continue
		}
		if slices.Contains(v.Plan.AffectedApps, app) {
			return true
		}
		for _, s := range v.Plan.Steps {
			for _, a := range s.Actions {
				if a.App == app {
					return true
				}
			}
		}
	}
	return false
}

func sleeperApp(id string, instances int) string {
	return fmt.Sprintf(`{"id": %q, "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": %d}`, id, instances)
}

// TestMarathonStandbyForwards: every Marathon API request to the standby
// is answered as the leader answers it, the event stream included, and
// both masters name the leader.
func TestMarathonStandbyForwards(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	a := startMarathonMaster(t, "a", etcdURL)
	b := startMarathonMaster(t, "b", etcdURL)
	c := newAPIClient(nil)
	lead := leaderOf(t, c, 15*time.Second, a, b)
	standby := a
	if lead == a {
		standby = b
	}

	// GET /v2/leader is answered by each master itself, naming the leader.
	for _, m := range []*marathonMaster{a, b} {
		r := c.do(http.MethodGet, m.url("/v2/leader"), "")
		if want := `{"leader":"` + lead.marathon + `"}`; r.status != http.StatusOK || compactJSON(r.body) != want {
			t.Errorf("GET /v2/leader on %s = %v, want 200 %s", m.name, r, want)
		}
	}

	events := followEvents(t, c, standby.url("/v2/events"))

	// Creating through either master: the same status, the same app.
	for _, tc := range []struct {
		via *marathonMaster
		app string
	}{{lead, "/fwd-leader"}, {standby, "/fwd-standby"}} {
		r := c.do(http.MethodPost, tc.via.url("/v2/apps"), sleeperApp(tc.app, 1))
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v2/apps %s through %s = %v, want 201", tc.app, tc.via.name, r)
		}
		var created marathon.App
		if err := json.Unmarshal(r.body, &created); err != nil || created.ID != tc.app || created.Instances != 1 {
			t.Fatalf("POST /v2/apps %s through %s answered %s (%v), want the app", tc.app, tc.via.name, r.body, err)
		}
		if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/v2/apps"+tc.app) {
			t.Errorf("POST /v2/apps %s through %s: Location %q, want …/v2/apps%s", tc.app, tc.via.name, loc, tc.app)
		}
	}

	// The event stream through the standby carries both creations.
	waitFor(t, 5*time.Second, "api_post_event and deployment_info of both apps on the standby's /v2/events", func() bool {
		evs := events()
		return postedApp(evs, "/fwd-leader") && postedApp(evs, "/fwd-standby") &&
			deploymentInfoFor(evs, "/fwd-leader") && deploymentInfoFor(evs, "/fwd-standby")
	})

	// Reads, errors and conflicts: the standby answers what the leader
	// answers, and marks the answer as forwarded.
	for _, req := range []struct{ method, path, body string }{
		{http.MethodGet, "/v2/apps", ""},
		{http.MethodGet, "/v2/apps/fwd-standby", ""},
		{http.MethodGet, "/v2/info", ""},
		{http.MethodGet, "/v2/leader", ""},
		{http.MethodGet, "/v2/deployments", ""},
		{http.MethodGet, "/v2/apps/missing", ""},
		{http.MethodPost, "/v2/apps", sleeperApp("/fwd-leader", 1)},
		{http.MethodPost, "/v2/apps", `{"id": "/bad", "cmd": `},
		{http.MethodPost, "/v2/apps", `{"id": "/Invalid_ID", "cmd": "sleep 1"}`},
	} {
		var fromLeader, fromStandby response
		// Two reads may straddle a change of state; a few tries rule
		// that out (nothing changes here without an agent).
		for range 3 {
			fromLeader = c.do(req.method, lead.url(req.path), req.body)
			fromStandby = c.do(req.method, standby.url(req.path), req.body)
			if fromLeader.err == nil && fromStandby.err == nil && fromLeader.status == fromStandby.status &&
				bytes.Equal(fromLeader.body, fromStandby.body) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if fromLeader.err != nil || fromStandby.err != nil || fromLeader.status != fromStandby.status ||
			!bytes.Equal(fromLeader.body, fromStandby.body) {
			t.Errorf("%s %s: standby answered %v, leader %v", req.method, req.path, fromStandby, fromLeader)
			continue
		}
		if req.path != "/v2/leader" && fromStandby.header.Get("X-Marathon-Via") == "" {
			t.Errorf("%s %s on the standby: no X-Marathon-Via, want the answer forwarded", req.method, req.path)
		}
		if fromLeader.header.Get("X-Marathon-Via") != "" {
			t.Errorf("%s %s on the leader: X-Marathon-Via %q, want it served", req.method, req.path, fromLeader.header.Get("X-Marathon-Via"))
		}
	}

	// Both apps exist, and /v2/info names the leader everywhere.
	r := c.do(http.MethodGet, standby.url("/v2/apps"), "")
	var list marathon.AppList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("GET /v2/apps on the standby: %v: %v", r, err)
	}
	var ids []string
	for _, app := range list.Apps {
		ids = append(ids, app.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"/fwd-leader", "/fwd-standby"}) {
		t.Errorf("GET /v2/apps on the standby lists %v, want [/fwd-leader /fwd-standby]", ids)
	}
	r = c.do(http.MethodGet, standby.url("/v2/info"), "")
	var info marathon.Info
	if err := json.Unmarshal(r.body, &info); err != nil || !info.Elected || info.Leader != lead.marathon ||
		info.HTTPConfig.HTTPPort != portOf(t, lead.marathon) {
		t.Errorf("GET /v2/info on the standby = %v, want the leader's info (leader %s)", r, lead.marathon)
	}
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

func portOf(t *testing.T, hostport string) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// appTasks is GET /v2/apps/{id}: its task IDs, sorted, whether all of
// them run, and the IDs of its deployments.
func appTasks(c *apiClient, m *marathonMaster, id string) (tasks []string, allRunning bool, deployments []string, ok bool) {
	r := c.do(http.MethodGet, m.url("/v2/apps"+id), "")
	var v marathon.AppSingle
	if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
		return nil, false, nil, false
	}
	allRunning = true
	for _, task := range v.App.Tasks {
		tasks = append(tasks, task.ID)
		allRunning = allRunning && task.State == "TASK_RUNNING"
	}
	slices.Sort(tasks)
	for _, d := range v.App.Deployments {
		deployments = append(deployments, d.ID)
	}
	return tasks, allRunning, deployments, true
}

// waitTasks waits until app runs n tasks and, when wantDeployments is
// not nil, has exactly those deployments; it returns the tasks.
func waitTasks(t *testing.T, c *apiClient, m *marathonMaster, app string, n int, wantDeployments []string, timeout time.Duration) []string {
	t.Helper()
	var tasks, deps []string
	waitFor(t, timeout, fmt.Sprintf("%d running tasks of %s on %s", n, app, m.name), func() bool {
		var running, ok bool
		tasks, running, deps, ok = appTasks(c, m, app)
		return ok && running && len(tasks) == n && (wantDeployments == nil || slices.Equal(deps, wantDeployments))
	})
	return tasks
}

func deploymentIDs(c *apiClient, m *marathonMaster) ([]string, bool) {
	r := c.do(http.MethodGet, m.url("/v2/deployments"), "")
	var ds []marathon.Deployment
	if r.status != http.StatusOK || json.Unmarshal(r.body, &ds) != nil {
		return nil, false
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	return ids, true
}

// agentBack waits until the leader's Mesos API shows the agent agentID
// active again with exactly the running tasks want: the agent has
// re-registered with the new leader and brought its tasks along.
func agentBack(t *testing.T, m *marathonMaster, agentID string, want []string) {
	t.Helper()
	var got []string
	// The agent's reconnection backoff doubles while no master leads.
	waitFor(t, 20*time.Second, "the agent to re-register with "+m.name+" with its tasks", func() bool {
		st, ok := masterState(t, m.mesos)
		if !ok || len(st.Slaves) != 1 || st.Slaves[0].ID != agentID || !st.Slaves[0].Active {
			return false
		}
		got = nil
		for _, f := range st.Frameworks {
			for _, task := range f.Tasks {
				if task.State == mesos.TaskRunning {
					got = append(got, task.ID)
				}
			}
		}
		slices.Sort(got)
		return slices.Equal(got, want)
	})
}

// agentID is the ID of the only agent registered with the leader m.
func agentID(t *testing.T, m *marathonMaster) string {
	t.Helper()
	st, ok := masterState(t, m.mesos)
	if !ok || len(st.Slaves) != 1 {
		t.Fatalf("/master/state of %s: %d agents (ok %v), want 1", m.name, len(st.Slaves), ok)
	}
	return st.Slaves[0].ID
}

func cpuApp(id string, instances int, cpus float64) string {
	return fmt.Sprintf(`{"id": %q, "cmd": "sleep 1000", "cpus": %g, "mem": 16, "instances": %d, "taskKillGracePeriodSeconds": 1}`, id, cpus, instances)
}

// TestMarathonFailover: the leader dies (kill -9) under running apps; the
// standby takes them over with the very same tasks and scales one through
// its API; that deployment, still waiting for resources when this leader
// dies too, is carried through by the next one.
func TestMarathonFailover(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	a := startMarathonMaster(t, "a", etcdURL)
	b := startMarathonMaster(t, "b", etcdURL)
	c := newAPIClient(nil)
	first := leaderOf(t, c, 15*time.Second, a, b)
	second := a
	if first == a {
		second = b
	}
	agentWork := startPosixAgent(t, a, b) // cpus:4
	start := time.Now()
	stage := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }

	// /web takes 2 of the agent's 4 cpus, /blocker 1.5 of the rest: a
	// third /web instance fits only once /blocker is gone.
	for _, app := range []string{cpuApp("/web", 2, 1), cpuApp("/blocker", 1, 1.5)} {
		if r := c.do(http.MethodPost, first.url("/v2/apps"), app); r.status != http.StatusCreated {
			t.Fatalf("POST /v2/apps %s = %v, want 201", app, r)
		}
	}
	web := waitTasks(t, c, first, "/web", 2, []string{}, 20*time.Second)
	blocker := waitTasks(t, c, first, "/blocker", 1, []string{}, 20*time.Second)
	if n := launchedTasks(agentWork); n != 3 {
		t.Fatalf("agent launched %d tasks, want 3", n)
	}
	stage("/web and /blocker running")
	agent := agentID(t, first)
	all := slices.Sorted(slices.Values(append(slices.Clone(web), blocker...)))

	// Failover 1: the second master takes over the running apps.
	killed := time.Now()
	first.kill()
	if got := leaderOf(t, c, 10*time.Second, second); got != second {
		t.Fatalf("leader after killing %s is %s", first.name, got.name)
	}
	stage(fmt.Sprintf("%s leads %v after %s was killed (TTL 2s)", second.name, time.Since(killed).Round(time.Millisecond), first.name))
	if got := waitTasks(t, c, second, "/web", 2, []string{}, 10*time.Second); !slices.Equal(got, web) {
		t.Fatalf("/web tasks on the new leader %v, want the same as before %v", got, web)
	}
	if got := waitTasks(t, c, second, "/blocker", 1, []string{}, 10*time.Second); !slices.Equal(got, blocker) {
		t.Fatalf("/blocker tasks on the new leader %v, want the same as before %v", got, blocker)
	}

	agentBack(t, second, agent, all)
	stage("same tasks on the new leader, agent re-registered")

	// A scale through the new leader that must wait for resources.
	r := c.do(http.MethodPut, second.url("/v2/apps/web"), cpuApp("/web", 3, 1))
	var res marathon.DeploymentResult
	if r.status != http.StatusOK || json.Unmarshal(r.body, &res) != nil || res.DeploymentID == "" {
		t.Fatalf("PUT /v2/apps/web instances 3 on the new leader = %v, want 200 with a deployment ID", r)
	}
	waitFor(t, 10*time.Second, "/web to be queued for its third instance", func() bool {
		r := c.do(http.MethodGet, second.url("/v2/queue"), "")
		var q marathon.Queue
		return r.status == http.StatusOK && json.Unmarshal(r.body, &q) == nil && len(q.Queue) == 1 && q.Queue[0].Count == 1
	})
	if tasks, _, deps, _ := appTasks(c, second, "/web"); !slices.Equal(tasks, web) || !slices.Equal(deps, []string{res.DeploymentID}) {
		t.Fatalf("/web on the new leader: tasks %v deployments %v, want %v and [%s]", tasks, deps, web, res.DeploymentID)
	}
	if n := launchedTasks(agentWork); n != 3 {
		t.Fatalf("agent launched %d tasks after the failover, want still 3: none relaunched, none fitting", n)
	}

	stage("scale queued")

	// Failover 2, mid-deployment: the first master comes back as a
	// standby, then the second dies.
	first.start()
	waitFor(t, 10*time.Second, "the restarted master to name the leader", func() bool {
		r := c.do(http.MethodGet, first.url("/v2/leader"), "")
		return r.status == http.StatusOK && compactJSON(r.body) == `{"leader":"`+second.marathon+`"}`
	})
	stage(first.name + " back as a standby")
	killed = time.Now()
	second.kill()
	if got := leaderOf(t, c, 10*time.Second, first); got != first {
		t.Fatalf("leader after killing %s is %s", second.name, got.name)
	}
	stage(fmt.Sprintf("%s leads %v after %s was killed mid-deployment", first.name, time.Since(killed).Round(time.Millisecond), second.name))
	if ids, ok := deploymentIDs(c, first); !ok || !slices.Equal(ids, []string{res.DeploymentID}) {
		t.Fatalf("deployments on the third leader %v, want the scale's [%s]", ids, res.DeploymentID)
	}
	if got := waitTasks(t, c, first, "/web", 2, []string{res.DeploymentID}, 10*time.Second); !slices.Equal(got, web) {
		t.Fatalf("/web tasks on the third leader %v, want %v", got, web)
	}
	agentBack(t, first, agent, all)

	stage("deployment carried to the third leader")

	// Freeing the resources lets the carried deployment finish.
	if r := c.do(http.MethodDelete, first.url("/v2/apps/blocker"), ""); r.status != http.StatusOK {
		t.Fatalf("DELETE /v2/apps/blocker = %v, want 200", r)
	}
	waitFor(t, 20*time.Second, "the scale deployment to finish", func() bool {
		ids, ok := deploymentIDs(c, first)
		return ok && len(ids) == 0
	})
	stage("scale done")
	got := waitTasks(t, c, first, "/web", 3, []string{}, 5*time.Second)
	if kept := slices.DeleteFunc(slices.Clone(got), func(id string) bool { return !slices.Contains(web, id) }); !slices.Equal(kept, web) {
		t.Fatalf("/web tasks after the scale %v, want the original %v among them", got, web)
	}
	if n := launchedTasks(agentWork); n != 4 {
		t.Fatalf("agent launched %d tasks in all, want 4: the third /web instance only", n)
	}
}

// gatedApp serves the directory gate over HTTP; its readiness check asks
// for gate/ready, so the test decides when instances count as ready.
func gatedApp(gate string, instances int) string {
	app := map[string]any{
		"id":              "/gated",
		"cmd":             "exec busybox httpd -f -p $PORT0 -h $GATE",
		"env":             map[string]string{"GATE": gate},
		"instances":       instances,
		"cpus":            0.1,
		"mem":             16,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
		"readinessChecks": []map[string]any{{"name": "gate", "protocol": "HTTP", "path": "/ready", "portName": "http",
			"intervalSeconds": 2, "timeoutSeconds": 1, "httpStatusCodesForReady": []int{200}}},
		"taskKillGracePeriodSeconds": 1,
	}
	b, _ := json.Marshal(app)
	return string(b)
}

// TestMarathonFailoverReadinessGated: a deployment waiting for a readiness
// check when the leader dies finishes under the next leader once the new
// instance is ready, as Marathon's deployment actor re-runs the readiness
// checks of running instances after a failover.
func TestMarathonFailoverReadinessGated(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	a := startMarathonMaster(t, "a", etcdURL)
	b := startMarathonMaster(t, "b", etcdURL)
	c := newAPIClient(nil)
	lead := leaderOf(t, c, 15*time.Second, a, b)
	next := a
	if lead == a {
		next = b
	}
	agentWork := startPosixAgent(t, a, b)
	gate := t.TempDir()
	ready := filepath.Join(gate, "ready")
	if err := os.WriteFile(ready, []byte("ready\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := c.do(http.MethodPost, lead.url("/v2/apps"), gatedApp(gate, 2)); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps = %v, want 201", r)
	}
	waitTasks(t, c, lead, "/gated", 2, []string{}, 20*time.Second)

	// The third instance runs but is not ready: the deployment waits.
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	r := c.do(http.MethodPut, lead.url("/v2/apps/gated"), gatedApp(gate, 3))
	var res marathon.DeploymentResult
	if r.status != http.StatusOK || json.Unmarshal(r.body, &res) != nil || res.DeploymentID == "" {
		t.Fatalf("PUT /v2/apps/gated instances 3 = %v, want 200 with a deployment ID", r)
	}
	tasks := waitTasks(t, c, lead, "/gated", 3, []string{res.DeploymentID}, 20*time.Second)

	killed := time.Now()
	lead.kill()
	if got := leaderOf(t, c, 10*time.Second, next); got != next {
		t.Fatalf("leader after killing %s is %s", lead.name, got.name)
	}
	t.Logf("%s leads %v after %s was killed mid-deployment", next.name, time.Since(killed).Round(time.Millisecond), lead.name)
	if got := waitTasks(t, c, next, "/gated", 3, []string{res.DeploymentID}, 10*time.Second); !slices.Equal(got, tasks) {
		t.Fatalf("/gated tasks on the new leader %v, want %v", got, tasks)
	}
	if err := os.WriteFile(ready, []byte("ready\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the readiness-gated deployment to finish on the new leader", func() bool {
		ids, ok := deploymentIDs(c, next)
		return ok && len(ids) == 0
	})
	if got := waitTasks(t, c, next, "/gated", 3, []string{}, 5*time.Second); !slices.Equal(got, tasks) || launchedTasks(agentWork) != 3 {
		t.Fatalf("/gated tasks %v (agent launched %d), want %v and no relaunch", got, launchedTasks(agentWork), tasks)
	}
}

// TestMarathonAbdicate: DELETE /v2/leader hands the leadership to the
// other master, which was waiting in the election's queue before the
// abdicating one campaigned again; through a standby it reaches the leader.
func TestMarathonAbdicate(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	a := startMarathonMaster(t, "a", etcdURL)
	b := startMarathonMaster(t, "b", etcdURL)
	c := newAPIClient(nil)
	lead := leaderOf(t, c, 15*time.Second, a, b)
	other := a
	if lead == a {
		other = b
	}
	if r := c.do(http.MethodPost, lead.url("/v2/apps"), sleeperApp("/kept", 1)); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps = %v, want 201", r)
	}
	before := c.do(http.MethodGet, lead.url("/v2/apps/kept"), "")

	// On the leader.
	r := c.do(http.MethodDelete, lead.url("/v2/leader"), "")
	if r.status != http.StatusOK || compactJSON(r.body) != `{"message":"Leadership abdicated"}` {
		t.Fatalf("DELETE /v2/leader on the leader = %v, want 200 Leadership abdicated", r)
	}
	if got := leaderOf(t, c, 10*time.Second, a, b); got != other {
		t.Fatalf("after %s abdicated the leader is %s, want %s", lead.name, got.name, other.name)
	}

	// Through the standby (the former leader): the new leader abdicates.
	r = c.do(http.MethodDelete, lead.url("/v2/leader"), "")
	if r.status != http.StatusOK || compactJSON(r.body) != `{"message":"Leadership abdicated"}` || r.header.Get("X-Marathon-Via") == "" {
		t.Fatalf("DELETE /v2/leader through the standby = %v (Via %q), want 200 Leadership abdicated, forwarded", r, r.header.Get("X-Marathon-Via"))
	}
	if got := leaderOf(t, c, 10*time.Second, a, b); got != lead {
		t.Fatalf("after %s abdicated the leader is %s, want %s again", other.name, got.name, lead.name)
	}

	// The app outlived both terms unchanged.
	after := c.do(http.MethodGet, other.url("/v2/apps/kept"), "")
	if after.status != http.StatusOK || !bytes.Equal(withoutCounts(t, before.body), withoutCounts(t, after.body)) {
		t.Errorf("GET /v2/apps/kept after two abdications = %v, before %v", after, before)
	}
}

// withoutCounts is GET /v2/apps/{id}'s app without its task counts and
// last failure, which live in the term, not the app definition: the app,
// its version and its pending deployment (no agent runs it) must survive a
// change of leader unchanged.
func withoutCounts(t *testing.T, body []byte) []byte {
	var v map[string]map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	app := v["app"]
	for _, k := range []string{"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "lastTaskFailure"} {
		delete(app, k)
	}
	b, _ := json.Marshal(app)
	return b
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certPath, keyPath string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "corral test master"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certPath, keyPath, roots
}

// TestMarathonAuthAndTLS: with --http-credentials and a certificate, the
// Marathon API is served over HTTPS only, every request but /ping needs
// the credentials, and a standby forwards authenticated requests to the
// leader over HTTPS.
func TestMarathonAuthAndTLS(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	certPath, keyPath, roots := selfSignedCert(t, t.TempDir())
	flags := []string{"--http-credentials", "admin:s3cr:et", "--marathon-tls-cert", certPath, "--marathon-tls-key", keyPath}
	a := startMarathonMaster(t, "a", etcdURL, flags...)
	b := startMarathonMaster(t, "b", etcdURL, flags...)
	authed := newAPIClient(roots)
	authed.user, authed.pass = "admin", "s3cr:et"
	lead := leaderOf(t, authed, 15*time.Second, a, b)
	standby := a
	if lead == a {
		standby = b
	}

	anon := newAPIClient(roots)
	wrong := newAPIClient(roots)
	wrong.user, wrong.pass = "admin", "wrong"
	for _, m := range []*marathonMaster{lead, standby} {
		role := "leader"
		if m == standby {
			role = "standby"
		}
		for _, tc := range []struct {
			name   string
			c      *apiClient
			method string
			path   string
			status int
		}{
			{"no credentials", anon, http.MethodGet, "/v2/apps", http.StatusUnauthorized},
			{"no credentials", anon, http.MethodGet, "/v2/info", http.StatusUnauthorized},
			{"no credentials", anon, http.MethodGet, "/v2/leader", http.StatusUnauthorized},
			{"no credentials", anon, http.MethodGet, "/v2/events", http.StatusUnauthorized},
			{"no credentials", anon, http.MethodDelete, "/v2/leader", http.StatusUnauthorized},
			{"wrong password", wrong, http.MethodGet, "/v2/apps", http.StatusUnauthorized},
			{"right credentials", authed, http.MethodGet, "/v2/apps", http.StatusOK},
			{"right credentials", authed, http.MethodGet, "/v2/info", http.StatusOK},
			{"ping without credentials", anon, http.MethodGet, "/ping", http.StatusOK},
		} {
			r := tc.c.do(tc.method, m.url(tc.path), "")
			if r.err != nil || r.status != tc.status {
				t.Errorf("%s: %s %s on the %s = %v, want %d", tc.name, tc.method, tc.path, role, r, tc.status)
				continue
			}
			switch tc.status {
			case http.StatusUnauthorized:
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="Mesosphere"` {
					t.Errorf("%s: %s %s on the %s: WWW-Authenticate %q, want Basic realm=\"Mesosphere\"", tc.name, tc.method, tc.path, role, got)
				}
				if r.header.Get("X-Marathon-Via") != "" {
					t.Errorf("%s: %s %s on the %s was forwarded before authentication", tc.name, tc.method, tc.path, role)
				}
			case http.StatusOK:
				if tc.path == "/ping" && string(r.body) != "pong\n" {
					t.Errorf("GET /ping on the %s = %q, want pong", role, r.body)
				}
				if tc.path != "/ping" && (m == standby) != (r.header.Get("X-Marathon-Via") != "") {
					t.Errorf("%s %s on the %s: X-Marathon-Via %q", tc.method, tc.path, role, r.header.Get("X-Marathon-Via"))
				}
			}
		}
	}

	// /v2/info says HTTPS, on the leader's port.
	r := authed.do(http.MethodGet, standby.url("/v2/info"), "")
	var info marathon.Info
	if err := json.Unmarshal(r.body, &info); err != nil || info.HTTPConfig.HTTPSPort != portOf(t, lead.marathon) || info.HTTPConfig.HTTPPort != 0 {
		t.Errorf("GET /v2/info through the standby = %v, want https_port %d", r, portOf(t, lead.marathon))
	}
	if got, want := r.header.Get("X-Marathon-Leader"), "https://"+lead.marathon; got != want {
		t.Errorf("X-Marathon-Leader through the standby = %q, want %q", got, want)
	}

	// A write and the event stream through the standby, authenticated.
	events := followEvents(t, authed, standby.url("/v2/events"))
	if r := authed.do(http.MethodPost, standby.url("/v2/apps"), sleeperApp("/secure", 1)); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps through the standby = %v, want 201", r)
	}
	waitFor(t, 5*time.Second, "api_post_event of /secure on the standby's stream", func() bool { return postedApp(events(), "/secure") })

	// Plain HTTP on the HTTPS port is refused.
	r = newAPIClient(nil).do(http.MethodGet, "http://"+lead.marathon+"/ping", "")
	if r.err == nil && r.status != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS port = %v, want 400 or a failed request", r)
	}
}
