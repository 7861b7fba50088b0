package network

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"corral/mesos"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, links and nftables")
	}
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var nsSeq atomic.Int64

// newNetns creates a named namespace, deleted when the test ends, and
// returns its path.
func newNetns(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("cnet%d-%d", os.Getpid(), nsSeq.Add(1))
	ipCmd(t, "netns", "add", name)
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return "/run/netns/" + name
}

func nsName(path string) string { return filepath.Base(path) }

// hosts are two simulated hosts on one L2 segment: namespaces joined by a
// veth pair, p0 in each, with addresses 192.168.<n>.1 and .2/24.
type hosts struct {
	a, b       string // namespace paths
	ipA, ipB   netip.Addr
	subnetBase string // 192.168.<n>
}

func newHosts(t testing.TB, n int) hosts {
	t.Helper()
	h := hosts{a: newNetns(t), b: newNetns(t), subnetBase: fmt.Sprintf("192.168.%d", n)}
	h.ipA, h.ipB = netip.MustParseAddr(h.subnetBase+".1"), netip.MustParseAddr(h.subnetBase+".2")
	ipCmd(t, "-n", nsName(h.a), "link", "add", "p0", "type", "veth", "peer", "name", "p0", "netns", nsName(h.b))
	ipCmd(t, "-n", nsName(h.a), "addr", "add", h.ipA.String()+"/24", "dev", "p0")
	ipCmd(t, "-n", nsName(h.b), "addr", "add", h.ipB.String()+"/24", "dev", "p0")
	ipCmd(t, "-n", nsName(h.a), "link", "set", "p0", "up")
	ipCmd(t, "-n", nsName(h.b), "link", "set", "p0", "up")
	return h
}

func testLog() *slog.Logger {
	if os.Getenv("CORRAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a manager's configuration on the simulated host a.
func testConfig(t testing.TB, h hosts, dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.HostNetNS = h.a
	cfg.NodeIP = h.ipA
	cfg.CNIConfDir = filepath.Join(dir, "net.d")
	cfg.CNIPluginDirs = []string{"/usr/lib/cni"}
	return cfg
}

func newManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// within runs f in the namespace at path, on a thread thrown away after.
func within(t testing.TB, path string, f func() error) error {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer ns.Close()
	return inNetNS(ns, f)
}

// serve listens on addr in the namespace at path and answers each
// connection with greeting.
func serve(t testing.TB, path, addr, greeting string) {
	t.Helper()
	var ln net.Listener
	if err := within(t, path, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, path, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greeting))
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// dial connects from the namespace at path to addr and returns what the
// server said.
func dial(t testing.TB, path, addr string) (string, error) {
	t.Helper()
	var conn net.Conn
	if err := within(t, path, func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

func wantGreeting(t testing.TB, from, addr, want string) {
	t.Helper()
	got, err := dial(t, from, addr)
	if err != nil || got != want {
		t.Errorf("from %s to %s: %q, %v; want %q", nsName(from), addr, got, err, want)
	}
}

// leftovers lists what a manager on host a may leave behind: veths, task
// rules, pinned namespaces, records, bridge addresses and shim routes.
func leftovers(t testing.TB, m *Manager) []string {
	t.Helper()
	var out []string
	h, err := netlink.NewHandleAt(m.hostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, _ := h.LinkList()
	for _, l := range links {
		if isVethName(l.Attrs().Name) {
			out = append(out, "veth "+l.Attrs().Name)
		}
	}
	tags, err := taskRuleTags(int(m.hostNS))
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		out = append(out, "nft rule of "+tag)
	}
	for _, d := range []string{netnsDir(m.cfg), recordDir(m.cfg)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			out = append(out, filepath.Join(filepath.Base(d), e.Name()))
		}
	}
	owners, _ := m.alloc.Owners()
	for ip, id := range owners {
		out = append(out, fmt.Sprintf("address %s of %s", ip, id))
	}
	routes, _ := shimRoutes(h)
	for _, r := range routes {
		out = append(out, "route "+r.Dst.String())
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, m.cfg.Dir) {
			out = append(out, "mount "+l)
		}
	}
	slices.Sort(out)
	return out
}

func wantNoLeftovers(t testing.TB, m *Manager) {
	t.Helper()
	if l := leftovers(t, m); len(l) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(l, "\n"))
	}
}

func setup(t testing.TB, m *Manager, id string, info mesos.TaskInfo) Attachment {
	t.Helper()
	att, err := m.Setup(context.Background(), id, info)
	if err != nil {
		t.Fatalf("Setup(%s): %v", id, err)
	}
	return att
}

// isVethName reports whether s is the name of a task veth's host end.
func isVethName(s string) bool {
	if len(s) != len(vethPrefix)+12 || !strings.HasPrefix(s, vethPrefix) {
		return false
	}
	_, err := hex.DecodeString(s[len(vethPrefix):])
	return err == nil
}

// taskRuleTags returns the tags of the task rules in the host table.
func taskRuleTags(fd int) ([]string, error) {
	c, err := nftConn(fd)
	if err != nil {
		return nil, err
	}
	t := table()
	if ok, err := hasTable(c); !ok {
		return nil, err
	}
	var tags []string
	for _, name := range []string{chainPorts, chainMasq} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			return nil, fmt.Errorf("reading chain %s: %w", name, err)
		}
		for _, r := range rules {
			if id, ok := tagOf(r.UserData); ok {
				tags = append(tags, id)
			}
		}
	}
	return tags, nil
}
