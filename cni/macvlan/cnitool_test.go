package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	clientv3 "go.etcd.io/etcd/client/v3"

	"corral/cni/etcdipam"
	"corral/masterd/state/statetest"
)

// cnitoolPkg is the CNI project's reference runtime for the command line, a
// package of the github.com/containernetworking/cni module.
const cnitoolPkg = "github.com/containernetworking/cni/cnitool"

// buildCNITool installs cnitool, at the version of
// github.com/containernetworking/cni this test is built with (go.mod's),
// from the Go module proxy into a temporary directory, as an operator would,
// and returns its path. go.mod is untouched: `go install pkg@version`
// builds outside the main module. Without the proxy (and nothing in the
// module cache) the test fails rather than skips: CI has the proxy, and this
// test is the evidence that the plugins work under a runtime not Corral's.
func buildCNITool(t testing.TB) string {
	t.Helper()
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/containernetworking/cni" && d.Replace == nil {
				version = d.Version
			}
		}
	}
	if version == "" {
		t.Fatal("the test binary does not record the version of github.com/containernetworking/cni it was built with")
	}
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", cnitoolPkg+"@"+version)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		proxy, _ := exec.Command("go", "env", "GOPROXY").Output()
		t.Fatalf("go install %s@%s: %v: cannot build cnitool from the Go module proxy (GOPROXY=%s); this test needs the proxy reachable\n%s",
			cnitoolPkg, version, err, strings.TrimSpace(string(proxy)), out)
	}
	return filepath.Join(gobin, "cnitool")
}

// runCNITool runs cnitool in the host namespace hostNS as an operator on
// that host does: `NETCONFPATH=netDir CNI_PATH=cniPath cnitool args...`.
// It returns stdout, and an error carrying stderr when cnitool fails.
func runCNITool(t testing.TB, tool, hostNS, netDir, cniPath string, args ...string) ([]byte, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := inNetns(t, hostNS, func() error {
		cmd := exec.Command(tool, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NETCONFPATH=" + netDir, "CNI_PATH=" + cniPath}
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		return cmd.Run()
	})
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("cnitool %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// cnitoolContainerID is the container ID cnitool gives an attachment: a
// hash of the namespace path.
func cnitoolContainerID(netnsPath string) string {
	s := sha512.Sum512([]byte(netnsPath))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// reservations lists what corral-ipam holds for host on network name: the
// addresses its block files (under dataDir) give out, and the number of
// blocks etcd says are the host's.
func reservations(t testing.TB, cli *clientv3.Client, dataDir, name, host string) (ips map[netip.Addr]etcdipam.Attachment, blocks int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := etcdipam.Allocations(ctx, dataDir, name, host)
	if err != nil {
		t.Fatalf("reading %s's allocations: %v", host, err)
	}
	resp, err := cli.Get(ctx, "/corral/ipam/"+name+"/blocks/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("reading block claims: %v", err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), `"host":"`+host+`"`) {
			blocks++
		}
	}
	return ips, blocks
}

// containerAddrs lists the IPv4 addresses of eth0 in the named namespace,
// or reports that there is no eth0.
func containerAddrs(t testing.TB, nsName string) ([]netip.Addr, bool) {
	t.Helper()
	h := handle(t, nsName)
	link, err := h.LinkByName("eth0")
	if err != nil {
		return nil, false
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		t.Fatalf("listing addresses of eth0 in %s: %v", nsName, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		out = append(out, ip)
	}
	return out, true
}

// TestCNITool runs corral-macvlan with corral-ipam under cnitool, the CNI
// project's own runtime, built from the module proxy: a conflist in
// NETCONFPATH, the plugins in CNI_PATH, and the verbs an operator types.
// cnitool goes through libcni, which caches ADD's result for CHECK and DEL,
// so this also shows that libcni can read ADD's result and hand it back
// as CHECK's prevResult.
func TestCNITool(t *testing.T) {
	bin, _ := plugin(t)
	ipamPlugin(t)
	tool := buildCNITool(t)
	cniPath := filepath.Dir(bin) // corral-macvlan and corral-ipam, as in /opt/cni/bin
	_, url := statetest.Start(t)
	host, cont := newHost(t), newNetns(t)
	netnsPath := "/var/run/netns/" + cont
	containerID := cnitoolContainerID(netnsPath)

	name := fmt.Sprintf("cnitool%d", os.Getpid())
	dataDir := t.TempDir()
	subnet := netip.MustParsePrefix("10.79.0.0/24")
	ipam := map[string]any{
		"type":          "corral-ipam",
		"etcdEndpoints": []string{etcdIn(t, host, url)},
		"subnet":        subnet.String(),
		"host":          "host-a",
		"dataDir":       dataDir,
	}
	conflist, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.1.0",
		"name":       name,
		"plugins": []map[string]any{{
			"type":   "corral-macvlan",
			"master": "p0",
			"mode":   "bridge",
			"ipam":   ipam,
		}},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	netDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(netDir, "10-"+name+".conflist"), conflist, 0o644); err != nil {
		t.Fatal(err)
	}
	// libcni keeps ADD's result in /var/lib/cni/results until DEL; remove
	// what a failed run leaves there.
	t.Cleanup(func() {
		leftovers, _ := filepath.Glob(filepath.Join("/var/lib/cni/results", name+"-*"))
		for _, f := range leftovers {
			os.Remove(f)
		}
	})
	cnitool := func(args ...string) []byte {
		t.Helper()
		out, err := runCNITool(t, tool, host, netDir, cniPath, args...)
		if err != nil {
			t.Fatalf("%v\nstdout: %s", err, out)
		}
		return out
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	cnitool("status", name, netnsPath)

	// add: the container gets an address of the subnet, in a block etcd
	// gives to host-a, for cnitool's container ID.
	res := decodeResult(t, cnitool("add", name, netnsPath))
	ip, _ := netip.AddrFromSlice(ipv4(t, res))
	if !subnet.Contains(ip) {
		t.Fatalf("cnitool add: address %s, want one of %s", ip, subnet)
	}
	if res.CNIVersion != "1.1.0" {
		t.Errorf("cnitool add: result cniVersion %q, want 1.1.0", res.CNIVersion)
	}
	if addrs, ok := containerAddrs(t, cont); !ok || len(addrs) != 1 || addrs[0] != ip {
		t.Errorf("after cnitool add, eth0 in the container has %v (present %v), want [%s]", addrs, ok, ip)
	}
	ips, blocks := reservations(t, cli, dataDir, name, "host-a")
	want := etcdipam.Attachment{ContainerID: containerID, IfName: "eth0"}
	if got := ips[ip]; len(ips) != 1 || got != want || blocks != 1 {
		t.Errorf("after cnitool add, host-a allocated %v in %d blocks, want only %s for %+v in 1", ips, blocks, ip, want)
	}

	cnitool("check", name, netnsPath)

	// del, twice: both succeed, and nothing is left in the container or
	// the block; the block stays host-a's.
	cnitool("del", name, netnsPath)
	cnitool("del", name, netnsPath)
	if addrs, ok := containerAddrs(t, cont); ok {
		t.Errorf("after cnitool del, eth0 is still in the container, with %v", addrs)
	}
	if ips, blocks := reservations(t, cli, dataDir, name, "host-a"); len(ips) != 0 || blocks != 1 {
		t.Errorf("after cnitool del, host-a holds %v in %d blocks, want nothing in 1", ips, blocks)
	}

	// gc: cnitool names no valid attachment, so libcni DELs the one it
	// cached and corral-ipam's GC frees the rest of this host's, here an
	// address whose runtime state was lost (made by corral-ipam alone),
	// and gives the emptied block back.
	decodeResult(t, cnitool("add", name, netnsPath))
	ipamConf, err := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": name, "ipam": ipam})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cni(t, host, filepath.Join(cniPath, "corral-ipam"), cniPath, call{command: "ADD", containerID: "lost", netns: nsPath(cont), ifName: "eth0"}, ipamConf); err != nil {
		t.Fatalf("corral-ipam ADD: %v\n%s", err, out)
	}
	if ips, _ := reservations(t, cli, dataDir, name, "host-a"); len(ips) != 2 {
		t.Fatalf("before cnitool gc, host-a holds %v, want 2 addresses", ips)
	}
	cnitool("gc", name, netnsPath)
	if addrs, ok := containerAddrs(t, cont); ok {
		t.Errorf("after cnitool gc, eth0 is still in the container, with %v", addrs)
	}
	if ips, blocks := reservations(t, cli, dataDir, name, "host-a"); len(ips) != 0 || blocks != 0 {
		t.Errorf("after cnitool gc, host-a holds %v in %d blocks, want nothing (the empty block given back)", ips, blocks)
	}
	cnitool("del", name, netnsPath)
}
