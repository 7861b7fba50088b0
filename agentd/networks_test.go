package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"corral/agentd/shim"
	"corral/cni/cnitest"
	"corral/cni/etcdipam"
	"corral/masterd/master/mastertest"
	"corral/masterd/state/statetest"
	"corral/mesos"
	"corral/tstest"
)

// startInNetns starts cmd inside the network namespace at path: it forks
// from a thread that entered the namespace and is thrown away after.
func startInNetns(path string, cmd *exec.Cmd) error {
	return inNetns(path, cmd.Start)
}

// inNetns is tstest.InNetns.
func inNetns(path string, f func() error) error { return tstest.InNetns(path, f) }

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// simHost is a simulated host: a network namespace whose p0, one end of a
// veth pair shared with the other simulated host, is its uplink (and the
// macvlan parent) with address ip.
type simHost struct {
	name, path string
	ip         string
}

// newSimHosts creates two simulated hosts on one L2 segment, 192.168.81.0/24.
func newSimHosts(t *testing.T) (a, b simHost) {
	t.Helper()
	for i, h := range []*simHost{&a, &b} {
		h.name = fmt.Sprintf("cagt%d-%c", os.Getpid(), 'a'+i)
		h.path = "/run/netns/" + h.name
		h.ip = fmt.Sprintf("192.168.81.%d", i+1)
		ipCmd(t, "netns", "add", h.name)
		name := h.name
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ipCmd(t, "-n", h.name, "link", "set", "lo", "up")
	}
	ipCmd(t, "-n", a.name, "link", "add", "p0", "type", "veth", "peer", "name", "p0", "netns", b.name)
	for _, h := range []simHost{a, b} {
		ipCmd(t, "-n", h.name, "addr", "add", h.ip+"/24", "dev", "p0")
		ipCmd(t, "-n", h.name, "link", "set", "p0", "up")
	}
	return a, b
}

// forward listens on loopback inside the namespace at path and forwards
// each connection to target in the test's namespace: how agentd in a
// simulated host reaches the master, and the CNI plugins reach etcd.
func forward(t *testing.T, path, target string) string {
	t.Helper()
	var ln net.Listener
	if err := inNetns(path, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
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
	return ln.Addr().String()
}

// httpGet fetches url from inside the namespace at path.
func httpGet(t *testing.T, path, url string) (string, error) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = inNetns(path, func() error {
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func wantPage(t *testing.T, from simHost, url, want string) {
	t.Helper()
	var got string
	var err error
	// TASK_RUNNING means the task's process exists: its server may still
	// be starting, after the commands before it.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if got, err = httpGet(t, from.path, url); err == nil && got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("GET %s from %s = %q, %v; want %q", url, from.name, got, err, want)
}

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// cniPlugins builds the CNI plugins next to the agentd binary.
func cniPlugins(t *testing.T) string {
	t.Helper()
	bin := agentdBinary(t)
	pluginsOnce.Do(func() {
		pluginsDir = filepath.Join(filepath.Dir(bin), "cni")
		pluginsErr = cnitest.Build(pluginsDir)
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return pluginsDir
}

// netEnv is an agentd on simulated host a with the bridge network and a
// macvlan CNI network (corral-macvlan with corral-ipam on a real etcd) on
// the segment it shares with host b.
type netEnv struct {
	m        *mastertest.Master
	f        *mastertest.Framework
	a, b     simHost
	agent    *agentProc
	agentID  string
	work     string
	ipamConf string // corral-ipam's configuration, for injecting a leak
	ipamDir  string // corral-ipam's dataDir
}

func newNetEnv(t *testing.T) *netEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, containers, nftables")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl (apt-get install curl)")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (apt-get install busybox-static)")
	}
	e := &netEnv{work: t.TempDir()}
	plugins := cniPlugins(t)
	e.a, e.b = newSimHosts(t)
	_, etcdURL := statetest.Start(t)
	etcdInA := forward(t, e.a.path, strings.TrimPrefix(etcdURL, "http://"))
	e.ipamDir = filepath.Join(e.work, "ipam")
	e.ipamConf = fmt.Sprintf(`{"type":"corral-ipam","etcdEndpoints":["http://%s"],"subnet":"192.168.81.0/24",
		"rangeStart":"192.168.81.100","rangeEnd":"192.168.81.200","host":"host-a","dataDir":%q}`, etcdInA, e.ipamDir)
	confDir := filepath.Join(e.work, "net.d")
	os.MkdirAll(confDir, 0o755)
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"corralnet","plugins":[{"type":"corral-macvlan","master":"p0","mode":"bridge","ipam":%s}]}`, e.ipamConf)
	if err := os.WriteFile(filepath.Join(confDir, "corralnet.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	e.m = mastertest.Start(t, nil)
	e.f = e.m.Subscribe(t, "test")
	work := filepath.Join(e.work, "agent")
	e.agent = &agentProc{t: t, workDir: work, netns: e.a.path, args: []string{
		"--master", forward(t, e.a.path, e.m.Addr), "--work-dir", work, "--listen", "127.0.0.1:0",
		"--isolation", shim.Linux, "--hostname", "host-a", "--advertise-ip", e.a.ip,
		"--resources", "cpus:4;mem:2048;disk:1000;ports:[31000-31100]",
		"--kill-grace-period", "1s", "--registration-backoff", "50ms", "--log-level", "debug",
		"--network-cni-config-dir", confDir, "--network-cni-plugins-dir", plugins + ":/usr/lib/cni",
	}}
	os.MkdirAll(work, 0o755)
	e.agent.start()
	t.Cleanup(func() {
		e.agent.stop(syscall.SIGKILL)
		killShims(t, work)
		// The pinned namespaces of tasks whose agent was killed.
		pins, _ := filepath.Glob(filepath.Join(work, "network", "netns", "*"))
		for _, p := range pins {
			unix.Unmount(p, unix.MNT_DETACH)
		}
	})
	e.agentID = agentID(t, e.m)
	return e
}

func netTask(id, resources, cmd string, nets ...mesos.NetworkInfo) mesos.TaskInfo {
	info := command(id, resources, cmd)
	info.Container = &mesos.ContainerInfo{Type: "MESOS", NetworkInfos: nets}
	return info
}

// httpd serves "<body>" on port 8080 from the sandbox.
func httpd(body string) string {
	return fmt.Sprintf(`echo %s > index.html; exec busybox httpd -f -p 8080 -h .`, body)
}

// runningIP waits for the task's TASK_RUNNING and returns the address it
// reports for the network name.
func (e *netEnv) runningIP(t *testing.T, taskID, network string) string {
	t.Helper()
	st := e.f.WaitUpdate(t, 20*time.Second, taskID, mesos.TaskRunning)
	if st.ContainerStatus == nil || len(st.ContainerStatus.NetworkInfos) != 1 {
		t.Fatalf("TASK_RUNNING of %s has container status %+v, want one network", taskID, st.ContainerStatus)
	}
	n := st.ContainerStatus.NetworkInfos[0]
	if n.Name != network || len(n.IPAddresses) != 1 || n.IPAddresses[0].Protocol != "IPv4" {
		t.Fatalf("TASK_RUNNING of %s reports network %+v, want %s with one IPv4 address", taskID, n, network)
	}
	return n.IPAddresses[0].IPAddress
}

// leftovers lists what the agent's networks may leave on host a: task
// veths, nftables task rules, pinned namespaces, network records, bridge
// addresses, routes through the macvlan shim, and corral-ipam's
// reservations.
func (e *netEnv) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	links, _ := exec.Command("ip", "-n", e.a.name, "-o", "link", "show", "type", "veth").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "cor") {
			out = append(out, "veth "+strings.TrimSuffix(f[1], ":"))
		}
	}
	out = append(out, e.taskRules(t)...)
	routes, _ := exec.Command("ip", "-n", e.a.name, "route", "show", "proto", "203").Output()
	for _, l := range strings.Split(strings.TrimSpace(string(routes)), "\n") {
		if l != "" {
			out = append(out, "route "+l)
		}
	}
	for _, d := range []string{"netns", "tasks", "bridge"} {
		entries, _ := os.ReadDir(filepath.Join(e.agent.workDir, "network", d))
		for _, en := range entries {
			if en.Name() != "last_reserved" {
				out = append(out, "network/"+d+"/"+en.Name())
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, filepath.Join(e.agent.workDir, "network")) {
			out = append(out, "mount "+l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held, err := etcdipam.Allocations(ctx, e.ipamDir, "corralnet", "host-a")
	if err != nil {
		t.Fatal(err)
	}
	for a, at := range held {
		out = append(out, fmt.Sprintf("ipam %s %s/%s", a, at.ContainerID, at.IfName))
	}
	return out
}

func (e *netEnv) wantNoLeftovers(t *testing.T, when string) {
	t.Helper()
	var left []string
	mastertest.WaitFor(t, 5*time.Second, "nothing left "+when, func() bool {
		left = e.leftovers(t)
		return len(left) == 0
	})
}

// TestNetworks runs tasks in container/bridge mode and on a macvlan CNI
// network with cluster-wide IPAM, with agentd in a simulated host: each
// answers where it must, a bridged one finds the node's resolver and router
// through its resolv.conf and localhost, health checks reach both, and
// nothing is left after failed launches, after kills, nor after agentd is
// killed -9 and restarted while one task ends and leftovers of vanished
// tasks lie around.
func TestNetworks(t *testing.T) {
	e := newNetEnv(t)
	router := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "router") })}
	var routerLn net.Listener
	if err := inNetns(e.a.path, func() (err error) {
		routerLn, err = net.Listen("tcp", "127.0.0.1:10555") // a router on host a's loopback
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go router.Serve(routerLn)
	defer router.Close()

	// container/bridge: host port 31000 → container port 8080.
	bridge := func(id string, hostPort uint32, cmd string) mesos.TaskInfo {
		return netTask(id, fmt.Sprintf("cpus:0.1;mem:64;ports:[%d-%d]", hostPort, hostPort), cmd,
			mesos.NetworkInfo{Name: "mesos-bridge", PortMappings: []mesos.PortMapping{{HostPort: hostPort, ContainerPort: 8080, Protocol: "tcp"}}})
	}
	web := bridge("web", 31000, `cat /etc/resolv.conf > resolv.txt; curl -sS -m 5 http://localhost:10555/ > router.txt 2>&1; `+httpd("web"))
	// Marathon gives a portIndex check the host port; the agent checks the
	// container's own address at the container port behind it.
	web.HealthCheck = &mesos.HealthCheck{Type: "HTTP", HTTPPath: "/", Port: 31000, DelaySeconds: 0.001, IntervalSeconds: 0.1, TimeoutSeconds: 1, GracePeriodSeconds: 5, ConsecutiveFailures: 3}
	e.f.Launch(t, e.agentID, web)
	webIP := e.runningIP(t, "web", "mesos-bridge")
	if p, err := netip.ParsePrefix("172.31.254.0/24"); err != nil || !p.Contains(netip.MustParseAddr(webIP)) {
		t.Errorf("bridged task got %s, want an address of the default bridge subnet 172.31.254.0/24", webIP)
	}
	agentPort := "http://" + e.a.ip + ":31000/"
	wantPage(t, e.b, agentPort, "web")                 // from another host
	wantPage(t, e.a, agentPort, "web")                 // from the agent's host
	wantPage(t, e.a, "http://127.0.0.1:31000/", "web") // its localhost
	wantPage(t, e.a, "http://"+webIP+":8080/", "web")  // the container itself
	box := sandbox(t, e.agent.workDir, "web")
	mastertest.WaitFor(t, 5*time.Second, "the task's probes", func() bool { return readFile(t, filepath.Join(box, "router.txt")) != "" })
	if got := readFile(t, filepath.Join(box, "router.txt")); got != "router" {
		t.Errorf("localhost:10555 inside the bridged container answered %q, want the node's router", got)
	}
	if got := readFile(t, filepath.Join(box, "resolv.txt")); !strings.Contains(got, "nameserver "+e.a.ip) {
		t.Errorf("the container's resolv.conf is %q, want nameserver %s", got, e.a.ip)
	}

	// The macvlan CNI network: an address of the shared segment from
	// corral-ipam, reachable from the other host directly and from the
	// agent's host through its macvlan shim.
	cni := mesos.NetworkInfo{Name: "corralnet"}
	mv := netTask("mv", "cpus:0.1;mem:64", httpd("mv"), cni)
	mv.HealthCheck = &mesos.HealthCheck{Type: "TCP", Port: 8080, DelaySeconds: 0.001, IntervalSeconds: 0.1, TimeoutSeconds: 1, GracePeriodSeconds: 5, ConsecutiveFailures: 3}
	e.f.Launch(t, e.agentID, mv)
	mvIP := e.runningIP(t, "mv", "corralnet")
	if a := netip.MustParseAddr(mvIP); a.Compare(netip.MustParseAddr("192.168.81.100")) < 0 || a.Compare(netip.MustParseAddr("192.168.81.200")) > 0 {
		t.Errorf("macvlan task got %s, want an address of the range 192.168.81.100-200", mvIP)
	}
	t.Logf("bridged task at %s, macvlan task at %s", webIP, mvIP)
	wantPage(t, e.b, "http://"+mvIP+":8080/", "mv")
	wantPage(t, e.a, "http://"+mvIP+":8080/", "mv")

	// Health checks reach the containers at their own addresses.
	for _, id := range []string{"web", "mv"} {
		mastertest.WaitFor(t, 10*time.Second, id+" to be healthy", func() bool {
			for _, ev := range e.f.Events() {
				if u := ev.Update; u != nil && u.TaskID == id && u.Healthy != nil && *u.Healthy {
					return true
				}
			}
			return false
		})
	}

	// Failed launches release what they set up.
	badStart := bridge("badstart", 31003, "exec sleep 300")
	badStart.Command.User = "no-such-user"
	e.f.Launch(t, e.agentID, badStart)
	e.f.Launch(t, e.agentID, netTask("nonet", "cpus:0.1;mem:64", "exec sleep 300", mesos.NetworkInfo{Name: "no-such-network"}))
	stolen := bridge("stolen", 31004, "exec sleep 300")
	stolen.Container.NetworkInfos[0].PortMappings[0].HostPort = 22
	e.f.Launch(t, e.agentID, stolen)
	if st := e.f.WaitUpdate(t, 20*time.Second, "badstart", mesos.TaskFailed); !strings.Contains(st.Message, "no-such-user") {
		t.Errorf("badstart failed with %q, want the unknown user", st.Message)
	}
	if st := e.f.WaitUpdate(t, 20*time.Second, "nonet", mesos.TaskFailed); !strings.Contains(st.Message, `unknown network "no-such-network"`) {
		t.Errorf("nonet failed with %q, want the unknown network", st.Message)
	}
	if st := e.f.WaitUpdate(t, 20*time.Second, "stolen", mesos.TaskError); !strings.Contains(st.Message, "host_port 22") {
		t.Errorf("stolen ended with %q, want the port it does not own", st.Message)
	}

	// Killing releases everything.
	for _, id := range []string{"web", "mv"} {
		e.f.Kill(t, id)
		e.f.WaitUpdate(t, 10*time.Second, id, mesos.TaskKilled)
	}
	e.wantNoLeftovers(t, "after kill")
	if _, err := httpGet(t, e.b.path, agentPort); err == nil {
		t.Errorf("host port 31000 still answers after the task was killed")
	}

	// kill -9 agentd with one task of each network running and one that
	// ends while agentd is down.
	e.f.Launch(t, e.agentID, bridge("web2", 31001, httpd("web2")))
	e.f.Launch(t, e.agentID, netTask("mv2", "cpus:0.1;mem:64", httpd("mv2"), cni))
	e.f.Launch(t, e.agentID, bridge("ends", 31002, `while [ ! -f stop ]; do sleep 0.05; done`))
	e.runningIP(t, "web2", "mesos-bridge")
	mv2IP := e.runningIP(t, "mv2", "corralnet")
	e.runningIP(t, "ends", "mesos-bridge")
	e.agent.stop(syscall.SIGKILL)
	os.WriteFile(filepath.Join(sandbox(t, e.agent.workDir, "ends"), "stop"), nil, 0o644)
	mastertest.WaitFor(t, 10*time.Second, "the task to end while agentd is down", func() bool {
		_, ok, _ := shim.ReadExit(filepath.Join(filepath.Dir(sandbox(t, e.agent.workDir, "ends")), "run"))
		return ok
	})
	e.injectLeftovers(t)
	e.agent.start()
	e.f.WaitUpdate(t, 20*time.Second, "ends", mesos.TaskFinished)
	wantPage(t, e.b, "http://"+e.a.ip+":31001/", "web2")
	wantPage(t, e.a, "http://"+e.a.ip+":31001/", "web2")
	wantPage(t, e.b, "http://"+mv2IP+":8080/", "mv2")
	wantPage(t, e.a, "http://"+mv2IP+":8080/", "mv2")
	if _, err := httpGet(t, e.b.path, "http://"+e.a.ip+":31002/"); err == nil {
		t.Errorf("the port of the task that ended while agentd was down still answers")
	}
	for _, id := range []string{"web2", "mv2"} {
		e.f.Kill(t, id)
		e.f.WaitUpdate(t, 10*time.Second, id, mesos.TaskKilled)
	}
	e.wantNoLeftovers(t, "after kill -9, restart and kill")
}

// nft runs f with nftables in host a and agentd's table there.
func (e *netEnv) nft(t *testing.T, f func(*nftables.Conn, *nftables.Table)) {
	t.Helper()
	fd, err := unix.Open(e.a.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	f(c, &nftables.Table{Name: "corral", Family: nftables.TableFamilyIPv4})
}

// taskRules lists the rules of host a's table that carry a comment (a
// task's ID) in the chains that hold tasks' rules.
func (e *netEnv) taskRules(t *testing.T) []string {
	t.Helper()
	var out []string
	e.nft(t, func(c *nftables.Conn, tab *nftables.Table) {
		for _, chain := range []string{"ports", "masq"} {
			rules, err := c.GetRules(tab, &nftables.Chain{Name: chain, Table: tab})
			if err != nil {
				continue // no table yet
			}
			for _, r := range rules {
				if id, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
					out = append(out, fmt.Sprintf("nft %s rule of %s", chain, id))
				}
			}
		}
	})
	return out
}

// injectLeftovers leaves on host a what a task whose record is lost (or an
// agentd that crashed before writing it) would leave: a pinned namespace, a
// bridge address, a veth pair from the bridge into the namespace, a port
// forward tagged with the task, and a corral-ipam reservation.
func (e *netEnv) injectLeftovers(t *testing.T) {
	t.Helper()
	dir := filepath.Join(e.agent.workDir, "network")
	pin := filepath.Join(dir, "netns", "ghost")
	os.WriteFile(pin, nil, 0o444)
	if out, err := exec.Command("unshare", "--net="+pin, "true").CombinedOutput(); err != nil {
		t.Fatalf("pinning a leftover namespace: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "bridge", "172.31.254.250"), []byte("ghost"), 0o600)
	// Its veth pair: one end on the bridge, the other in its namespace.
	ghostNS, err := netns.GetFromPath(pin)
	if err != nil {
		t.Fatal(err)
	}
	defer ghostNS.Close()
	hostNS, err := netns.GetFromPath(e.a.path)
	if err != nil {
		t.Fatal(err)
	}
	defer hostNS.Close()
	h, err := netlink.NewHandleAt(hostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	br, err := h.LinkByName("corral0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cor0123456789ab", MasterIndex: br.Attrs().Index},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(ghostNS)}); err != nil {
		t.Fatalf("adding a leftover veth: %v", err)
	}
	e.nft(t, func(c *nftables.Conn, tab *nftables.Table) {
		c.AddRule(&nftables.Rule{Table: tab, Chain: &nftables.Chain{Name: "ports", Table: tab},
			Exprs: []expr.Any{&expr.Counter{}}, UserData: userdata.AppendString(nil, userdata.TypeComment, "ghost")})
		if err := c.Flush(); err != nil {
			t.Fatalf("adding a leftover rule: %v", err)
		}
	})
	ipam := exec.Command(filepath.Join(cniPlugins(t), "corral-ipam"))
	ipam.Env = []string{"CNI_COMMAND=ADD", "CNI_CONTAINERID=ghost", "CNI_NETNS=" + pin, "CNI_IFNAME=eth0", "CNI_PATH=" + cniPlugins(t)}
	ipam.Stdin = strings.NewReader(`{"cniVersion":"1.1.0","name":"corralnet","ipam":` + e.ipamConf + `}`)
	var out []byte
	if err := inNetns(e.a.path, func() (err error) { out, err = ipam.CombinedOutput(); return err }); err != nil {
		t.Fatalf("reserving a leftover address: %v\n%s", err, out)
	}
	left := e.leftovers(t)
	if len(left) < 6 {
		t.Fatalf("injected leftovers not all seen: %q", left)
	}
	t.Logf("before the restart:\n%s", strings.Join(left, "\n"))
}
