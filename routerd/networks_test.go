package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"corral/agentd/shim"
	"corral/cni/cnitest"
	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/routerd/admin"
	"corral/tstest"
)

// The simulated host: masterd, agentd and routerd all run in one network
// namespace whose uplink p0 (the macvlan parent) is a veth pair shared with
// a second namespace, the other host of the segment. Nothing touches the test
// machine's networks, and the daemons can take their default ports.
const (
	simSubnet  = "192.168.81.0/24"
	simHostIP  = "192.168.81.1" // the node: agentd's --advertise-ip and --hostname
	simOtherIP = "192.168.81.2" // the other host on p0's segment
	simMesos   = "127.0.0.1:5050"
	simAPI     = "http://127.0.0.1:8080"
	simEtcd    = "http://127.0.0.1:2379"
	simAdmin   = "http://127.0.0.1:9090"
	simCNINet  = "corralnet"
	simDNS     = "127.0.0.1:8053"
)

// inNetns is tstest.InNetns.
func inNetns(path string, f func() error) error { return tstest.InNetns(path, f) }

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// nsClient is an HTTP client whose connections are dialed inside the
// namespace at path.
func nsClient(path string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = inNetns(path, func() error {
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// simCluster is masterd, agentd and (once started) routerd in the
// simulated host's namespace.
type simCluster struct {
	t           *testing.T
	dir         string
	host, other string // paths of the two namespaces
	client      *http.Client
	otherClient *http.Client
	procs       []*exec.Cmd
}

func newSimCluster(t *testing.T) *simCluster {
	t.Helper()
	tstest.RequireRoot(t)
	for _, tool := range []string{"busybox", "curl", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	c := &simCluster{t: t, dir: t.TempDir()}
	bin := marathontest.Binaries(t)
	plugins := filepath.Join(bin, "cni") // removed with the binaries
	if err := cnitest.Build(plugins); err != nil {
		t.Fatal(err)
	}

	var names [2]string
	for i := range names {
		names[i] = fmt.Sprintf("crtr%d-%c", os.Getpid(), 'a'+i)
		ipCmd(t, "netns", "add", names[i])
		name := names[i]
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ipCmd(t, "-n", name, "link", "set", "lo", "up")
	}
	ipCmd(t, "-n", names[0], "link", "add", "p0", "type", "veth", "peer", "name", "p0", "netns", names[1])
	for i, ip := range []string{simHostIP, simOtherIP} {
		ipCmd(t, "-n", names[i], "addr", "add", ip+"/24", "dev", "p0")
		ipCmd(t, "-n", names[i], "link", "set", "p0", "up")
	}
	c.host, c.other = "/run/netns/"+names[0], "/run/netns/"+names[1]
	c.client = nsClient(c.host, 5*time.Second)
	c.otherClient = nsClient(c.other, 3*time.Second)

	// A macvlan network on p0 whose addresses corral-ipam keeps in the
	// master's embedded etcd.
	confDir := filepath.Join(c.dir, "net.d")
	os.MkdirAll(confDir, 0o755)
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":%q,"plugins":[{"type":"corral-macvlan","master":"p0","mode":"bridge",
		"ipam":{"type":"corral-ipam","etcdEndpoints":[%q],"subnet":%q,"rangeStart":"192.168.81.100","rangeEnd":"192.168.81.200","host":"host-a","dataDir":%q}}]}`,
		simCNINet, simEtcd, simSubnet, filepath.Join(c.dir, "ipam"))
	if err := os.WriteFile(filepath.Join(confDir, simCNINet+".conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	agentDir := filepath.Join(c.dir, "agent")
	os.MkdirAll(agentDir, 0o755)
	t.Cleanup(func() { c.stop(agentDir) })
	c.start(filepath.Join(bin, "masterd"), "masterd.log",
		"--work-dir", filepath.Join(c.dir, "master"), "--listen", simMesos, "--marathon-listen", strings.TrimPrefix(simAPI, "http://"),
		"--etcd-listen-client", simEtcd, "--etcd-listen-peer", "http://127.0.0.1:2380",
		"--hostname", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--allocation-interval", "100ms", "--election-ttl", "2s", "--log-level", "debug")
	c.start(filepath.Join(bin, "agentd"), "agentd.log",
		"--master", simMesos, "--work-dir", agentDir, "--listen", "127.0.0.1:5051",
		"--isolation", shim.Linux, "--hostname", simHostIP, "--advertise-ip", simHostIP,
		"--resources", "cpus:4;mem:2048;disk:1000;ports:[31000-31100]",
		"--kill-grace-period", "1s", "--registration-backoff", "50ms", "--log-level", "debug",
		"--network-cni-config-dir", confDir, "--network-cni-plugins-dir", plugins+":/usr/lib/cni")
	tstest.WaitFor(t, 30*time.Second, "the agent to register", func() bool {
		var st struct {
			Slaves []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
		}
		return c.getJSON("http://"+simMesos+"/master/state", &st) == nil && len(st.Slaves) == 1 && st.Slaves[0].Active
	})
	tstest.WaitFor(t, 30*time.Second, "the Marathon API", func() bool {
		var info map[string]any
		return c.getJSON(simAPI+"/v2/info", &info) == nil
	})
	return c
}

// start runs bin inside the simulated host with its output in logName.
func (c *simCluster) start(bin, logName string, args ...string) {
	c.t.Helper()
	log, err := os.Create(filepath.Join(c.dir, logName))
	if err != nil {
		c.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := inNetns(c.host, cmd.Start); err != nil {
		c.t.Fatalf("starting %s: %v", bin, err)
	}
	c.procs = append(c.procs, cmd)
}

// stop ends the daemons, then the tasks through their shims, and unpins
// the tasks' namespaces (agentd is gone, it will not); deleting the
// simulated hosts' namespaces takes their links and nftables tables.
func (c *simCluster) stop(agentDir string) {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	runs, _ := filepath.Glob(filepath.Join(agentDir, "tasks", "*", "run"))
	for _, d := range runs {
		if p, ok, _ := shim.ReadPid(d); ok && p.Alive() {
			shim.RequestKill(d, p, 0)
			for end := time.Now().Add(10 * time.Second); p.Alive() && time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	pins, _ := filepath.Glob(filepath.Join(agentDir, "network", "netns", "*"))
	for _, p := range pins {
		unix.Unmount(p, unix.MNT_DETACH)
	}
	if c.t.Failed() {
		for _, name := range []string{"masterd.log", "agentd.log", "routerd.log"} {
			b, err := os.ReadFile(filepath.Join(c.dir, name))
			if err != nil {
				continue
			}
			lines := strings.Split(string(b), "\n")
			c.t.Logf("last lines of %s:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
}

func (c *simCluster) getJSON(url string, v any) error {
	resp, err := c.client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (c *simCluster) postApp(app map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(app)
	resp, err := c.client.Post(simAPI+"/v2/apps", "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatalf("POST /v2/apps %s: %v", app["id"], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("POST /v2/apps %s: %s %s", app["id"], resp.Status, body)
	}
}

// runningTask waits for the app's one task to run and returns it with the
// app's first service port.
func (c *simCluster) runningTask(id string) (marathon.Task, int) {
	c.t.Helper()
	var task marathon.Task
	var port int
	tstest.WaitFor(c.t, 60*time.Second, "the running task of "+id, func() bool {
		var v marathon.AppSingle
		if c.getJSON(simAPI+"/v2/apps"+id, &v) != nil || len(v.App.Tasks) != 1 || v.App.Tasks[0].State != marathon.TaskRunning {
			return false
		}
		task = v.App.Tasks[0]
		if sp := v.App.ServicePorts(); len(sp) > 0 {
			port = sp[0]
		}
		return true
	})
	return task, port
}

// sandboxFile reads a file of the task's sandbox ("" until it exists).
func (c *simCluster) sandboxFile(taskID, name string) string {
	paths, _ := filepath.Glob(filepath.Join(c.dir, "agent", "tasks", "*_"+taskID, "sandbox", name))
	if len(paths) != 1 {
		return ""
	}
	b, _ := os.ReadFile(paths[0])
	return strings.TrimSpace(string(b))
}

// fetchLocalhostApp asks localhost:servicePort from inside its container
// until it answers, keeping curl's errors in failures.txt, then serves the
// answer as /answer.txt on port 8080.
func fetchLocalhostApp(id string, servicePort int) map[string]any {
	return map[string]any{
		"id": id,
		"cmd": fmt.Sprintf(`until curl -fsS -m 2 -o answer.tmp http://localhost:%d/ 2>>failures.txt; do sleep 0.2; done; `+
			`mv answer.tmp answer.txt; exec busybox httpd -f -p 8080 -h .`, servicePort),
		"instances":      1,
		"cpus":           0.05,
		"mem":            32,
		"backoffSeconds": 1,
	}
}

// TestRouterNetworks: routerd with its default --service-bind 0.0.0.0
// serves localhost:<servicePort> inside containers of every network mode.
// A host-networked /target gets service port S; a container on
// container/bridge and one on a macvlan CNI network fetch localhost:S in a
// loop. Before routerd runs, both fetches fail; once it runs, both get
// /target's task ID, read from the other host of the segment through the
// bridged task's host port and the macvlan task's own address.
func TestRouterNetworks(t *testing.T) {
	c := newSimCluster(t)

	target := httpdApp("/target", 1, nil)
	target["cmd"] = "echo $MESOS_TASK_ID > index.html; exec busybox httpd -f -p $PORT0 -h ."
	c.postApp(target)
	targetTask, s := c.runningTask("/target")
	if s == 0 || len(targetTask.Ports) != 1 {
		t.Fatalf("/target has service port %d and task ports %v, want one of each", s, targetTask.Ports)
	}
	backend := net.JoinHostPort(targetTask.Host, strconv.Itoa(targetTask.Ports[0]))
	t.Logf("/target: service port %d, task %s at %s", s, targetTask.ID, backend)

	bridged := fetchLocalhostApp("/bridged", s)
	bridged["networks"] = []map[string]any{{"mode": "container/bridge"}}
	bridged["container"] = map[string]any{"type": "MESOS",
		"portMappings": []map[string]any{{"containerPort": 8080, "hostPort": 0, "protocol": "tcp", "name": "http"}}}
	c.postApp(bridged)
	macvlan := fetchLocalhostApp("/macvlan", s)
	macvlan["networks"] = []map[string]any{{"mode": "container", "name": simCNINet}}
	c.postApp(macvlan)
	bridgedTask, _ := c.runningTask("/bridged")
	macvlanTask, _ := c.runningTask("/macvlan")
	if len(bridgedTask.Ports) != 1 {
		t.Fatalf("/bridged's task has host ports %v, want one", bridgedTask.Ports)
	}
	if len(macvlanTask.IPAddresses) != 1 {
		t.Fatalf("/macvlan's task has addresses %v, want one", macvlanTask.IPAddresses)
	}
	// Where each container serves what localhost:S answered it, as seen
	// from the other host: the bridged task's host port, the macvlan task's
	// own address.
	fetchers := []struct{ app, task, answer string }{
		{"/bridged", bridgedTask.ID, "http://" + net.JoinHostPort(simHostIP, strconv.Itoa(bridgedTask.Ports[0])) + "/answer.txt"},
		{"/macvlan", macvlanTask.ID, "http://" + net.JoinHostPort(macvlanTask.IPAddresses[0].IPAddress, "8080") + "/answer.txt"},
	}

	// Without routerd nothing serves S: each container's fetch fails.
	for _, f := range fetchers {
		tstest.WaitFor(t, 20*time.Second, "a failed fetch of localhost:S in "+f.app+" before routerd runs", func() bool {
			return c.sandboxFile(f.task, "failures.txt") != ""
		})
		if got := c.sandboxFile(f.task, "answer.txt"); got != "" {
			t.Fatalf("%s fetched localhost:%d before routerd ran: %q", f.app, s, got)
		}
		t.Logf("%s before routerd: %s", f.app, lastLine(c.sandboxFile(f.task, "failures.txt")))
	}

	c.start(filepath.Join(marathontest.Binaries(t), "routerd"), "routerd.log",
		"--marathon", simAPI, "--masters", simMesos, "--log-level", "debug",
		"--http-listen", "", "--https-listen", "", "--admin-listen", strings.TrimPrefix(simAdmin, "http://"),
		"--dns-listen", simDNS, "--dns-http-listen", "")
	var routed admin.RoutesDoc
	tstest.WaitFor(t, 20*time.Second, "routerd to route /target's service port", func() bool {
		if c.getJSON(simAdmin+"/_router/routes", &routed) != nil {
			return false
		}
		for _, svc := range routed.Services {
			if svc.AppID == "/target" && svc.ServicePort == s && len(svc.Backends) == 1 {
				return true
			}
		}
		return false
	})
	for _, svc := range routed.Services {
		if svc.AppID != "/target" {
			continue
		}
		if svc.Listen != "0.0.0.0:"+strconv.Itoa(s) || svc.Backends[0].TaskID != targetTask.ID || svc.Backends[0].Addr != backend {
			t.Errorf("routerd routes /target as listen %q to %+v, want 0.0.0.0:%d to %s at %s",
				svc.Listen, svc.Backends, s, targetTask.ID, backend)
		}
	}

	// The resolver names the macvlan task by its container address (the
	// netinfo IP source), the host-networked one by the node's.
	for name, want := range map[string]string{"macvlan.marathon.mesos.": macvlanTask.IPAddresses[0].IPAddress, "target.marathon.mesos.": simHostIP} {
		var got []string
		tstest.WaitFor(t, 20*time.Second, "the resolver to answer "+name, func() bool {
			got = c.lookupA(name)
			return len(got) > 0
		})
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s A = %v, want [%s]", name, got, want)
		}
	}

	for _, f := range fetchers {
		got, err := getBody(c.otherClient, f.answer)
		for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			got, err = getBody(c.otherClient, f.answer)
		}
		switch {
		case err != nil:
			t.Errorf("%s never got an answer from localhost:%d through routerd (%v); its last failed fetch: %s",
				f.app, s, err, lastLine(c.sandboxFile(f.task, "failures.txt")))
		case got != targetTask.ID:
			t.Errorf("localhost:%d inside %s answered %q, want /target's task %s", s, f.app, got, targetTask.ID)
		default:
			t.Logf("%s: localhost:%d answered %s", f.app, s, got)
		}
	}
}

func lastLine(s string) string { return s[strings.LastIndex(s, "\n")+1:] }

// getBody returns the trimmed body of a 200 answer to GET url.
func getBody(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// lookupA asks the resolver inside the simulated host for name's A records.
func (c *simCluster) lookupA(name string) []string {
	var out []string
	inNetns(c.host, func() error {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := new(dns.Client).Exchange(m, simDNS)
		if err != nil {
			return err
		}
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		return nil
	})
	return out
}
