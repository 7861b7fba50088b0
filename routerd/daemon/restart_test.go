package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/mesos"
	"corral/routerd/snapshot"
	"corral/tstest"

	"github.com/miekg/dns"
)

// TestRestartWithoutMarathon: a routerd restarted while Marathon is away
// (a node rebooted during a master failover) routes the apps it saw last,
// saved in --state-dir, and says so in its health, instead of refusing
// every service port until Marathon is back; it follows Marathon again
// once it answers. A file saved longer ago than --state-max-age, or
// damaged, is ignored, not fatal.
func TestRestartWithoutMarathon(t *testing.T) {
	m := newFakeMarathon(t, "testdata/apps.json")
	cfg := testConfig(m.srv.URL, "127.0.0.6")
	cfg.StateDir = t.TempDir()
	d, stop := startDaemonWith(t, cfg)
	tstest.WaitFor(t, 5*time.Second, "routes from Marathon", func() bool {
		return d.Router.Table().Listener("127.0.0.6:10101") != nil
	})
	before, _ := json.Marshal(d.Router.Table().Services)
	stop() // saves the last apps, if the loop has not yet

	m.setDown(true)
	d, stop = startDaemonWith(t, cfg)
	// The table is published just before its listeners are bound.
	tstest.WaitFor(t, 5*time.Second, "/web's service port from the saved routes", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.6:10101", time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if after, _ := json.Marshal(d.Router.Table().Services); string(after) != string(before) {
		t.Errorf("routes after a restart without Marathon:\n%s\nwant those before it:\n%s", after, before)
	}
	var h struct {
		Status   string   `json:"status"`
		Problems []string `json:"problems"`
	}
	admin := "http://" + d.AdminAddr() + "/_router/health"
	if code := getJSON(t, admin, &h); code != http.StatusServiceUnavailable || !strings.Contains(strings.Join(h.Problems, ";"), "routing the apps saved at") {
		t.Errorf("health while routing saved apps: %d %+v, want degraded, saying so", code, h)
	}
	m.setDown(false)
	tstest.WaitFor(t, 5*time.Second, "health ok once Marathon answers", func() bool {
		h.Problems = nil
		return getJSON(t, admin, &h) == http.StatusOK
	})
	stop()

	// Saved longer ago than --state-max-age, or damaged: not used.
	path := filepath.Join(cfg.StateDir, appsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]json.RawMessage
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	saved["saved"] = json.RawMessage(`"` + time.Now().Add(-cfg.StateMaxAge-time.Minute).UTC().Format(time.RFC3339) + `"`)
	aged, _ := json.Marshal(saved)
	m.setDown(true)
	for what, body := range map[string][]byte{"an aged file": aged, "a damaged file": []byte(`{"format":1,"data":[{"id":`)} {
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		d, stop = startDaemonWith(t, cfg)
		tstest.WaitFor(t, 5*time.Second, "a degraded health with "+what, func() bool {
			h.Problems = nil
			return getJSON(t, "http://"+d.AdminAddr()+"/_router/health", &h) == http.StatusServiceUnavailable &&
				strings.Contains(strings.Join(h.Problems, ";"), "no route table yet")
		})
		if d.Router.Table().Listener("127.0.0.6:10101") != nil {
			t.Errorf("with %s /web is routed, want nothing until Marathon answers", what)
		}
		stop()
	}
}

// TestRestartWithoutMasters: a routerd restarted while no master answers
// serves the names of the state it saved last (here, the records' own
// fixture) instead of none, and its health says how old they are.
func TestRestartWithoutMasters(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../dns/records/testdata/state.json")
	if err != nil {
		t.Fatal(err)
	}
	var st mesos.MasterState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	saver := snapshot.NewSaver[mesos.MasterState](filepath.Join(dir, stateFile), slog.New(slog.NewTextHandler(io.Discard, nil)))
	saver.Set(st)
	saver.Flush()

	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close() // no master there
	cfg := testConfig("", "")
	cfg.Routing = false
	cfg.StateDir = dir
	cfg.DNS.Enabled = true
	cfg.DNS.Source.Masters = []string{dead.Addr().String()}
	cfg.DNS.Resolver.Listen, cfg.DNS.Resolver.HTTPListen = "127.0.0.1:0", ""
	d, _ := startDaemonWith(t, cfg)
	q := new(dns.Msg)
	q.SetQuestion("apiserver.marathon.mesos.", dns.TypeA)
	var answer string
	tstest.WaitFor(t, 5*time.Second, "an answer from the saved state", func() bool {
		r, err := dns.Exchange(q, d.DNSAddr().String())
		if err != nil || len(r.Answer) == 0 {
			return false
		}
		answer = r.Answer[0].(*dns.A).A.String()
		return true
	})
	if answer != "9.0.0.5" {
		t.Errorf("apiserver.marathon.mesos A = %s, want 9.0.0.5, as in the saved state", answer)
	}
	var h struct {
		Problems []string `json:"problems"`
	}
	getJSON(t, "http://"+d.AdminAddr()+"/_router/health", &h)
	if !strings.Contains(strings.Join(h.Problems, ";"), "serving records") {
		t.Errorf("health problems %q, want the masters unreachable and the records' age", h.Problems)
	}
}
