package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// agentIDOf is the ID the agent with work directory work saved at its
// registration, "" before it registered.
func agentIDOf(work string) string {
	b, _ := os.ReadFile(filepath.Join(work, "meta", "agent_id"))
	return strings.TrimSpace(string(b))
}

// activeAgents maps the agents the leader m shows active to their last
// re-registration time.
func activeAgents(t *testing.T, m *marathonMaster) (map[string]float64, mesos.MasterState, bool) {
	st, ok := masterState(t, m.mesos)
	if !ok {
		return nil, st, false
	}
	ids := map[string]float64{}
	for _, s := range st.Slaves {
		if s.Active {
			ids[s.ID] = s.ReregisteredTime
		}
	}
	return ids, st, true
}

// TestMasterLeadsTwiceAgentIDsStayUnique: a masterd that abdicates and
// wins again starts a new term under a new master ID, so an agent that
// registers in the second term gets an ID of its own: it does not take
// over the first agent's, and the first agent's task is not killed.
func TestMasterLeadsTwiceAgentIDsStayUnique(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	m := startMarathonMaster(t, "a", etcdURL)
	c := newAPIClient(nil)
	leaderOf(t, c, 15*time.Second, m)
	first := startPosixAgent(t, m)
	if r := c.do(http.MethodPost, m.url("/v2/apps"), sleeperApp("/kept", 1)); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps = %v, want 201", r)
	}
	kept := waitTasks(t, c, m, "/kept", 1, []string{}, 20*time.Second)
	firstID := agentIDOf(first)
	st, _ := masterState(t, m.mesos)
	term1, elected1 := st.ID, st.ElectedTime

	// The only master abdicates and is elected again.
	if r := c.do(http.MethodDelete, m.url("/v2/leader"), ""); r.status != http.StatusOK {
		t.Fatalf("DELETE /v2/leader = %v, want 200", r)
	}
	waitFor(t, 10*time.Second, "the master to lead a second term with the first agent back", func() bool {
		ids, st, ok := activeAgents(t, m)
		_, back := ids[firstID]
		return ok && st.ElectedTime != elected1 && back
	})
	st, _ = masterState(t, m.mesos)
	if st.ID == term1 {
		t.Errorf("master ID %q in the second term, want a new one", st.ID)
	}

	// A new agent registers in the second term.
	second := startPosixAgent(t, m)
	waitFor(t, 10*time.Second, "the new agent to register", func() bool { return agentIDOf(second) != "" })
	secondID := agentIDOf(second)
	if secondID == firstID {
		t.Fatalf("the new agent registered as %s, the ID of the existing agent", secondID)
	}
	waitFor(t, 10*time.Second, "both agents active", func() bool {
		ids, _, ok := activeAgents(t, m)
		_, a := ids[firstID]
		_, b := ids[secondID]
		return ok && len(ids) == 2 && a && b
	})
	// Neither displaces the other: over a few heartbeat intervals (1s)
	// both stay active and neither re-registers again.
	before, _, _ := activeAgents(t, m)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); <-tick.C {
		if ids, _, ok := activeAgents(t, m); ok && !maps.Equal(ids, before) {
			t.Fatalf("active agents changed from %v to %v: an agent was displaced", before, ids)
		}
	}
	if got := waitTasks(t, c, m, "/kept", 1, []string{}, 5*time.Second); !slices.Equal(got, kept) {
		t.Fatalf("/kept tasks %v, want still %v", got, kept)
	}
	if n1, n2 := launchedTasks(first), launchedTasks(second); n1 != 1 || n2 != 0 {
		t.Fatalf("agents launched %d and %d tasks, want 1 and 0: no task killed and relaunched", n1, n2)
	}
}

// healthApp serves HTTP on $PORT0 and is health-checked over HTTP every
// interval seconds.
func healthApp(id string, instances, interval int) string {
	app := map[string]any{
		"id":              id,
		"cmd":             "echo ok > index.html && exec busybox httpd -f -p $PORT0 -h .",
		"instances":       instances,
		"cpus":            0.1,
		"mem":             16,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
		"healthChecks": []map[string]any{{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
			"delaySeconds": 0, "intervalSeconds": interval, "timeoutSeconds": 1, "gracePeriodSeconds": 30, "maxConsecutiveFailures": 3}},
		"taskKillGracePeriodSeconds": 1,
	}
	b, _ := json.Marshal(app)
	return string(b)
}

// appHealth is GET /v2/apps/{id}: its tasks, tasksHealthy, and whether
// every task has a passing health check result.
func appHealth(c *apiClient, m *marathonMaster, id string) (tasks []string, healthy int, allAlive bool) {
	r := c.do(http.MethodGet, m.url("/v2/apps"+id), "")
	var v marathon.AppSingle
	if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
		return nil, 0, false
	}
	allAlive = true
	for _, task := range v.App.Tasks {
		tasks = append(tasks, task.ID)
		allAlive = allAlive && len(task.HealthCheckResults) == 1 && task.HealthCheckResults[0].Alive
	}
	slices.Sort(tasks)
	if v.App.Counts != nil {
		healthy = v.App.Counts.Healthy
	}
	return tasks, healthy, allAlive
}

// TestMasterRestartKeepsHealth: the only masterd is killed (-9) and
// restarted under running, health-checked tasks. While it waits for its
// old lease it answers 503, never a redirect to itself; the agent, with
// agentd's default backoff, re-registers within 3s of the master leading
// (its reachable backoff is 1s; grown while the master answered 503 it
// would wait up to 8s); the tasks' last health verdicts, stored with them,
// are served from the moment it leads and stay through the agent's
// re-registration, so no router following health drops a backend. The
// bounds leave room for a loaded 2-core machine.
func TestMasterRestartKeepsHealth(t *testing.T) {
	const interval = 1 // seconds between health checks
	_, etcdURL := statetest.Start(t)
	// A longer lease than the tests' 2s: the restarted master waits for
	// its old one long enough for the agent's backoff to grow.
	m := startMarathonMaster(t, "a", etcdURL, "--election-ttl", "6s")
	c := newAPIClient(nil)
	leaderOf(t, c, 15*time.Second, m)
	work := startPosixAgentWith(t, nil, m) // agentd's default backoff
	if r := c.do(http.MethodPost, m.url("/v2/apps"), healthApp("/web", 2, interval)); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps = %v, want 201", r)
	}
	var tasks []string
	waitFor(t, 30*time.Second, "2 healthy tasks of /web", func() bool {
		var healthy int
		var alive bool
		tasks, healthy, alive = appHealth(c, m, "/web")
		return len(tasks) == 2 && healthy == 2 && alive
	})
	agent := agentIDOf(work)

	m.kill()
	killed := time.Now()
	m.start()
	var codes []string
	var led time.Time
	waitFor(t, 20*time.Second, "the restarted master to lead", func() bool {
		code, loc, _ := get(m.mesos, "/master/state")
		if code != 0 && (len(codes) == 0 || !strings.HasPrefix(codes[len(codes)-1], fmt.Sprint(code))) {
			codes = append(codes, fmt.Sprint(code, " ", loc))
		}
		if code == http.StatusOK {
			led = time.Now()
			return true
		}
		return false
	})
	t.Logf("restarted master leads %v after the kill (election TTL 6s); /master/state answered %q", led.Sub(killed).Round(time.Millisecond), codes)
	for _, c := range codes[:len(codes)-1] {
		if !strings.HasPrefix(c, "503") {
			t.Errorf("/master/state answered %s while the restarted master waited to lead, want only 503", c)
		}
	}
	// Its first answer already has the last verdicts, stored with the
	// tasks: a router following health keeps every backend meanwhile.
	var first []string
	var firstHealthy int
	var firstAlive bool
	waitFor(t, 10*time.Second, "the restarted master's /v2/apps/web", func() bool {
		first, firstHealthy, firstAlive = appHealth(c, m, "/web")
		return first != nil
	})
	if !slices.Equal(first, tasks) || firstHealthy != 2 || !firstAlive {
		t.Errorf("as the restarted master led, /v2/apps/web had tasks %v, %d healthy (all alive: %v); want %v, both healthy", first, firstHealthy, firstAlive, tasks)
	}
	var back time.Time
	waitFor(t, 30*time.Second, "the agent to re-register", func() bool {
		ids, _, ok := activeAgents(t, m)
		_, active := ids[agent]
		back = time.Now()
		return ok && active
	})
	t.Logf("agent re-registered %v after the master led", back.Sub(led).Round(time.Millisecond))
	if d := back.Sub(led); d > 3*time.Second {
		t.Errorf("agent re-registered %v after the master led, want within 3s", d.Round(time.Millisecond))
	}
	// The agent confirms the verdicts (reconciliation, re-sent updates):
	// through four health-check intervals both tasks stay healthy.
	for end := time.Now().Add(4 * interval * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got, n, alive := appHealth(c, m, "/web"); !slices.Equal(got, tasks) || n != 2 || !alive {
			t.Fatalf("after the agent re-registered /v2/apps/web had tasks %v, %d healthy (all alive: %v); want %v, both healthy", got, n, alive, tasks)
		}
	}
	if n := launchedTasks(work); n != 2 {
		t.Errorf("agent launched %d tasks, want 2: none relaunched", n)
	}
}
