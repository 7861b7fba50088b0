package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/httpauth"
	"corral/mesos"
)

// TestAgentHTTPCredentials: agentd --http-credentials guards the agent's
// own endpoint (its /state, the tasks' sandboxes) but /health; the masters'
// /agent/<id>/ proxy still comes in, with a token derived from the agents'
// shared secret; an
// agent without credentials warns that it is open.
func TestAgentHTTPCredentials(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "agent-secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := startLogged(t, "--agent-secret-file", secretFile, "--http-credentials", "admin:pw")
	m := &marathonMaster{mesos: p.addr()}
	work := startPosixAgentWith(t, []string{"--registration-backoff", "50ms", "--secret-file", secretFile, "--http-credentials", "ops:agent-pw"}, m)
	var agentAddr, agentID string
	waitFor(t, 15*time.Second, "the agent to register", func() bool {
		code, _, body := request(t, noRedirect, "GET", "http://"+p.addr()+"/master/state", "", "admin", "pw")
		var st mesos.MasterState
		if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st.Slaves) != 1 || !st.Slaves[0].Active {
			return false
		}
		agentAddr = st.Slaves[0].PID[strings.Index(st.Slaves[0].PID, "@")+1:]
		agentID = st.Slaves[0].ID
		return true
	})
	base := "http://" + agentAddr
	for _, path := range []string{"/state", "/files/browse?path=" + filepath.Join(work, "tasks"), "/metrics", "/monitor/statistics"} {
		code, h, _ := request(t, noRedirect, "GET", base+path, "")
		if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Basic realm="mesos"` {
			t.Errorf("anonymous GET %s on the agent = %d (WWW-Authenticate %q), want 401 with the challenge", path, code, h.Get("WWW-Authenticate"))
		}
		if code, _, _ := request(t, noRedirect, "GET", base+path, "", "ops", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s on the agent with a wrong password = %d, want 401", path, code)
		}
	}
	if code, _, body := request(t, noRedirect, "GET", base+"/state", "", "ops", "agent-pw"); code != http.StatusOK || !strings.Contains(body, agentID) {
		t.Errorf("GET /state on the agent with its credentials = %d %.200s, want 200", code, body)
	}
	if code, _, _ := request(t, noRedirect, "GET", base+"/health", ""); code != http.StatusOK {
		t.Errorf("anonymous GET /health on the agent = %d, want 200 (probes need no credentials)", code)
	}
	bearer := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/state", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := bearer(httpauth.AgentProxyToken("s3cret-token")); code != http.StatusOK {
		t.Errorf("GET /state on the agent with the masters' token = %d, want 200", code)
	}
	// The secret itself is for the agent protocol only.
	if code := bearer("s3cret-token"); code != http.StatusUnauthorized {
		t.Errorf("GET /state on the agent with the agents' secret itself = %d, want 401", code)
	}
	if code := bearer("guess"); code != http.StatusUnauthorized {
		t.Errorf("GET /state on the agent with a wrong bearer token = %d, want 401", code)
	}
	// Through the master, with the master's credentials only.
	if code, _, body := request(t, noRedirect, "GET", "http://"+p.addr()+"/agent/"+agentID+"/state", "", "admin", "pw"); code != http.StatusOK || !strings.Contains(body, agentID) {
		t.Errorf("GET /agent/<id>/state through the master = %d %.200s, want 200", code, body)
	}

	// A typo in the flag stops agentd at once.
	out, err := exec.Command(agentdBinary(t), "--master", "127.0.0.1:1", "--work-dir", t.TempDir(), "--isolation", "posix", "--http-credentials", "ops:").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid --http-credentials: empty password") {
		t.Errorf("agentd --http-credentials ops: = %v %q, want a flag error", err, out)
	}
	// Without credentials the agent says it is open.
	open := startPosixAgentWith(t, []string{"--registration-backoff", "50ms", "--secret-file", secretFile}, m)
	waitFor(t, 10*time.Second, "the open agent's warning", func() bool {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(open), "agentd.log"))
		return strings.Contains(string(b), "the agent's HTTP endpoint is not authenticated")
	})
}
