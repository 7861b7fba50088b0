package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/agentd/masterlink"
	"corral/dns/source"
	"corral/masterd/state/statetest"
	"corral/mesos"
	"corral/tstest"
	"corral/tstest/testca"
)

// startLogged runs masterd on an embedded etcd of its own with its log in
// a buffer the test reads.
func startLogged(t *testing.T, extra ...string) (*proc, *tstest.LockedBuffer) {
	t.Helper()
	cfg := statetest.Config(t)
	port := statetest.FreePort(t)
	args := append([]string{
		"--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--marathon-listen", "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		"--hostname", "127.0.0.1",
		"--work-dir", t.TempDir(), "--etcd-listen-client", cfg.ClientURL, "--etcd-listen-peer", cfg.PeerURL,
	}, extra...)
	log := &tstest.LockedBuffer{}
	cmd := exec.Command(masterdBinary(t), args...)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, port: port, args: args}
	t.Cleanup(func() { p.kill() })
	return p, log
}

// request makes one request, with basic auth when auth is user, password;
// a failed connection is status 0.
func request(t *testing.T, client *http.Client, method, url, body string, auth ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err.Error() // not up yet, or refused
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runLink runs an agent's link until the test ends.
func runLink(t *testing.T, cfg masterlink.Config) *masterlink.Link {
	t.Helper()
	cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	if cfg.Info.Port == 0 {
		cfg.Info.Port, cfg.Info.Resources = 5051, mesos.MustParseResources("cpus:2;mem:1024")
	}
	l, err := masterlink.New(cfg, func(context.Context, mesos.AgentEvent) {}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// TestMesosPortCredentials: with --http-credentials the Mesos port refuses
// anonymous reads of the cluster (/master/state, /state, the operator
// API) with 401 and serves them with the credentials, while probes, the
// leader lookup and the agent protocol stay open; the resolver's source
// reads the state with the credentials (routerd --mesos-credentials).
func TestMesosPortCredentials(t *testing.T) {
	p, _ := startLogged(t, "--http-credentials", "admin:s3cr:et")
	base := "http://" + p.addr()
	// /master/state answers before the election is over, without a leader.
	waitFor(t, 10*time.Second, "the master to lead", func() bool {
		code, _, body := request(t, noRedirect, "GET", base+"/master/state", "", "admin", "s3cr:et")
		return code == http.StatusOK && strings.Contains(body, `"leader":"master@`)
	})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/master/state", ""},
		{"GET", "/master/state.json", ""},
		{"GET", "/state", ""},
		{"POST", "/api/v1", `{"type":"GET_STATE"}`},
		{"GET", "/metrics/snapshot", ""},
	} {
		code, h, _ := request(t, noRedirect, tc.method, base+tc.path, tc.body)
		if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Basic realm="mesos"` {
			t.Errorf("anonymous %s %s = %d (WWW-Authenticate %q), want 401 with the challenge", tc.method, tc.path, code, h.Get("WWW-Authenticate"))
		}
		if code, _, _ := request(t, noRedirect, tc.method, base+tc.path, tc.body, "admin", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong password = %d, want 401", tc.method, tc.path, code)
		}
	}
	code, _, body := request(t, noRedirect, "GET", base+"/master/state", "", "admin", "s3cr:et")
	if code != http.StatusOK || !strings.Contains(body, `"leader":"master@`) {
		t.Fatalf("/master/state with the credentials = %d %.200s", code, body)
	}
	if strings.Contains(body, "s3cr:et") {
		t.Error("/master/state hands out the credentials in its flags")
	}
	code, _, body = request(t, noRedirect, "POST", base+"/api/v1", `{"type":"GET_HEALTH"}`, "admin", "s3cr:et")
	if code != http.StatusOK || !strings.Contains(body, `"healthy":true`) {
		t.Errorf("GET_HEALTH with the credentials = %d %.200s", code, body)
	}
	for _, path := range []string{"/health", "/master/health"} {
		if code, _, _ := request(t, noRedirect, "GET", base+path, ""); code != http.StatusOK {
			t.Errorf("anonymous GET %s = %d, want 200 (probes need no credentials)", path, code)
		}
	}
	if code, _, _ := request(t, noRedirect, "GET", base+"/master/redirect", ""); code != http.StatusTemporaryRedirect {
		t.Errorf("anonymous GET /master/redirect = %d, want 307", code)
	}
	// Agents authenticate with the agent secret, not the HTTP credentials.
	l := runLink(t, masterlink.Config{Masters: []string{p.addr()}, Info: mesos.AgentInfo{Hostname: "h1"}})
	select {
	case <-l.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("an agent did not register on a master with --http-credentials")
	}

	// The resolver's source: refused without the credentials, served with.
	read := func(creds string) (mesos.MasterState, error) {
		cfg := source.DefaultConfig()
		cfg.Masters, cfg.Credentials, cfg.MaxBackoff = []string{p.addr()}, creds, 200*time.Millisecond
		src, err := source.New(cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		got := make(chan mesos.MasterState, 1)
		go src.Run(ctx, func(st mesos.MasterState) {
			select {
			case got <- st:
			default:
			}
			cancel()
		})
		<-ctx.Done() // the callback cancels it too
		select {
		case st := <-got:
			return st, nil
		default:
			return mesos.MasterState{}, src.Status().Err
		}
	}
	if st, err := read("admin:s3cr:et"); err != nil || len(st.Slaves) != 1 {
		t.Errorf("the resolver's source with the credentials: %d agents, %v; want the one agent", len(st.Slaves), err)
	}
	if _, err := read(""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("the resolver's source without the credentials: %v, want a 401", err)
	}
}

// TestAgentSecretFile: masterd --agent-secret-file refuses agents without
// the secret (401, logged with the caller) and registers agentd's link
// with it; an empty file is a flag error; without the flag masterd warns.
func TestAgentSecretFile(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "agent-secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, log := startLogged(t, "--agent-secret-file", secretFile)
	waitFor(t, 10*time.Second, "the master to lead", func() bool {
		code, _, _ := get(p.addr(), "/master/state")
		return code == http.StatusOK
	})
	sub, _ := json.Marshal(mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: mesos.AgentInfo{
		Hostname: "intruder", Port: 5051, Resources: mesos.MustParseResources("cpus:64;mem:262144")}}})
	code, h, body := request(t, noRedirect, "POST", "http://"+p.addr()+mesos.AgentAPIPath, string(sub))
	if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("SUBSCRIBE without the secret = %d %q, want 401", code, body)
	}
	l := runLink(t, masterlink.Config{Masters: []string{p.addr()}, Info: mesos.AgentInfo{Hostname: "h1"}, Secret: "s3cret-token"})
	select {
	case <-l.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("an agent with the secret did not register")
	}
	st, _ := masterState(t, p.addr())
	if len(st.Slaves) != 1 || st.Slaves[0].Hostname != "h1" {
		t.Fatalf("agents = %+v, want h1 only (not the intruder)", st.Slaves)
	}
	waitFor(t, 5*time.Second, "the refusal in masterd's log", func() bool {
		return strings.Contains(log.String(), "agent call refused: not authenticated") && strings.Contains(log.String(), "claimed_hostname=intruder")
	})
	if strings.Contains(log.String(), "agents are not authenticated") {
		t.Error("masterd with --agent-secret-file warns that agents are not authenticated")
	}

	// The real agentd: with the secret file it registers, with a wrong
	// one it does not.
	wrongFile := filepath.Join(dir, "wrong-secret")
	os.WriteFile(wrongFile, []byte("guess\n"), 0o600)
	m := &marathonMaster{mesos: p.addr()}
	startPosixAgentWith(t, []string{"--registration-backoff", "50ms", "--secret-file", wrongFile, "--hostname", "agentd-wrong"}, m)
	startPosixAgentWith(t, []string{"--registration-backoff", "50ms", "--secret-file", secretFile, "--hostname", "agentd-right"}, m)
	waitFor(t, 15*time.Second, "agentd with the secret file to register", func() bool {
		st, _ := masterState(t, p.addr())
		for _, a := range st.Slaves {
			if a.Hostname == "agentd-right" && a.Active {
				return true
			}
		}
		return false
	})
	waitFor(t, 5*time.Second, "agentd with a wrong secret to be refused", func() bool {
		return strings.Contains(log.String(), "claimed_hostname=agentd-wrong")
	})
	st, _ = masterState(t, p.addr())
	if len(st.Slaves) != 2 {
		t.Fatalf("agents = %+v, want h1 and agentd-right only", st.Slaves)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	out, err := exec.Command(masterdBinary(t), "--agent-secret-file", empty).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid --agent-secret-file") {
		t.Errorf("masterd with an empty secret file: %v %s, want a flag error", err, out)
	}
	out, err = exec.Command(masterdBinary(t), "--http-credentials", "admin:").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "empty password") {
		t.Errorf("masterd --http-credentials admin: %v %s, want a flag error", err, out)
	}

	open, openLog := startLogged(t)
	waitFor(t, 10*time.Second, "the open master's warning", func() bool {
		return strings.Contains(openLog.String(), "agents are not authenticated")
	})
	_ = open
}

// TestMutualTLSAgents: a masterd serving the Mesos port over TLS with
// --tls-ca registers agents that present a certificate of the CA (and the
// secret), refuses those without one, and serves /master/state over HTTPS
// to readers without a client certificate.
func TestMutualTLSAgents(t *testing.T) {
	ca := testca.New(t, "corral")
	server := ca.Issue(t, "master")
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("s3cret"), 0o600)
	p, _ := startLogged(t, "--tls-cert", server.CertFile, "--tls-key", server.KeyFile, "--tls-ca", ca.CertFile, "--agent-secret-file", secretFile)
	reader := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	waitFor(t, 10*time.Second, "/master/state over HTTPS", func() bool {
		resp, err := reader.Get("https://" + p.addr() + "/master/state")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	agent := ca.Issue(t, "agent-h1")
	withCert, err := masterlink.ClientTLS(agent.CertFile, agent.KeyFile, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	l := runLink(t, masterlink.Config{Masters: []string{p.addr()}, Info: mesos.AgentInfo{Hostname: "h1"}, Secret: "s3cret", TLS: withCert})
	select {
	case <-l.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("an agent with a certificate of the CA did not register")
	}
	sub, _ := json.Marshal(mesos.AgentCall{Type: mesos.AgentCallSubscribe, Subscribe: &mesos.AgentSubscribe{AgentInfo: mesos.AgentInfo{
		Hostname: "intruder", Port: 5051, Resources: mesos.MustParseResources("cpus:64")}}})
	req, _ := http.NewRequest("POST", "https://"+p.addr()+mesos.AgentAPIPath, bytes.NewReader(sub))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := reader.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SUBSCRIBE with the secret but no client certificate = %d, want 401", resp.StatusCode)
	}
}

// TestMasterdOnEtcdOverTLS: masterd leads on an external etcd that serves
// TLS and requires client certificates.
func TestMasterdOnEtcdOverTLS(t *testing.T) {
	ca := testca.New(t, "etcd")
	url := statetest.StartTLS(t, ca)
	client := ca.Issue(t, "masterd")
	p := startMasterd(t, statetest.FreePort(t), "--etcd-endpoints", url,
		"--etcd-cafile", ca.CertFile, "--etcd-certfile", client.CertFile, "--etcd-keyfile", client.KeyFile)
	waitFor(t, 15*time.Second, "masterd to lead on etcd over TLS", func() bool {
		_, ok := masterState(t, p.addr())
		return ok
	})
	out, err := exec.Command(masterdBinary(t), "--etcd-endpoints", url, "--etcd-cafile", ca.CertFile, "--etcd-certfile", client.CertFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--etcd-keyfile") {
		t.Errorf("masterd with --etcd-certfile but no --etcd-keyfile: %v %s, want a flag error", err, out)
	}
}
