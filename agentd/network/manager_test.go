package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/mesos"
	"corral/tstest"
)

func bridgeTask(hostPort, containerPort uint32) mesos.TaskInfo {
	return taskInfo("[31000-31010]", mesos.NetworkInfo{Name: DefaultBridgeNetwork,
		PortMappings: []mesos.PortMapping{{HostPort: hostPort, ContainerPort: containerPort, Protocol: "tcp"}}})
}

// TestBridge: a container on the bridge answers on the host's port from
// another host, from the host itself (its address and localhost), and from
// itself (hairpin); localhost:<servicePort> inside it reaches the host's
// loopback; its resolv.conf names the node; Teardown leaves nothing.
func TestBridge(t *testing.T) {
	requireRoot(t)
	h := newHosts(t, 71)
	m := newManager(t, testConfig(t, h, t.TempDir()))
	att := setup(t, m, "web", bridgeTask(31000, 8080))

	ip, err := netip.ParseAddr(att.IP())
	if err != nil || !DefaultBridgeSubnet.Contains(ip) {
		t.Fatalf("container address %q, want one in %s", att.IP(), DefaultBridgeSubnet)
	}
	if len(att.NetworkInfos) != 1 || att.NetworkInfos[0].Name != DefaultBridgeNetwork || len(att.NetworkInfos[0].PortMappings) != 1 {
		t.Errorf("NetworkInfos = %+v, want mesos-bridge with its port mapping", att.NetworkInfos)
	}
	if !isNetNS(att.NetNS) {
		t.Fatalf("NetNS %s is not a pinned namespace", att.NetNS)
	}
	serve(t, att.NetNS, ":8080", "web")
	hostPort := h.ipA.String() + ":31000"
	wantGreeting(t, h.b, hostPort, "web")          // another host
	wantGreeting(t, h.a, hostPort, "web")          // the host itself
	wantGreeting(t, h.a, "127.0.0.1:31000", "web") // the host's localhost
	wantGreeting(t, att.NetNS, hostPort, "web")    // hairpin
	wantGreeting(t, h.a, ip.String()+":8080", "web")

	// A second container reaches the first through the host port.
	att2 := setup(t, m, "client", bridgeTask(31001, 8080))
	if att2.IP() == att.IP() {
		t.Fatalf("two containers got the same address %s", att.IP())
	}
	wantGreeting(t, att2.NetNS, hostPort, "web")

	// localhost:<servicePort> in the container is the host's router, even
	// one listening on the host's loopback only; other loopback ports are
	// not reachable.
	serve(t, h.a, "127.0.0.1:10555", "router")
	wantGreeting(t, att.NetNS, "127.0.0.1:10555", "router")
	serve(t, h.a, "127.0.0.1:9999", "private")
	if got, err := dial(t, att.NetNS, h.ipA.String()+":9999"); err == nil {
		t.Errorf("container reached the host's loopback-only port 9999: %q", got)
	}
	resolv, err := os.ReadFile(att.ResolvConf)
	if err != nil || !strings.Contains(string(resolv), "nameserver "+h.ipA.String()+"\n") {
		t.Errorf("resolv.conf %s = %q, %v; want nameserver %s", att.ResolvConf, resolv, err, h.ipA)
	}

	for _, id := range []string{"web", "client"} {
		if err := m.Teardown(context.Background(), id); err != nil {
			t.Errorf("Teardown(%s): %v", id, err)
		}
	}
	if err := m.Teardown(context.Background(), "web"); err != nil {
		t.Errorf("Teardown twice: %v", err)
	}
	wantNoLeftovers(t, m)
	if _, err := dial(t, h.b, hostPort); err == nil {
		t.Errorf("host port still forwarded after Teardown")
	}
}

// TestRecoverAndCollect: after a restart (a new manager on the same state),
// a live task is re-attached and still reachable, and Collect releases what
// belongs to no live task, including leftovers without a record.
func TestRecoverAndCollect(t *testing.T) {
	requireRoot(t)
	h := newHosts(t, 72)
	cfg := testConfig(t, h, t.TempDir())
	m := newManager(t, cfg)
	live := setup(t, m, "live", bridgeTask(31000, 8080))
	setup(t, m, "ended", bridgeTask(31001, 8080))
	serve(t, live.NetNS, ":8080", "live")
	m.Close()

	// Leftovers of a crash in the middle of a setup: a pinned namespace
	// and an address without a record.
	if err := newNetNS(filepath.Join(netnsDir(cfg), "crashed")); err != nil {
		t.Fatal(err)
	}
	if _, err := newAllocator(filepath.Join(cfg.Dir, "bridge"), cfg.BridgeSubnet).Allocate("crashed"); err != nil {
		t.Fatal(err)
	}

	m2 := newManager(t, cfg)
	att, err := m2.Recover(context.Background(), "live")
	if err != nil || att.NetNS != live.NetNS || att.IP() != live.IP() {
		t.Fatalf("Recover = %+v, %v; want %+v", att, err, live)
	}
	if att, err := m2.Recover(context.Background(), "host-task"); err != nil || att.NetNS != "" {
		t.Errorf("Recover of a host-network task = %+v, %v; want nothing", att, err)
	}
	if err := m2.Collect(context.Background(), []string{"live"}); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	wantGreeting(t, h.b, h.ipA.String()+":31000", "live")
	if got, err := dial(t, h.b, h.ipA.String()+":31001"); err == nil {
		t.Errorf("the ended task's port still answers: %q", got)
	}
	want := []string{"netns/live", "nft rule of live", "tasks/live.json", "veth " + vethName("live"), fmt.Sprintf("address %s of live", live.IP())}
	got := leftovers(t, m2)
	var missing []string
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 || len(got) != len(want)+1 { // +1: the pin's mount
		t.Errorf("after Collect: %q, want only the live task's %q", got, want)
	}
	if err := m2.Teardown(context.Background(), "live"); err != nil {
		t.Fatal(err)
	}
	wantNoLeftovers(t, m2)
}

// writeConfList puts a conflist for network name into the manager's
// configuration directory.
func writeConfList(t testing.TB, cfg Config, name, body string) {
	t.Helper()
	if err := os.MkdirAll(cfg.CNIConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.CNIConfDir, name+".conflist"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMacvlanCNI runs a macvlan CNI network (Debian's reference plugins):
// the container answers on its own address from the other host, the agent's
// host reaches it through the macvlan shim, its port mapping works from the
// other host, and nothing stays after Teardown.
func TestMacvlanCNI(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/usr/lib/cni/macvlan"); err != nil {
		t.Skip("needs Debian's containernetworking-plugins")
	}
	h := newHosts(t, 73)
	cfg := testConfig(t, h, t.TempDir())
	ipamDir := t.TempDir()
	writeConfList(t, cfg, "mv", fmt.Sprintf(`{"cniVersion":"1.0.0","name":"mv","plugins":[{"type":"macvlan","master":"p0","mode":"bridge",
		"ipam":{"type":"host-local","subnet":"%s.0/24","rangeStart":"%s.100","rangeEnd":"%s.150","dataDir":%q}}]}`,
		h.subnetBase, h.subnetBase, h.subnetBase, ipamDir))
	m := newManager(t, cfg)
	info := taskInfo("[31000-31010]", mesos.NetworkInfo{Name: "mv", PortMappings: []mesos.PortMapping{{HostPort: 31005, ContainerPort: 8080}}})
	att := setup(t, m, "mvtask", info)
	ip := att.IP()
	if !strings.HasPrefix(ip, h.subnetBase+".1") || att.NetworkInfos[0].Name != "mv" {
		t.Fatalf("NetworkInfos = %+v, want an address of mv's range", att.NetworkInfos)
	}
	serve(t, att.NetNS, ":8080", "mv")
	wantGreeting(t, h.b, ip+":8080", "mv")                        // the other host, over L2
	wantGreeting(t, h.a, ip+":8080", "mv")                        // the agent's host, through the shim
	wantGreeting(t, h.b, h.ipA.String()+":31005", "mv")           // port mapping, masqueraded
	serve(t, h.a, h.ipA.String()+":10556", "router")              // a router on the node's address
	wantGreeting(t, att.NetNS, "127.0.0.1:10556", "router")       // localhost:<servicePort>
	wantGreeting(t, att.NetNS, h.ipA.String()+":10556", "router") // the node, through the shim

	if err := m.Teardown(context.Background(), "mvtask"); err != nil {
		t.Fatal(err)
	}
	wantNoLeftovers(t, m)
	if entries, _ := os.ReadDir(filepath.Join(ipamDir, "mv")); len(entries) > 2 { // lock and last_reserved_ip
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host-local still holds %v", names)
	}
}

// TestSetupFailures: a failed setup undoes what it did.
func TestSetupFailures(t *testing.T) {
	requireRoot(t)
	h := newHosts(t, 74)
	cfg := testConfig(t, h, t.TempDir())
	writeConfList(t, cfg, "broken", `{"cniVersion":"1.0.0","name":"broken","plugins":[{"type":"no-such-plugin"}]}`)
	m := newManager(t, cfg)
	cases := []struct {
		name    string
		info    mesos.TaskInfo
		invalid bool
		wantErr string
	}{
		{"unknown network", taskInfo("[31000-31010]", mesos.NetworkInfo{Name: "nope"}), false, `unknown network "nope"`},
		{"missing plugin", taskInfo("[31000-31010]", mesos.NetworkInfo{Name: "broken"}), false, "no-such-plugin"},
		{"port not owned", taskInfo("[31000-31010]", mesos.NetworkInfo{Name: DefaultBridgeNetwork,
			PortMappings: []mesos.PortMapping{{HostPort: 80, ContainerPort: 80}}}), true, "host_port 80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Setup(context.Background(), "failing", tc.info)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, ErrInvalid) != tc.invalid {
				t.Fatalf("Setup = %v, want an error containing %q (invalid %v)", err, tc.wantErr, tc.invalid)
			}
			wantNoLeftovers(t, m)
		})
	}
}

// TestTeardownDeadline: a CNI plugin that hangs on DEL (here a shell
// script waiting on a child sleep) does not hang the task's teardown. It
// is killed, with its child, once TeardownTimeout passes, and the
// teardown fails, keeping the record for Collect to retry.
func TestTeardownDeadline(t *testing.T) {
	requireRoot(t)
	h := newHosts(t, 75)
	cfg := testConfig(t, h, t.TempDir())
	cfg.TeardownTimeout = 300 * time.Millisecond
	plugins := t.TempDir()
	cfg.CNIPluginDirs = []string{plugins}
	pidFile := filepath.Join(plugins, "child.pid")
	script := "#!/bin/sh\nsleep 3600 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(filepath.Join(plugins, "hang"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, cfg)
	conf := `{"cniVersion":"1.0.0","name":"hanging","plugins":[{"type":"hang"}]}`
	rec := record{ID: "hung", CNI: []cniAttachment{{Network: "hanging", IfName: "eth1", ConfList: []byte(conf)}}}
	if err := m.writeRecord(rec); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Teardown(context.Background(), "hung") }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Teardown still running after 10s behind a hanging CNI plugin")
	}
	t.Logf("Teardown returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "took over") {
		t.Errorf("Teardown = %v, want the deadline's error", err)
	}
	if _, ok, _ := m.readRecord("hung"); !ok {
		t.Error("the record is gone: Collect could not retry the teardown")
	}
	b, _ := os.ReadFile(pidFile)
	if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
		tstest.WaitFor(t, 5*time.Second, "the plugin's child to die", func() bool { return syscall.Kill(pid, 0) != nil })
	} else {
		t.Errorf("the plugin's child pid: %q, %v", b, perr)
	}
	os.Remove(m.recordPath("hung"))
}
