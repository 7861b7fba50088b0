package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"corral/cni/cnitest"
	"corral/cni/etcdrpc"
	"corral/masterd/state/statetest"
)

// buildPlugin builds corral-ipam and its etcd helper into a temporary
// directory, as make build does (static, without cgo).
func buildPlugin(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build the plugin")
	}
	dir := t.TempDir()
	if err := cnitest.Build(dir, "corral-ipam", etcdrpc.HelperName); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "corral-ipam")
	return bin
}

// invocation is one run of the plugin through the CNI protocol.
type invocation struct {
	command, containerID, ifname string
	stdin                        []byte
}

// exec runs the plugin with the CNI environment only and returns its
// stdout and exit code.
func (inv invocation) exec(t testing.TB, bin string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"CNI_COMMAND=" + inv.command,
		"CNI_PATH=" + filepath.Dir(bin),
	}
	if inv.containerID != "" {
		cmd.Env = append(cmd.Env,
			"CNI_CONTAINERID="+inv.containerID,
			"CNI_NETNS=/var/run/netns/corral-ipam-test-"+inv.containerID, // need not exist
			"CNI_IFNAME="+inv.ifname)
	}
	cmd.Stdin = bytes.NewReader(inv.stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	case err != nil:
		t.Fatalf("running corral-ipam %s: %v\nstderr: %s", inv.command, err, stderr.String())
	}
	return out, 0
}

// netconf renders a network configuration for etcd at endpoint with the
// ipam keys in set replaced (nil deletes); keys starting with "." are
// top-level ones.
func netconf(t testing.TB, endpoint string, set map[string]any) []byte {
	t.Helper()
	ipam := map[string]any{
		"type":          "corral-ipam",
		"etcdEndpoints": []string{endpoint},
		"subnet":        "10.20.0.0/16",
		"gateway":       "10.20.0.1",
		"routes":        []map[string]string{{"dst": "0.0.0.0/0"}},
		"blockSize":     26,
		"host":          "host-a",
	}
	conf := map[string]any{"cniVersion": "1.1.0", "name": "testnet", "type": "corral-macvlan", "ipam": ipam}
	for k, v := range set {
		m := ipam
		if top, ok := strings.CutPrefix(k, "."); ok {
			m, k = conf, top
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withDataDir is set with the ipam data directory dir.
func withDataDir(dir string, set map[string]any) map[string]any {
	out := map[string]any{"dataDir": dir}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// cniError is the spec's error object.
type cniError struct {
	CNIVersion string `json:"cniVersion"`
	Code       uint   `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details"`
}

func decodeError(t testing.TB, out []byte) cniError {
	t.Helper()
	var e cniError
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("error output %q: %v", out, err)
	}
	return e
}

func etcdKeys(t testing.TB, cli *clientv3.Client) []string {
	t.Helper()
	resp, err := cli.Get(context.Background(), "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

func TestProtocol(t *testing.T) {
	bin := buildPlugin(t)
	e, url := statetest.Start(t)
	dataDir := t.TempDir()
	conf := func(set map[string]any) []byte { return netconf(t, url, withDataDir(dataDir, set)) }

	t.Run("VERSION", func(t *testing.T) {
		out, code := invocation{command: "VERSION", stdin: []byte(`{"cniVersion":"1.0.0"}`)}.exec(t, bin)
		var v struct {
			CNIVersion        string   `json:"cniVersion"`
			SupportedVersions []string `json:"supportedVersions"`
		}
		if code != 0 || json.Unmarshal(out, &v) != nil {
			t.Fatalf("VERSION = %q, exit %d", out, code)
		}
		if v.CNIVersion != "1.0.0" || !slices.Contains(v.SupportedVersions, "1.1.0") {
			t.Errorf("VERSION = %+v, want cniVersion 1.0.0 and 1.1.0 supported", v)
		}
	})

	t.Run("ADD twice, CHECK, STATUS, DEL twice", func(t *testing.T) {
		add := invocation{command: "ADD", containerID: "c1", ifname: "eth0", stdin: conf(nil)}
		out, code := add.exec(t, bin)
		if code != 0 {
			t.Fatalf("ADD exit %d: %s", code, out)
		}
		var res struct {
			CNIVersion string `json:"cniVersion"`
			IPs        []struct {
				Address, Gateway string
				Interface        *int
			} `json:"ips"`
			Routes []map[string]any `json:"routes"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("ADD result %q: %v", out, err)
		}
		if res.CNIVersion != "1.1.0" || len(res.IPs) != 1 || res.IPs[0].Address != "10.20.0.2/16" || res.IPs[0].Gateway != "10.20.0.1" ||
			res.IPs[0].Interface != nil || fmt.Sprint(res.Routes) != "[map[dst:0.0.0.0/0]]" {
			t.Errorf("ADD result = %s", out)
		}
		if again, code := add.exec(t, bin); code != 0 || !bytes.Equal(again, out) {
			t.Errorf("second ADD = %s (exit %d), want %s", again, code, out)
		}

		var prev map[string]any
		if err := json.Unmarshal(out, &prev); err != nil {
			t.Fatal(err)
		}
		if out, code := (invocation{command: "CHECK", containerID: "c1", ifname: "eth0", stdin: conf(map[string]any{".prevResult": prev})}).exec(t, bin); code != 0 || len(out) != 0 {
			t.Errorf("CHECK = %q, exit %d", out, code)
		}
		if out, code := (invocation{command: "STATUS", stdin: conf(nil)}).exec(t, bin); code != 0 || len(out) != 0 {
			t.Errorf("STATUS = %q, exit %d", out, code)
		}
		for i := range 2 {
			if out, code := (invocation{command: "DEL", containerID: "c1", ifname: "eth0", stdin: conf(nil)}).exec(t, bin); code != 0 || len(out) != 0 {
				t.Errorf("DEL %d = %q, exit %d", i+1, out, code)
			}
		}
		if out, code := (invocation{command: "DEL", containerID: "unknown", ifname: "eth0", stdin: conf(nil)}).exec(t, bin); code != 0 {
			t.Errorf("DEL of an unknown container = %q, exit %d", out, code)
		}
		out, code = (invocation{command: "CHECK", containerID: "c1", ifname: "eth0", stdin: conf(map[string]any{".prevResult": prev})}).exec(t, bin)
		if e := decodeError(t, out); code == 0 || e.Code != 111 {
			t.Errorf("CHECK after DEL = %s, exit %d, want code 111", out, code)
		}
	})

	t.Run("GC", func(t *testing.T) {
		for _, cid := range []string{"keep", "drop"} {
			if out, code := (invocation{command: "ADD", containerID: cid, ifname: "eth0", stdin: conf(nil)}).exec(t, bin); code != 0 {
				t.Fatalf("ADD %s: %s", cid, out)
			}
		}
		gc := conf(map[string]any{".cni.dev/valid-attachments": []map[string]string{{"containerID": "keep", "ifname": "eth0"}}})
		if out, code := (invocation{command: "GC", stdin: gc}).exec(t, bin); code != 0 || len(out) != 0 {
			t.Fatalf("GC = %q, exit %d", out, code)
		}
		for cid, want := range map[string]int{"keep": 0, "drop": 1} {
			if _, code := (invocation{command: "CHECK", containerID: cid, ifname: "eth0", stdin: conf(nil)}).exec(t, bin); code != want {
				t.Errorf("CHECK of %s after GC: exit %d, want %d", cid, code, want)
			}
		}
		if out, code := (invocation{command: "GC", stdin: conf(nil)}).exec(t, bin); code != 0 {
			t.Fatalf("GC of everything = %q, exit %d", out, code)
		}
		if _, code := (invocation{command: "CHECK", containerID: "keep", ifname: "eth0", stdin: conf(nil)}).exec(t, bin); code != 1 {
			t.Errorf("CHECK of keep after GC of everything: exit %d, want 1", code)
		}
		if keys := etcdKeys(t, e.Client); len(keys) != 0 {
			t.Errorf("after GC with no valid attachments, the host still claims %v", keys)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			inv     invocation
			code    uint
			want    string
			nothing bool // etcd must stay empty
		}{
			{"bad subnet", invocation{stdin: conf(map[string]any{"subnet": "10.20.0.0/40"})}, 7, `invalid ipam.subnet "10.20.0.0/40"`, true},
			{"gateway outside subnet", invocation{stdin: conf(map[string]any{"gateway": "192.168.0.1"})}, 7, "must be inside subnet 10.20.0.0/16", true},
			{"blockSize out of range", invocation{stdin: conf(map[string]any{"blockSize": 12})}, 7, "invalid ipam.blockSize 12, must be in [16, 30]", true},
			{"missing etcdEndpoints", invocation{stdin: conf(map[string]any{"etcdEndpoints": nil})}, 7, "ipam.etcdEndpoints is empty", true},
			{"bad JSON", invocation{stdin: []byte(`{"cniVersion": "1.1.0", "name": `)}, 6, "unexpected end of JSON input", true},
			{"missing CNI_IFNAME", invocation{containerID: "c1", stdin: conf(nil)}, 4, "CNI_IFNAME", true},
			{"no free address", invocation{stdin: conf(map[string]any{"subnet": "10.30.0.0/30", "gateway": "10.30.0.1", "blockSize": 30})}, 110, "no free address", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				inv := tc.inv
				inv.command = "ADD"
				if inv.containerID == "" {
					inv.containerID, inv.ifname = "c-"+strings.ReplaceAll(tc.name, " ", "-"), "eth0"
				}
				if tc.code == 110 { // the one address of the /30 goes first
					first := invocation{command: "ADD", containerID: "first", ifname: "eth0", stdin: inv.stdin}
					if out, code := first.exec(t, bin); code != 0 {
						t.Fatalf("first ADD: %s", out)
					}
				}
				out, code := inv.exec(t, bin)
				got := decodeError(t, out)
				if code == 0 || got.Code != tc.code || got.CNIVersion != "1.1.0" || !strings.Contains(got.Msg+"; "+got.Details, tc.want) {
					t.Errorf("ADD = %s, exit %d, want code %d saying %q", out, code, tc.code, tc.want)
				}
				if keys := etcdKeys(t, e.Client); tc.nothing && len(keys) != 0 {
					t.Errorf("failed ADD left keys %v", keys)
				}
			})
		}
	})

	t.Run("STATUS with etcd away", func(t *testing.T) {
		away := fmt.Sprintf("http://127.0.0.1:%d", statetest.FreePort(t))
		out, code := (invocation{command: "STATUS", stdin: netconf(t, away, map[string]any{"timeout": "1s", "dataDir": t.TempDir()})}).exec(t, bin)
		if got := decodeError(t, out); code == 0 || got.Code != 50 {
			t.Errorf("STATUS = %s, exit %d, want code 50", out, code)
		}
	})
}

// baselineIPAM is another build of corral-ipam (an older commit's, say)
// that BenchmarkAddDel times in the same run.
var baselineIPAM = flag.String("baseline-ipam", "", "path to a corral-ipam binary that BenchmarkAddDel also times")

// BenchmarkAddDel times an ADD and a DEL of corral-ipam alone, each a
// process as a runtime runs it, against host-local's (and, with
// -baseline-ipam, another build's), interleaved in one run, the order
// rotating; every ADD after the first is in the block the first claimed.
// It reports milliseconds per ADD+DEL and the ratio to
// host-local; ns/op, the sum of all, is suppressed.
func BenchmarkAddDel(b *testing.B) {
	bin := buildPlugin(b)
	_, url := statetest.Start(b)
	hostLocal := "/usr/lib/cni/host-local"
	if _, err := os.Stat(hostLocal); err != nil {
		b.Skip("needs host-local in /usr/lib/cni (apt-get install containernetworking-plugins)")
	}
	type subject struct {
		bin   string
		conf  []byte
		total time.Duration
	}
	corral := &subject{bin: bin, conf: netconf(b, url, map[string]any{"dataDir": b.TempDir(), ".cniVersion": "1.0.0"})}
	hl := &subject{bin: hostLocal, conf: []byte(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"hl","ipam":{"type":"host-local","subnet":"10.20.0.0/16","dataDir":%q}}`, b.TempDir()))}
	order := []*subject{corral, hl}
	var baseline *subject
	if *baselineIPAM != "" {
		baseline = &subject{bin: *baselineIPAM, conf: netconf(b, url, map[string]any{"dataDir": b.TempDir(), ".cniVersion": "1.0.0", ".name": "baseline"})}
		order = append(order, baseline)
	}
	for i := 0; b.Loop(); i++ {
		cid := fmt.Sprint("c", i)
		for j := range order {
			s := order[(i+j)%len(order)]
			start := time.Now()
			for _, cmd := range []string{"ADD", "DEL"} {
				if out, code := (invocation{command: cmd, containerID: cid, ifname: "eth0", stdin: s.conf}).exec(b, s.bin); code != 0 {
					b.Fatalf("%s %s: %s", s.bin, cmd, out)
				}
			}
			s.total += time.Since(start)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(corral.total), "corral-ipam-ms/op")
	b.ReportMetric(ms(hl.total), "host-local-ms/op")
	b.ReportMetric(float64(corral.total)/float64(hl.total), "corral-ipam/host-local")
	if baseline != nil {
		b.ReportMetric(ms(baseline.total), "baseline-ms/op")
		b.ReportMetric(float64(baseline.total)/float64(hl.total), "baseline/host-local")
	}
}

// Only commands that need etcd run corral-ipam-etcd: without it, ADDs in
// the host's block go on, and the ADD that needs a new block fails saying
// what is missing.
func TestHelperOnlyForEtcd(t *testing.T) {
	bin := buildPlugin(t)
	_, url := statetest.Start(t)
	conf := netconf(t, url, map[string]any{"dataDir": t.TempDir(), "subnet": "10.30.0.0/29", "gateway": "10.30.0.1", "blockSize": 30})
	add := func(cid string) ([]byte, int) {
		return invocation{command: "ADD", containerID: cid, ifname: "eth0", stdin: conf}.exec(t, bin)
	}
	if out, code := add("c1"); code != 0 { // claims 10.30.0.0/30: .2 and .3
		t.Fatalf("ADD c1: exit %d: %s", code, out)
	}
	if err := os.Remove(filepath.Join(filepath.Dir(bin), etcdrpc.HelperName)); err != nil {
		t.Fatal(err)
	}
	if out, code := add("c2"); code != 0 {
		t.Fatalf("ADD c2 in the host's block without %s: exit %d: %s", etcdrpc.HelperName, code, out)
	}
	out, code := add("c3") // the block is full
	if e := decodeError(t, out); code == 0 || !strings.Contains(e.Msg+e.Details, etcdrpc.HelperName) {
		t.Errorf("ADD that needs a new block without %s = %s, exit %d, want an error naming it", etcdrpc.HelperName, out, code)
	}
}
