package server_test

// What masterd does when the machine runs short: of disk for etcd, of file
// descriptors for connections.

import (
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/masterd/state/statetest"
	"corral/tstest"
)

// TestEtcdFailureReachesStderr: when embedded etcd ends masterd (here its
// disk is too small for etcd's write-ahead log), the reason is in
// masterd's own output, which the journal keeps, and not only in etcd.log
// on the disk that failed.
func TestEtcdFailureReachesStderr(t *testing.T) {
	tstest.RequireRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	cfg := statetest.Config(t)
	var stderr tstest.LockedBuffer
	cmd := exec.Command(masterdBinary(t), "--listen", "127.0.0.1:"+strconv.Itoa(statetest.FreePort(t)),
		"--marathon-listen", "127.0.0.1:"+strconv.Itoa(statetest.FreePort(t)), "--hostname", "127.0.0.1",
		"--work-dir", dir, "--etcd-listen-client", cfg.ClientURL, "--etcd-listen-peer", cfg.PeerURL)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("masterd exited 0 without room for etcd's log")
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("masterd ran on without room for etcd's log; stderr:\n%s", stderr.String())
	}
	t.Logf("masterd's stderr:\n%s", stderr.String())
	if out := stderr.String(); !strings.Contains(out, "no space left on device") {
		t.Errorf("masterd's stderr does not say why it ended:\n%s", out)
	}
}

// TestFloodedMarathonPortLeavesMesosPort: a flood of idle connections to
// the Marathon port waits in the kernel's backlog beyond a quarter of
// masterd's file descriptors, so the Mesos port (agents, routers) still
// answers and embedded etcd keeps the descriptors it needs. Before, the
// flood took every descriptor: no port accepted, and etcd ended masterd.
func TestFloodedMarathonPortLeavesMesosPort(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	cfg := statetest.Config(t)
	port, mport := statetest.FreePort(t), statetest.FreePort(t)
	cmd := exec.Command(prlimit, "--nofile=256:256", "--", masterdBinary(t),
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--marathon-listen", "127.0.0.1:"+strconv.Itoa(mport),
		"--hostname", "127.0.0.1", "--log-level", "error",
		"--work-dir", t.TempDir(), "--etcd-listen-client", cfg.ClientURL, "--etcd-listen-peer", cfg.PeerURL)
	var stderr tstest.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, port: port}
	t.Cleanup(p.kill)
	waitFor(t, 15*time.Second, "masterd to lead", func() bool { _, ok := masterState(t, p.addr()); return ok })

	// More idle connections than masterd has descriptors, each with half
	// a request.
	var flood []net.Conn
	t.Cleanup(func() {
		for _, c := range flood {
			c.Close()
		}
	})
	for range 300 {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(mport))
		if err != nil {
			t.Fatalf("dialling the Marathon port: %v", err)
		}
		c.Write([]byte("GET /v2/apps HTTP/1.1\r\n"))
		flood = append(flood, c)
	}
	time.Sleep(500 * time.Millisecond) // masterd accepts what it will
	// A new connection each time: one kept alive from before the flood
	// would need no accept.
	fresh := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	waitFor(t, 5*time.Second, "/master/state on the Mesos port during the flood", func() bool {
		resp, err := fresh.Get("http://" + p.addr() + "/master/state")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Logf("Mesos port answered %v into the flood", time.Since(start).Round(time.Millisecond))
	if strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("masterd ran out of file descriptors:\n%s", stderr.String())
	}
	// Once the flood ends, the Marathon port serves again: masterd lives.
	for _, c := range flood {
		c.Close()
	}
	flood = nil
	waitFor(t, 15*time.Second, "the Marathon port after the flood", func() bool {
		resp, err := fresh.Get("http://127.0.0.1:" + strconv.Itoa(mport) + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
