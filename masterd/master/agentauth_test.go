package master

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/mesos"
	"corral/tstest/testca"
)

const testSecret = "correct horse battery staple"

// rawAgent makes agent calls as an attacker would: by hand, from a chosen
// loopback address (another "host"), with the headers it likes.
type rawAgent struct {
	url    string
	client *http.Client
}

func newRawAgent(c *cluster, src string, tlsCfg *tls.Config) *rawAgent {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &rawAgent{url: c.srv.URL, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: tlsCfg},
	}}
}

// call posts an agent call and returns its status and body; a 200 stream
// is closed at once.
func (r *rawAgent) call(t *testing.T, call mesos.AgentCall, header ...string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(call)
	req, _ := http.NewRequest(http.MethodPost, r.url+mesos.AgentAPIPath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s from the raw agent: %v", call.Type, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func subscribeCall(id, hostname, bootID string) mesos.AgentCall {
	return mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: mesos.AgentInfo{
		ID: id, Hostname: hostname, Port: 5051, BootID: bootID,
		Resources: mesos.MustParseResources("cpus:64;mem:262144"),
	}}}
}

// runningTask starts an agent on c, launches task "web.1" on it through a
// framework and has the agent report it running.
func runningTask(t *testing.T, c *cluster) (*testAgent, *testFramework) {
	t.Helper()
	a := c.startAgent("h1", "cpus:4;mem:1024")
	f := c.subscribe(mesos.FrameworkInfo{Name: "marathon"})
	launch(t, c.master(), f, f.waitOffer(t, a.link.AgentID()), "web.1", "cpus:1;mem:128", 0)
	waitFor(t, 5*time.Second, "LAUNCH at the agent", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "web.1", mesos.TaskRunning, "u-1")
	f.waitEvent(t, "TASK_RUNNING at the framework", isUpdate("web.1", mesos.TaskRunning))
	return a, f
}

// unchanged checks that the attack changed nothing: the agent's stream is
// still its own (a heartbeat on it is accepted, which also orders this
// check after anything the attack queued), it got no KILL, the framework
// heard nothing but TASK_RUNNING of web.1, and the master still has web.1
// running on the agent, which is active with its own host name.
func unchanged(t *testing.T, c *cluster, a *testAgent, f *testFramework) {
	t.Helper()
	if err := a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallHeartbeat}); err != nil {
		t.Fatalf("the real agent's heartbeat after the attack: %v (its stream was taken over)", err)
	}
	if ev, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventKill }); ok {
		t.Errorf("the real agent was sent %+v", ev.Kill)
	}
	if ev, ok := f.find(func(ev mesos.Event) bool {
		return ev.Type == mesos.EventTypeUpdate && ev.Update.State != mesos.TaskRunning
	}); ok {
		t.Errorf("the framework got %s for %s (%s)", ev.Update.State, ev.Update.TaskID, ev.Update.Message)
	}
	st := c.master().State(nil)
	if len(st.Slaves) != 1 || !st.Slaves[0].Active || st.Slaves[0].Hostname != "h1" || st.Slaves[0].ID != a.link.AgentID() {
		t.Errorf("agents after the attack = %+v, want only %s (h1), active", st.Slaves, a.link.AgentID())
	}
	var tasks []string
	for _, fw := range st.Frameworks {
		for _, task := range fw.Tasks {
			tasks = append(tasks, fmt.Sprintf("%s %s on %s", task.ID, task.State, task.SlaveID))
		}
	}
	if want := "web.1 TASK_RUNNING on " + a.link.AgentID(); len(tasks) != 1 || tasks[0] != want {
		t.Errorf("tasks after the attack = %q, want [%q]", tasks, want)
	}
	rec, _, err := c.store.Agents().Get(context.Background(), a.link.AgentID())
	if err != nil || rec.Info.Hostname != "h1" {
		t.Errorf("registry entry of %s after the attack = %+v, %v; want host name h1", a.link.AgentID(), rec.Info, err)
	}
}

// TestAgentSecretRequired: with a secret, SUBSCRIBE, UPDATE and HEARTBEAT
// without it or with a wrong one get 401, the master logs who tried, and
// nothing registers; an agent with the secret registers.
func TestAgentSecretRequired(t *testing.T) {
	c := newCluster(t, func(cfg *Config) { cfg.AgentSecret = testSecret })
	c.secret = testSecret
	a, f := runningTask(t, c)
	intruder := newRawAgent(c, "127.0.0.2", nil)

	for _, tc := range []struct {
		name   string
		call   mesos.AgentCall
		header []string
	}{
		{"SUBSCRIBE without the secret", subscribeCall("", "evil", ""), nil},
		{"SUBSCRIBE with a wrong secret", subscribeCall("", "evil", ""), []string{"Authorization", "Bearer guess"}},
		{"SUBSCRIBE as basic auth", subscribeCall("", "evil", ""), []string{"Authorization", "Basic " + testSecret}},
		{"re-SUBSCRIBE as the agent without the secret", subscribeCall(a.link.AgentID(), "evil", ""), nil},
		{"HEARTBEAT without the secret", mesos.AgentCall{Type: mesos.AgentCallHeartbeat, AgentID: a.link.AgentID()}, nil},
		{"UPDATE with a wrong secret", mesos.AgentCall{Type: mesos.AgentCallUpdate, AgentID: a.link.AgentID(), Update: &mesos.AgentUpdate{
			FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskFailed}}}, []string{"Authorization", "Bearer " + testSecret + "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := intruder.call(t, tc.call, tc.header...)
			if code != http.StatusUnauthorized {
				t.Fatalf("%s = %d %q, want 401", tc.name, code, body)
			}
		})
	}
	unchanged(t, c, a, f)
	logs := c.logs.String()
	for _, want := range []string{"agent call refused: not authenticated", "remote=127.0.0.2:", "claimed_hostname=evil", "claimed_agent=" + a.link.AgentID(), "reason=\"wrong secret\"", "reason=\"no bearer token\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("the master's log does not say %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, testSecret) {
		t.Errorf("the master's log holds the secret:\n%s", logs)
	}
}

// TestLiveAgentIDNotTakenOver: with the secret alone (every agent holds
// it), a SUBSCRIBE that reuses a live agent's ID from another host, or
// with another boot ID, gets 403 and nothing changes: the real agent's
// task is neither lost nor killed. (Before, such a SUBSCRIBE with an empty
// task list made the master report every task of the agent lost.)
func TestLiveAgentIDNotTakenOver(t *testing.T) {
	c := newCluster(t, func(cfg *Config) { cfg.AgentSecret = testSecret })
	c.secret = testSecret
	a, f := runningTask(t, c)
	auth := []string{"Authorization", "Bearer " + testSecret}

	for _, tc := range []struct{ name, src, bootID string }{
		{"from another host", "127.0.0.2", ""},
		{"from the same address with another boot ID", "127.0.0.1", "another-boot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := newRawAgent(c, tc.src, nil).call(t, subscribeCall(a.link.AgentID(), "evil", tc.bootID), auth...)
			if code != http.StatusForbidden || !strings.Contains(body, "is refused while that stream is alive") {
				t.Fatalf("SUBSCRIBE as %s %s = %d %q, want 403", a.link.AgentID(), tc.name, code, body)
			}
			unchanged(t, c, a, f)
		})
	}
	if logs := c.logs.String(); !strings.Contains(logs, "agent call refused: not authorized") || !strings.Contains(logs, "remote=127.0.0.2:") {
		t.Errorf("the master's log does not name the refused re-registration:\n%s", logs)
	}

	// The agent itself, restarted on its host (same address, same boot
	// ID), takes its ID back, as agentd does after an upgrade.
	a.stop()
	b := c.startAgentAs(a.link.AgentID(), "h1", "cpus:4;mem:1024", a.taskList())
	if b.link.AgentID() != a.link.AgentID() {
		t.Fatalf("re-registered as %q, want %q", b.link.AgentID(), a.link.AgentID())
	}
}

// TestForgedUpdateRefused: an agent (it holds the secret) that reports a
// status for another agent's task gets 403, and the task stays running.
func TestForgedUpdateRefused(t *testing.T) {
	c := newCluster(t, func(cfg *Config) { cfg.AgentSecret = testSecret })
	c.secret = testSecret
	a, f := runningTask(t, c)
	// A second, properly registered agent on another "host".
	evil := newRawAgent(c, "127.0.0.2", nil)
	auth := []string{"Authorization", "Bearer " + testSecret}
	body, _ := json.Marshal(subscribeCall("", "evil", ""))
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+mesos.AgentAPIPath, strings.NewReader(string(body)))
	req.Header.Set(auth[0], auth[1])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := evil.client.Do(req.WithContext(ctx))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the second agent's SUBSCRIBE: %v %v", resp, err)
	}
	defer resp.Body.Close()
	var ev mesos.AgentEvent
	if err := mesos.NewRecordReader(resp.Body).Read(&ev); err != nil || ev.Subscribed == nil {
		t.Fatalf("the second agent's first event: %+v, %v", ev, err)
	}
	evilID, stream := ev.Subscribed.AgentID, resp.Header.Get(mesos.StreamIDHeader)

	for _, st := range []mesos.TaskState{mesos.TaskFailed, mesos.TaskRunning} {
		code, msg := evil.call(t, mesos.AgentCall{Type: mesos.AgentCallUpdate, AgentID: evilID, Update: &mesos.AgentUpdate{
			FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "web.1", State: st, UUID: "forged", Message: "forged"}}},
			append(auth, mesos.StreamIDHeader, stream)...)
		if code != http.StatusForbidden || !strings.Contains(msg, "runs on agent "+`"`+a.link.AgentID()+`"`) {
			t.Fatalf("forged %s for web.1 from %s = %d %q, want 403", st, evilID, code, msg)
		}
	}
	// Its own agent ID with the real agent's stream ID it cannot know;
	// the real agent's ID on its own stream is not the agent's stream.
	code, msg := evil.call(t, mesos.AgentCall{Type: mesos.AgentCallUpdate, AgentID: a.link.AgentID(), Update: &mesos.AgentUpdate{
		FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskFailed}}},
		append(auth, mesos.StreamIDHeader, stream)...)
	if code != http.StatusBadRequest {
		t.Fatalf("UPDATE as %s on another agent's stream = %d %q, want 400", a.link.AgentID(), code, msg)
	}
	if ev, ok := f.find(func(ev mesos.Event) bool { return ev.Type == mesos.EventTypeUpdate && ev.Update.UUID == "forged" }); ok {
		t.Fatalf("the framework got the forged update %+v", ev.Update)
	}
	st := c.master().State(nil)
	for _, fw := range st.Frameworks {
		for _, task := range fw.Tasks {
			if task.ID == "web.1" && (task.State != mesos.TaskRunning || task.SlaveID != a.link.AgentID()) {
				t.Fatalf("web.1 after the forged updates: %s on %s, want TASK_RUNNING on %s", task.State, task.SlaveID, a.link.AgentID())
			}
		}
	}
}

// TestAgentIDBoundToCertificate: with mutual TLS, an agent ID belongs to
// the certificate that first registered it, on this master and on the
// next one (the binding is in the registry): another certificate of the
// same CA gets 403, no certificate 401.
func TestAgentIDBoundToCertificate(t *testing.T) {
	ca := testca.New(t, "agents")
	server := ca.Issue(t, "master")
	serverCert, err := tls.LoadX509KeyPair(server.CertFile, server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS := func(name string) *tls.Config {
		p := ca.Issue(t, name)
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{cert}}
	}
	c := newClusterTLS(t, func(cfg *Config) { cfg.AgentCerts = true }, &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.Pool, ClientAuth: tls.VerifyClientCertIfGiven,
	})
	c.clientTLS = clientTLS("agent-h1")
	a, f := runningTask(t, c)
	id := a.link.AgentID()
	rec, _, err := c.store.Agents().Get(context.Background(), id)
	if err != nil || rec.Identity != "CN=agent-h1" {
		t.Fatalf("registry entry of %s: identity %q, %v; want CN=agent-h1", id, rec.Identity, err)
	}

	other := newRawAgent(c, "127.0.0.1", clientTLS("agent-h2"))
	code, body := other.call(t, subscribeCall(id, "evil", ""))
	if code != http.StatusForbidden || !strings.Contains(body, `belongs to the certificate "CN=agent-h1"`) {
		t.Fatalf("SUBSCRIBE as %s with another certificate = %d %q, want 403", id, code, body)
	}
	code, body = newRawAgent(c, "127.0.0.1", &tls.Config{RootCAs: ca.Pool}).call(t, subscribeCall(id, "evil", ""))
	if code != http.StatusUnauthorized {
		t.Fatalf("SUBSCRIBE as %s without a certificate = %d %q, want 401", id, code, body)
	}
	unchanged(t, c, a, f)

	// A new leader, the agent gone: the binding comes from the registry.
	a.stop()
	c.depose()
	c.elect("m2")
	code, body = other.call(t, subscribeCall(id, "evil", ""))
	if code != http.StatusForbidden {
		t.Fatalf("after a failover, SUBSCRIBE as %s with another certificate = %d %q, want 403", id, code, body)
	}
	b := c.startAgentAs(id, "h1", "cpus:4;mem:1024", a.taskList())
	if b.link.AgentID() != id {
		t.Fatalf("after a failover the agent re-registered as %q, want %q", b.link.AgentID(), id)
	}
}

// BenchmarkAgentHeartbeat is the master's cost of one agent call, a
// HEARTBEAT on a registered agent's stream, served in process (no
// network), without and with the agent secret checked.
func BenchmarkAgentHeartbeat(b *testing.B) {
	for _, tc := range []struct{ name, secret string }{{"open", ""}, {"secret", testSecret}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newClusterTLS(b, func(cfg *Config) {
				cfg.AgentSecret, cfg.AgentPingTimeout = tc.secret, time.Minute
			}, nil)
			body, _ := json.Marshal(subscribeCall("", "h1", ""))
			req, _ := http.NewRequest(http.MethodPost, c.srv.URL+mesos.AgentAPIPath, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+tc.secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("SUBSCRIBE: %v %v", resp, err)
			}
			defer resp.Body.Close()
			var ev mesos.AgentEvent
			if err := mesos.NewRecordReader(resp.Body).Read(&ev); err != nil {
				b.Fatal(err)
			}
			go io.Copy(io.Discard, resp.Body)
			hb := []byte(`{"type":"HEARTBEAT","agent_id":"` + ev.Subscribed.AgentID + `"}`)
			stream := resp.Header.Get(mesos.StreamIDHeader)
			m := c.master()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, mesos.AgentAPIPath, bytes.NewReader(hb))
				req.Header.Set(mesos.StreamIDHeader, stream)
				if tc.secret != "" {
					req.Header.Set("Authorization", "Bearer "+tc.secret)
				}
				rec := httptest.NewRecorder()
				m.ServeAgentAPI(rec, req)
				if rec.Code != http.StatusAccepted {
					b.Fatalf("HEARTBEAT = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
