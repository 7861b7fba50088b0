package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/agentd/files"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// agentState is what a client reads of an agent's /state to find sandboxes.
type agentState struct {
	ID         string                      `json:"id"`
	Frameworks []mesos.AgentStateFramework `json:"frameworks"`
}

// TestTaskOutputThroughMasters reads what a task prints from the masters
// only, as the web UI does: the sandbox named by the agent's /state, then
// its stdout page by page through /agent/<agentID>/files/read, following
// new output by offset; through the standby (forwarded to the leader,
// then to the agent), with credentials and TLS, and on the Mesos port.
func TestTaskOutputThroughMasters(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	certPath, keyPath, roots := selfSignedCert(t, t.TempDir())
	flags := []string{"--http-credentials", "admin:pw", "--marathon-tls-cert", certPath, "--marathon-tls-key", keyPath}
	a := startMarathonMaster(t, "a", etcdURL, flags...)
	b := startMarathonMaster(t, "b", etcdURL, flags...)
	c := newAPIClient(roots)
	c.user, c.pass = "admin", "pw"
	lead := leaderOf(t, c, 15*time.Second, a, b)
	standby := a
	if lead == a {
		standby = b
	}
	work := startPosixAgent(t, a, b)
	app := `{"id": "/printer", "cpus": 0.1, "mem": 16, "instances": 1,
		"cmd": "echo first line; echo oops >&2; i=0; while :; do i=$((i+1)); echo line $i; sleep 0.1; done"}`
	if r := c.do(http.MethodPost, standby.url("/v2/apps"), app); r.status != http.StatusCreated {
		t.Fatalf("POST /v2/apps = %v", r)
	}
	taskID := waitTasks(t, c, lead, "/printer", 1, nil, 30*time.Second)[0]
	agent := agentIDOf(work)

	// The agent's /state, through the standby, names the task's sandbox.
	var dir, frameworkID string
	waitFor(t, 10*time.Second, "the agent's /state to list the task", func() bool {
		r := c.do(http.MethodGet, standby.url("/agent/"+agent+"/state"), "")
		var st agentState
		if r.status != http.StatusOK || json.Unmarshal(r.body, &st) != nil {
			return false
		}
		for _, f := range st.Frameworks {
			for _, e := range f.Executors {
				if e.ID == taskID && len(e.Tasks) == 1 && e.Tasks[0].State == mesos.TaskRunning {
					dir, frameworkID = e.Directory, f.ID
				}
			}
		}
		return dir != ""
	})
	if want := filepath.Join(work, "tasks"); !strings.HasPrefix(dir, want+"/") || filepath.Base(dir) != "sandbox" {
		t.Fatalf("sandbox of %s = %q, want <%s>/…/sandbox", taskID, dir, want)
	}

	read := func(m *marathonMaster, path string, offset int64) (string, int64) {
		t.Helper()
		q := url.Values{"path": {path}, "offset": {strconv.FormatInt(offset, 10)}}
		r := c.do(http.MethodGet, m.url("/agent/"+agent+"/files/read?"+q.Encode()), "")
		var p struct {
			Data   string `json:"data"`
			Offset int64  `json:"offset"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("read %s at %d on %s = %v", path, offset, m.name, r)
		}
		return p.Data, p.Offset
	}

	// Tail stdout from the start until line 20, as a log viewer does.
	_, size := read(standby, dir+"/stdout", -1)
	if size < 0 {
		t.Fatalf("read offset=-1 gave offset %d, want the file's size", size)
	}
	var out strings.Builder
	var offset int64
	waitFor(t, 20*time.Second, "line 20 on the task's stdout", func() bool {
		data, at := read(standby, dir+"/stdout", offset)
		if at != offset {
			t.Fatalf("read at %d answered offset %d", offset, at)
		}
		out.WriteString(data)
		offset += int64(len(data))
		return strings.Contains(out.String(), "line 20\n")
	})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if lines[0] != "first line" {
		t.Fatalf("stdout starts %q, want the task's first line", lines[0])
	}
	for i, l := range lines[1:] {
		if l != "line "+strconv.Itoa(i+1) {
			t.Fatalf("stdout line %d = %q after %q: tailing by offset lost or repeated output", i+2, l, lines[:i+1])
		}
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if !strings.HasPrefix(string(onDisk), out.String()) {
		t.Fatalf("tailed %q, which is not what the task wrote (%q)", out.String(), onDisk)
	}

	// The Mesos port serves the same, at Mesos's virtual path of the run.
	mesosURL := func(path string) string { return "http://" + lead.mesos + path }
	q := url.Values{"path": {"/frameworks/" + frameworkID + "/executors/" + taskID + "/runs/latest/stderr"}, "offset": {"0"}}
	if r := c.do(http.MethodGet, mesosURL("/agent/"+agent+"/files/read?"+q.Encode()), ""); r.status != http.StatusOK || compactJSON(r.body) != `{"data":"oops\n","offset":0}` {
		t.Errorf("stderr through the Mesos port = %v, want oops", r)
	}

	// Browse and download, through the leader.
	r := c.do(http.MethodGet, lead.url("/agent/"+agent+"/files/browse?"+url.Values{"path": {dir}}.Encode()), "")
	var list []files.FileInfo
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("browse = %v", r)
	}
	listed := map[string]string{}
	for _, f := range list {
		listed[f.Path] = f.Mode
	}
	if listed[dir+"/stdout"] != "-rw-r--r--" || listed[dir+"/stderr"] != "-rw-r--r--" {
		t.Errorf("browse of the sandbox = %v, want stdout and stderr", listed)
	}
	r = c.do(http.MethodGet, lead.url("/agent/"+agent+"/files/download?"+url.Values{"path": {dir + "/stdout"}}.Encode()), "")
	if r.status != http.StatusOK || !strings.HasPrefix(string(r.body), "first line\nline 1\n") {
		t.Errorf("download stdout = %d %q…", r.status, r.body[:min(len(r.body), 40)])
	}

	// What is not a sandbox, or not there, is refused.
	anon := newAPIClient(roots)
	for _, tc := range []struct {
		c      *apiClient
		m      *marathonMaster
		target string
		status int
	}{
		{c, standby, "/agent/" + agent + "/files/read?" + url.Values{"path": {dir + "/../task.json"}}.Encode(), http.StatusForbidden},
		{c, standby, "/agent/" + agent + "/files/read?" + url.Values{"path": {filepath.Join(work, "meta", "agent_id")}}.Encode(), http.StatusNotFound},
		{c, lead, "/agent/" + agent + "-nope/files/read?path=/x", http.StatusNotFound},
		{c, lead, "/agent/" + agent + "/files/read", http.StatusBadRequest},
		{anon, lead, "/agent/" + agent + "/files/read?" + url.Values{"path": {dir + "/stdout"}}.Encode(), http.StatusUnauthorized},
		{anon, standby, "/agent/" + agent + "/state", http.StatusUnauthorized},
	} {
		if r := tc.c.do(http.MethodGet, tc.m.url(tc.target), ""); r.status != tc.status {
			t.Errorf("GET %s on %s = %v, want %d", tc.target, tc.m.name, r, tc.status)
		}
	}

	// The app's end: the sandbox stays readable, listed as completed.
	if r := c.do(http.MethodDelete, lead.url("/v2/apps/printer"), ""); r.status != http.StatusOK {
		t.Fatalf("DELETE /v2/apps/printer = %v", r)
	}
	waitFor(t, 20*time.Second, "the task among the agent's completed executors", func() bool {
		r := c.do(http.MethodGet, lead.url("/agent/"+agent+"/state"), "")
		var st struct {
			Completed []mesos.AgentStateFramework `json:"completed_frameworks"`
		}
		if json.Unmarshal(r.body, &st) != nil {
			return false
		}
		for _, f := range st.Completed {
			for _, e := range f.CompletedExecutors {
				if e.ID == taskID && e.Directory == dir && len(e.CompletedTasks) == 1 && e.CompletedTasks[0].State.Terminal() {
					return true
				}
			}
		}
		return false
	})
	if data, _ := read(lead, dir+"/stdout", 0); !strings.HasPrefix(data, "first line\n") {
		t.Errorf("stdout of the ended task = %q…", data[:min(len(data), 40)])
	}
}
