package server_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"corral/masterd/metrics/metricstest"
	"corral/masterd/state/statetest"
)

// TestEveryMasterServesItsOwnMetrics: /metrics and /metrics/snapshot are
// answered by each master, not redirected: the leader says it is elected,
// the standby that it is not, as Mesos masters do.
func TestEveryMasterServesItsOwnMetrics(t *testing.T) {
	_, etcdURL := statetest.Start(t)
	flags := []string{"--etcd-endpoints", etcdURL, "--election-ttl", "2s"}
	a := startMasterd(t, statetest.FreePort(t), flags...)
	b := startMasterd(t, statetest.FreePort(t), flags...)
	elected := map[string]float64{}
	waitFor(t, 10*time.Second, "one leader and one standby", func() bool {
		ca, _, _ := get(a.addr(), "/master/state")
		cb, _, _ := get(b.addr(), "/master/state")
		return ca == http.StatusOK && cb == http.StatusTemporaryRedirect || cb == http.StatusOK && ca == http.StatusTemporaryRedirect
	})
	for _, p := range []*proc{a, b} {
		code, loc, body := get(p.addr(), "/metrics/snapshot")
		if code != http.StatusOK {
			t.Fatalf("GET %s/metrics/snapshot: %d (Location %q), want 200 from the master itself", p.addr(), code, loc)
		}
		snap := metricstest.Snapshot(t, "http://"+p.addr()+"/metrics/snapshot")
		elected[p.addr()] = snap["master/elected"]
		code, _, body = get(p.addr(), "/metrics")
		if code != http.StatusOK {
			t.Fatalf("GET %s/metrics: %d", p.addr(), code)
		}
		fams, err := metricstest.Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parsing %s/metrics: %v", p.addr(), err)
		}
		if v, ok := fams.Value("mesos_master_elected"); !ok || v != snap["master/elected"] {
			t.Errorf("%s: mesos_master_elected = %v (present %v), snapshot master/elected = %v", p.addr(), v, ok, snap["master/elected"])
		}
	}
	if elected[a.addr()]+elected[b.addr()] != 1 {
		t.Errorf("master/elected by master = %v, want exactly one 1", elected)
	}
}
