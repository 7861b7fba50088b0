package main

import (
	"bytes"
	"corral/cni/cnitest"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// debianCNI holds Debian's reference plugins (containernetworking-plugins).
const debianCNI = "/usr/lib/cni"

// adapterName is the name under which the test binary serves as an IPAM
// plugin: Debian's host-local (1.1.1) speaks CNI up to 1.0.0 and rejects a
// 1.1.0 configuration, so tests of the 1.1.0 protocol reach it through this
// adapter, which rewrites the request's cniVersion to 1.0.0 and the result's
// back to 1.1.0 (the result format did not change in 1.1.0), answers STATUS
// and GC (verbs host-local 1.1.1 does not know) with success, and logs each
// command it receives to $CORRAL_TEST_IPAM_LOG.
const adapterName = "host-local-110"

// TestMain serves the adapter when the test binary runs under its name, and
// removes the binaries the tests built.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == adapterName {
		os.Exit(runAdapter())
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func runAdapter() int {
	cmd := os.Getenv("CNI_COMMAND")
	if name := os.Getenv("CORRAL_TEST_IPAM_LOG"); name != "" {
		f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s%s\n", cmd, os.Getenv("CNI_CONTAINERID"), adapterLinks())
			f.Close()
		}
	}
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 1
	}
	switch cmd {
	case "STATUS", "GC":
		return 0
	case "VERSION":
		fmt.Println(`{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}`)
		return 0
	}
	var conf map[string]any
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return 1
	}
	conf["cniVersion"] = "1.0.0"
	in, _ := json.Marshal(conf)
	var out bytes.Buffer
	c := exec.Command(filepath.Join(debianCNI, "host-local"))
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(in), &out, os.Stderr
	runErr := c.Run()
	var result map[string]any
	if json.Unmarshal(out.Bytes(), &result) == nil {
		if _, ok := result["cniVersion"]; ok {
			result["cniVersion"] = "1.1.0"
		}
		b, _ := json.Marshal(result)
		os.Stdout.Write(b)
	} else {
		os.Stdout.Write(out.Bytes())
	}
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) {
		return exitErr.ExitCode()
	}
	if runErr != nil {
		return 1
	}
	return 0
}

// adapterLinks is what the adapter logs, after the command, of the
// container's links when $CORRAL_TEST_IPAM_LINKS names its namespace: " links=" and
// their names, comma-separated, or the error that prevented listing them.
func adapterLinks() string {
	path := os.Getenv("CORRAL_TEST_IPAM_LINKS")
	if path == "" {
		return ""
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return " links-error=" + err.Error()
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return " links-error=" + err.Error()
	}
	defer nl.Close()
	links, err := retryDump(nl.LinkList)
	if err != nil {
		return " links-error=" + err.Error()
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return " links=" + strings.Join(names, ",")
}

var (
	buildOnce sync.Once
	buildErr  error
	binDir    string // holds corral-macvlan and the adapter's link to the test binary
)

// plugin builds corral-macvlan once per test run and returns its path and
// the CNI_PATH the tests use: the build directory, then Debian's plugins.
func plugin(t testing.TB) (binary, cniPath string) {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat(filepath.Join(debianCNI, "host-local")); err != nil {
		t.Skipf("needs Debian's reference CNI plugins in %s (apt-get install containernetworking-plugins)", debianCNI)
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "corral-macvlan-test")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		if buildErr = cnitest.Build(dir, "corral-macvlan"); buildErr != nil {
			return
		}
		self, err := os.Executable()
		if err != nil {
			buildErr = err
			return
		}
		buildErr = os.Symlink(self, filepath.Join(dir, adapterName))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "corral-macvlan"), binDir + string(os.PathListSeparator) + debianCNI
}

// requireRoot skips a test that needs network namespaces.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var nsSeq atomic.Int64

// newNetns creates a named network namespace, deleted (with every link in
// it) when the test ends, and returns its name.
func newNetns(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("cmvt%d-%d", os.Getpid(), nsSeq.Add(1))
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	return name
}

func nsPath(name string) string { return "/run/netns/" + name }

// newHost creates a namespace standing for a host whose macvlan parent p0 is
// one end of a veth pair; the other end, p1, stays in the namespace and up
// so that p0 has carrier.
func newHost(t testing.TB) string {
	t.Helper()
	h := newNetns(t)
	ipCmd(t, "-n", h, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
	ipCmd(t, "-n", h, "link", "set", "p0", "up")
	ipCmd(t, "-n", h, "link", "set", "p1", "up")
	return h
}

// newHostPair creates two host namespaces joined by a veth pair whose ends,
// p0 in each, are the hosts' macvlan parents: one L2 segment.
func newHostPair(t testing.TB) (a, b string) {
	t.Helper()
	a, b = newNetns(t), newNetns(t)
	ipCmd(t, "-n", a, "link", "add", "p0", "type", "veth", "peer", "name", "p0", "netns", b)
	ipCmd(t, "-n", a, "link", "set", "p0", "up")
	ipCmd(t, "-n", b, "link", "set", "p0", "up")
	return a, b
}

// handle opens netlink in the named namespace.
func handle(t testing.TB, name string) *netlink.Handle {
	t.Helper()
	nsh, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("opening netns %s: %v", name, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatalf("netlink in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return h
}

// linkNames lists the links in the named namespace.
func linkNames(t testing.TB, name string) []string {
	t.Helper()
	links, err := retryDump(handle(t, name).LinkList)
	if err != nil {
		t.Fatalf("listing links in %s: %v", name, err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

// inNetns runs f on a thread in the named namespace. Sockets f opens stay in
// that namespace after it returns; processes it starts run there.
func inNetns(t testing.TB, name string, f func() error) error {
	t.Helper()
	var ferr error
	if err := ns.WithNetNSPath(nsPath(name), func(ns.NetNS) error { ferr = f(); return nil }); err != nil {
		t.Fatalf("entering netns %s: %v", name, err)
	}
	return ferr
}

// call is one execution of a CNI plugin by a runtime.
type call struct {
	command     string
	containerID string
	netns       string // CNI_NETNS, a path; empty leaves it unset
	ifName      string
	args        string   // CNI_ARGS
	env         []string // more variables
}

// cni executes plugin in the host namespace hostNS with conf on stdin, as a
// runtime does, and returns its stdout and exit error.
func cni(t testing.TB, hostNS, plugin, cniPath string, c call, conf []byte) ([]byte, error) {
	t.Helper()
	env := append([]string{"CNI_COMMAND=" + c.command, "CNI_PATH=" + cniPath}, c.env...)
	for k, v := range map[string]string{"CNI_CONTAINERID": c.containerID, "CNI_NETNS": c.netns, "CNI_IFNAME": c.ifName, "CNI_ARGS": c.args} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	err := inNetns(t, hostNS, func() error {
		cmd := exec.Command(plugin)
		cmd.Env = env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(conf), &stdout, &stderr
		return cmd.Run()
	})
	if stderr.Len() > 0 {
		t.Logf("%s %s stderr: %s", filepath.Base(plugin), c.command, stderr.Bytes())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s: %v", plugin, err)
	}
	return stdout.Bytes(), err
}

// cniError decodes the error result a failed plugin printed, with the
// cniVersion the spec puts in it.
type cniError struct {
	CNIVersion string `json:"cniVersion"`
	types.Error
}

func decodeError(t testing.TB, out []byte) cniError {
	t.Helper()
	var e cniError
	if err := json.Unmarshal(out, &e); err != nil || e.Code == 0 {
		t.Fatalf("stdout is not a CNI error result (%v):\n%s", err, out)
	}
	return e
}

func decodeResult(t testing.TB, out []byte) *current.Result {
	t.Helper()
	var r current.Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("stdout is not a CNI result (%v):\n%s", err, out)
	}
	return &r
}

// netConf is a configuration under test, serialized by JSON.
type netConf map[string]any

// newConf is a corral-macvlan configuration on parent p0 with IPAM by
// host-local in 10.<n>.0.0/24 (a subnet per test) keeping its state in dataDir.
func newConf(version, ipamType, dataDir string, n int) netConf {
	return netConf{
		"cniVersion": version,
		"name":       "net1",
		"type":       "corral-macvlan",
		"master":     "p0",
		"mode":       "bridge",
		"ipam": map[string]any{
			"type":    ipamType,
			"subnet":  fmt.Sprintf("10.%d.0.0/24", n),
			"gateway": fmt.Sprintf("10.%d.0.1", n),
			"routes":  []map[string]any{{"dst": "0.0.0.0/0"}},
			"dataDir": dataDir,
		},
	}
}

func (c netConf) ipam() map[string]any { return c["ipam"].(map[string]any) }

func (c netConf) bytes(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reserved lists the addresses host-local holds in dataDir for net1.
func reserved(t testing.TB, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "net1"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			ips = append(ips, e.Name())
		}
	}
	return ips
}

// ipamLog returns the commands the adapter received, one "COMMAND id" per
// entry, and the environment variable that makes it log them.
func ipamLog(t testing.TB) (read func() []string, env string) {
	name := filepath.Join(t.TempDir(), "ipam.log")
	return func() []string {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		return lines
	}, "CORRAL_TEST_IPAM_LOG=" + name
}

// serveTCP listens on addr:0 in the named namespace and answers every
// connection with "hello"; it returns the listening address.
func serveTCP(t testing.TB, nsName, addr string) string {
	t.Helper()
	var ln net.Listener
	if err := inNetns(t, nsName, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, "0"))
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, nsName, err)
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
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialTCP connects from the named namespace to addr and reads the greeting.
func dialTCP(t testing.TB, nsName, addr string, timeout time.Duration) error {
	t.Helper()
	var conn net.Conn
	if err := inNetns(t, nsName, func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, timeout)
		return err
	}); err != nil {
		return err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(timeout))
	got, err := io.ReadAll(conn)
	if err != nil {
		return err
	}
	if string(got) != "hello" {
		return fmt.Errorf("read %q from %s, want %q", got, addr, "hello")
	}
	return nil
}
