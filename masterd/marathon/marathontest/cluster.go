// Package marathontest runs a real single-node cluster for tests and
// benchmarks of the Marathon API: the masterd and agentd binaries, built
// from this tree, with masterd's embedded etcd and agentd's containers, all
// on loopback.
package marathontest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/marathon"
	"corral/masterd/state/statetest"
	"corral/mesos"

	"golang.org/x/sys/unix"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds masterd, agentd (with corral-shim and corral-exec beside
// it, as installed), routerd and the test backend echoserver once per test binary
// and returns the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "corral-bin")
		if buildErr != nil {
			return
		}
		for d, pkg := range map[string]string{"masterd": "masterd", "agentd": "agentd", "corral-shim": "agentd/corral-shim", "corral-exec": "isolation/corral-exec", "routerd": "routerd"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, d), "corral/"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", d, err, out)
				return
			}
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "echoserver"), "corral/tstest/echoserver").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build echoserver: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// RemoveBinaries deletes what Binaries built; call it from TestMain after
// the tests ran.
func RemoveBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Options shape the cluster.
type Options struct {
	Isolation  string   // agentd --isolation; default linux as root, posix otherwise
	Resources  string   // agentd --resources
	MasterArgs []string // extra masterd flags
	AgentArgs  []string // extra agentd flags
	// Credentials ("user:password") run the Marathon API with
	// --http-credentials; the cluster's own requests send them.
	Credentials string
	// TLS serves the Marathon API over HTTPS with a self-signed
	// certificate for 127.0.0.1 (Cluster.RootCAs trusts it).
	TLS bool
}

// Cluster is a running masterd and agentd.
type Cluster struct {
	t        testing.TB
	Dir      string
	Marathon string // http(s)://127.0.0.1:port of the Marathon API
	Mesos    string // http://127.0.0.1:port of the Mesos API
	// RootCAs trusts the Marathon API's certificate with Options.TLS.
	RootCAs  *x509.CertPool
	procs    []*exec.Cmd
	agentDir string
	user     string // Options.Credentials
	password string
	client   *http.Client

	agentArgs []string // agentd's flags, for StartAgent
}

// Start runs a cluster until the test ends and waits for the agent to
// register.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	bin := Binaries(t)
	if o.Isolation == "" {
		o.Isolation = "posix"
		if os.Geteuid() == 0 {
			o.Isolation = "linux"
		}
	}
	if o.Resources == "" {
		o.Resources = "cpus:8;mem:4096;disk:4000;ports:[31000-32000]"
	}
	c := &Cluster{t: t, Dir: t.TempDir(), client: http.DefaultClient}
	if o.Credentials != "" {
		c.user, c.password, _ = strings.Cut(o.Credentials, ":")
		o.MasterArgs = append([]string{"--http-credentials", o.Credentials}, o.MasterArgs...)
	}
	if o.TLS {
		cert, key := c.selfSigned()
		o.MasterArgs = append([]string{"--marathon-tls-cert", cert, "--marathon-tls-key", key}, o.MasterArgs...)
		c.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.RootCAs}}}
	}
	t.Cleanup(c.stop)
	// masterd gets four ports that were free a moment ago; the tests of
	// other packages, running at the same time, may take one first. Then
	// masterd exits at once with "address already in use", and the cluster
	// starts again on new ports rather than failing the test.
	for attempt := 1; ; attempt++ {
		c.launch(bin, o)
		up := false
		c.WaitFor(30*time.Second, "the Marathon API", func() bool {
			up = c.marathonUp()
			return up || c.masterdExited()
		})
		if up {
			break
		}
		log, _ := os.ReadFile(filepath.Join(c.Dir, "masterd.log"))
		if !bytes.Contains(log, []byte("address already in use")) {
			t.Fatalf("masterd exited while starting:\n%s", log)
		}
		if attempt == 5 {
			t.Fatalf("masterd found one of its ports taken %d times in a row", attempt)
		}
		t.Logf("masterd found one of its ports taken; starting the cluster again on new ports")
		c.halt()
		os.RemoveAll(filepath.Join(c.Dir, "master"))
		os.RemoveAll(c.agentDir)
	}
	c.WaitFor(30*time.Second, "the agent to register", func() bool {
		var st struct {
			Slaves []struct {
				Active bool `json:"active"`
			} `json:"slaves"`
		}
		return c.GetJSON(c.Mesos+"/master/state", &st) == nil && len(st.Slaves) == 1 && st.Slaves[0].Active
	})
	return c
}

// freePort finds a loopback port for masterd; tests replace it to hand
// out a taken one.
var freePort = statetest.FreePort

// launch starts masterd on new free ports and agentd registering with it.
func (c *Cluster) launch(bin string, o Options) {
	t := c.t
	mesosPort, marathonPort := freePort(t), freePort(t)
	c.Mesos = "http://127.0.0.1:" + strconv.Itoa(mesosPort)
	c.Marathon = "http://127.0.0.1:" + strconv.Itoa(marathonPort)
	if o.TLS {
		c.Marathon = "https://127.0.0.1:" + strconv.Itoa(marathonPort)
	}
	margs := append([]string{
		"--work-dir", filepath.Join(c.Dir, "master"),
		"--listen", "127.0.0.1:" + strconv.Itoa(mesosPort),
		"--marathon-listen", "127.0.0.1:" + strconv.Itoa(marathonPort),
		"--etcd-listen-client", "http://127.0.0.1:" + strconv.Itoa(freePort(t)),
		"--etcd-listen-peer", "http://127.0.0.1:" + strconv.Itoa(freePort(t)),
		"--hostname", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--allocation-interval", "100ms", "--election-ttl", "2s", "--log-level", "debug",
	}, o.MasterArgs...)
	c.start(filepath.Join(bin, "masterd"), margs, "masterd.log")
	c.agentDir = filepath.Join(c.Dir, "agent")
	aargs := append([]string{
		"--master", "127.0.0.1:" + strconv.Itoa(mesosPort), "--work-dir", c.agentDir,
		"--listen", "127.0.0.1:0", "--isolation", o.Isolation, "--hostname", "127.0.0.1",
		"--advertise-ip", "127.0.0.1", "--resources", o.Resources,
		"--registration-backoff", "50ms", "--log-level", "debug",
	}, o.AgentArgs...)
	os.MkdirAll(c.agentDir, 0o755)
	c.agentArgs = aargs
	c.start(filepath.Join(bin, "agentd"), aargs, "agentd.log")
}

// marathonUp reports whether the Marathon API answers /v2/info.
func (c *Cluster) marathonUp() bool {
	req, _ := http.NewRequest(http.MethodGet, c.Marathon+"/v2/info", nil)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// masterdExited reports whether masterd has exited, leaving the process
// for Wait to reap.
func (c *Cluster) masterdExited() bool {
	var info unix.Siginfo // Signo stays 0 while masterd runs
	err := unix.Waitid(unix.P_PID, c.procs[0].Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Signo != 0
}

// MasterdPID returns the process ID of the cluster's masterd.
func (c *Cluster) MasterdPID() int { return c.procs[0].Process.Pid }

// StartRouter runs routerd from the same build against the cluster's
// Marathon, with the given extra flags, until the test ends; its log is
// routerd.log in c.Dir.
func (c *Cluster) StartRouter(args ...string) {
	c.t.Helper()
	c.start(filepath.Join(Binaries(c.t), "routerd"), append([]string{"--marathon", c.Marathon, "--masters", strings.TrimPrefix(c.Mesos, "http://"), "--log-level", "debug"}, args...), "routerd.log")
}

func (c *Cluster) start(bin string, args []string, logName string) {
	cmd := exec.Command(bin, args...)
	log, err := os.Create(filepath.Join(c.Dir, logName))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs = append(c.procs, cmd)
}

// stop ends the daemons and every task the agent left running; on failure
// it prints the daemons' logs' tails.
func (c *Cluster) stop() {
	c.halt()
	dirs, _ := filepath.Glob(filepath.Join(c.agentDir, "tasks", "*", "run"))
	for _, d := range dirs {
		if p, ok, _ := shim.ReadPid(d); ok && p.Alive() {
			shim.RequestKill(d, p, 0)
			for i := 0; i < 500 && p.Alive(); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if c.t.Failed() {
		for _, name := range []string{"masterd.log", "agentd.log", "routerd.log"} {
			b, err := os.ReadFile(filepath.Join(c.Dir, name))
			if err != nil {
				continue
			}
			lines := strings.Split(string(b), "\n")
			c.t.Logf("last lines of %s:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
}

// halt ends the daemons, in the reverse order of their start: SIGTERM,
// then SIGKILL after 10 s.
func (c *Cluster) halt() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		if p := c.procs[i]; p.ProcessState == nil {
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
	}
	c.procs = nil
}

// WaitFor polls cond every 50 ms until it holds or fails the test.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Do sends a request with the cluster's credentials, trusting its
// certificate.
func (c *Cluster) Do(req *http.Request) (*http.Response, error) {
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	return c.client.Do(req)
}

// selfSigned writes a certificate and key for 127.0.0.1 into c.Dir and
// trusts the certificate in c.RootCAs.
func (c *Cluster) selfSigned() (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "corral test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		c.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(c.Dir, "marathon.crt"), filepath.Join(c.Dir, "marathon.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		c.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c.RootCAs = x509.NewCertPool()
	c.RootCAs.AddCert(cert)
	return certPath, keyPath
}

// GetJSON decodes the answer to GET url, an error unless it is 200.
func (c *Cluster) GetJSON(url string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// App returns GET /v2/apps/{id} with its embeds, or false when it fails.
func (c *Cluster) App(id string) (marathon.AppInfo, bool) {
	var v marathon.AppSingle
	if err := c.GetJSON(c.Marathon+"/v2/apps"+id, &v); err != nil {
		return marathon.AppInfo{}, false
	}
	return v.App, true
}

// Event is one event of /v2/events.
type Event struct {
	Type string
	Data json.RawMessage
	At   time.Time
}

// Events follows /v2/events until the test ends; the returned function
// returns the events so far.
func (c *Cluster) Events() func() []Event {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.Marathon+"/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET /v2/events: %s", resp.Status)
	}
	var mu sync.Mutex
	var evs []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		var typ string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				typ = strings.TrimSpace(line[len("event:"):])
			case strings.HasPrefix(line, "data:"):
				mu.Lock()
				evs = append(evs, Event{Type: typ, Data: json.RawMessage(strings.TrimSpace(line[len("data:"):])), At: time.Now()})
				mu.Unlock()
			}
		}
	}()
	c.t.Cleanup(func() { resp.Body.Close(); <-done })
	return func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), evs...)
	}
}

// MasterState reads the leader's /master/state, failing the test if it cannot.
func (c *Cluster) MasterState(t testing.TB) mesos.MasterState {
	t.Helper()
	var st mesos.MasterState
	if err := c.GetJSON(c.Mesos+"/master/state", &st); err != nil {
		t.Fatalf("reading /master/state: %v", err)
	}
	return st
}
