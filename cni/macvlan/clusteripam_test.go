package main

import (
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"corral/cni/cnitest"
	"corral/cni/etcdrpc"
	"corral/masterd/state/statetest"
)

var (
	ipamOnce sync.Once
	ipamErr  error
)

// ipamPlugin builds corral-ipam and its etcd helper next to corral-macvlan, in CNI_PATH.
func ipamPlugin(t testing.TB) {
	t.Helper()
	bin, _ := plugin(t)
	ipamOnce.Do(func() {
		ipamErr = cnitest.Build(filepath.Dir(bin), "corral-ipam", etcdrpc.HelperName)
	})
	if ipamErr != nil {
		t.Fatal(ipamErr)
	}
}

// etcdIn forwards loopback connections inside the named namespace to the
// etcd at url in the test's namespace, and returns the URL plugins run
// there dial: a simulated host reaching the cluster's etcd.
func etcdIn(t testing.TB, nsName, url string) string {
	t.Helper()
	target := url[len("http://"):]
	ipCmd(t, "-n", nsName, "link", "set", "lo", "up")
	var ln net.Listener
	if err := inNetns(t, nsName, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(up, c); up.Close() }()
			go func() { defer wg.Done(); io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// clusterConf is a corral-macvlan configuration on p0 whose addresses come
// from corral-ipam: one subnet for every host, blocks of 8 addresses,
// block files under dataDir.
func clusterConf(version, etcdURL, host, dataDir string) netConf {
	return netConf{
		"cniVersion": version,
		"name":       "cluster",
		"type":       "corral-macvlan",
		"master":     "p0",
		"mode":       "bridge",
		"ipam": map[string]any{
			"type":          "corral-ipam",
			"etcdEndpoints": []string{etcdURL},
			"subnet":        "10.78.0.0/24",
			"blockSize":     29,
			"host":          host,
			"dataDir":       dataDir,
		},
	}
}

// TestTwoHostsClusterIPAM is the deployment corral-macvlan and corral-ipam
// exist for: two simulated hosts on one L2 segment (namespaces joined by a
// veth pair whose ends are their macvlan parents) run containers that get
// unique addresses of one subnet from one etcd and reach each other across
// the hosts; DEL gives every address back.
func TestTwoHostsClusterIPAM(t *testing.T) {
	bin, cniPath := plugin(t)
	ipamPlugin(t)
	_, url := statetest.Start(t)
	hostA, hostB := newHostPair(t)
	dataDir := t.TempDir() // one machine's disk, as host-a and host-b have their names
	confs := map[string][]byte{
		hostA: clusterConf("1.1.0", etcdIn(t, hostA, url), "host-a", dataDir).bytes(t),
		hostB: clusterConf("1.1.0", etcdIn(t, hostB, url), "host-b", dataDir).bytes(t),
	}
	type container struct {
		host, ns string
		ip       netip.Addr
	}
	var conts []container
	seen := map[netip.Addr]string{}
	subnet := netip.MustParsePrefix("10.78.0.0/24")
	for i := range 6 {
		host := hostA
		if i%2 == 1 {
			host = hostB
		}
		c := container{host: host, ns: newNetns(t)}
		out, err := cni(t, host, bin, cniPath, call{command: "ADD", containerID: "c-" + c.ns, netns: nsPath(c.ns), ifName: "eth0"}, confs[host])
		if err != nil {
			t.Fatalf("ADD on %s: %v\n%s", host, err, out)
		}
		c.ip, _ = netip.AddrFromSlice(ipv4(t, decodeResult(t, out)))
		if !subnet.Contains(c.ip) {
			t.Errorf("container %d got %s, want an address of %s", i, c.ip, subnet)
		}
		if other, dup := seen[c.ip]; dup {
			t.Errorf("containers %s and %s both got %s", other, c.ns, c.ip)
		}
		seen[c.ip] = c.ns
		conts = append(conts, c)
	}
	for _, from := range conts {
		for _, to := range conts {
			if from.host == to.host {
				continue
			}
			addr := serveTCP(t, to.ns, to.ip.String())
			if err := dialTCP(t, from.ns, addr, 3*time.Second); err != nil {
				t.Errorf("container %s on %s → container %s on %s: %v", from.ip, from.host, to.ip, to.host, err)
			}
		}
	}
	for _, c := range conts {
		if out, err := cni(t, c.host, bin, cniPath, call{command: "DEL", containerID: "c-" + c.ns, netns: nsPath(c.ns), ifName: "eth0"}, confs[c.host]); err != nil {
			t.Fatalf("DEL: %v\n%s", err, out)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, host := range []string{"host-a", "host-b"} {
		if ips, blocks := reservations(t, cli, dataDir, "cluster", host); len(ips) != 0 || blocks != 1 {
			t.Errorf("after DEL of every container, %s holds %v in %d blocks, want nothing in its 1 block", host, ips, blocks)
		}
	}
}
