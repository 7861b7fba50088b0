package marathon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/masterd/marathon/marathontest"
)

// TestStalledEventStreamsBoundedMemory connects 200 event-stream clients
// that never read, then streams large events: updates of a small app,
// whose deployment plans carry the whole root group (40 apps of 16 KB)
// twice. masterd's anonymous resident memory (its heap; not etcd's
// mapped files) must grow by less than 50 MB. Subscribers used to queue
// 1024 events each before they were dropped, which held hundreds of MB.
func TestStalledEventStreamsBoundedMemory(t *testing.T) {
	const clients, apps, updates, budget = 200, 40, 60, 50 << 20
	c := marathontest.Start(t, marathontest.Options{})
	pid := c.MasterdPID()
	events := c.Events()

	pad := map[string]string{}
	for i := range 4 {
		pad[fmt.Sprintf("PAD%d", i)] = strings.Repeat(strconv.Itoa(i%10), 4<<10)
	}
	for i := range apps {
		a := map[string]any{"id": fmt.Sprintf("/big/a%d", i), "cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 8, "env": pad}
		if code, body := call(t, c, http.MethodPost, "/v2/apps", a); code/100 != 2 {
			t.Fatalf("POST /v2/apps: %d %s", code, body)
		}
	}
	put := func(v int) {
		a := map[string]any{"id": "/pad", "cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 8,
			"env": map[string]string{"VERSION": strconv.Itoa(v)}}
		if code, body := call(t, c, http.MethodPut, "/v2/apps/pad?force=true", a); code/100 != 2 {
			t.Fatalf("PUT /v2/apps/pad: %d %s", code, body)
		}
	}
	for v := range 5 { // warm up the paths the updates take
		put(v)
	}
	c.WaitFor(20*time.Second, "the warm-up deployments to end", func() bool { return deployedVersion(events()) == 4 })
	before := procKB(t, pid, "RssAnon")
	peak := before
	stop, sampled := make(chan struct{}), make(chan struct{})
	stopSampling := sync.OnceFunc(func() { close(stop); <-sampled })
	defer stopSampling() // before the cluster stops, should the test end early
	go func() {
		defer close(sampled)
		for {
			if kb, err := readKB(pid, "RssAnon"); err == nil {
				peak = max(peak, kb)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	var conns []net.Conn
	t.Cleanup(func() {
		for _, cn := range conns {
			cn.Close()
		}
	})
	addr := strings.TrimPrefix(c.Marathon, "http://")
	for range clients {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			// A small receive window, as a client that stopped reading
			// long ago would advertise.
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		cn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cn)
		if _, err := fmt.Fprintf(cn, "GET /v2/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitFor(20*time.Second, "every stalled client to attach", func() bool {
		n := 0
		for _, e := range events() {
			if e.Type == "event_stream_attached" {
				n++
			}
		}
		return n >= clients
	})

	for v := 5; v < 5+updates; v++ {
		put(v)
	}
	// Asked of the API, not of this test's own event stream: on a busy
	// machine that reader too can fall behind by the byte bound and be
	// dropped like the stalled ones.
	last := strconv.Itoa(5 + updates - 1)
	c.WaitFor(60*time.Second, "the last deployment to end", func() bool {
		var app struct {
			App struct {
				Env map[string]string `json:"env"`
			} `json:"app"`
		}
		var deployments []json.RawMessage
		return c.GetJSON(c.Marathon+"/v2/apps/pad", &app) == nil && app.App.Env["VERSION"] == last &&
			c.GetJSON(c.Marathon+"/v2/deployments", &deployments) == nil && len(deployments) == 0
	})
	stopSampling()
	grew := (peak - before) << 10
	t.Logf("masterd anonymous RSS %d MB before %d stalled clients, peak %d MB after %d updates (+%d MB)",
		before>>10, clients, peak>>10, updates, grew>>20)
	if grew >= budget {
		t.Errorf("%d stalled event-stream clients grew masterd's RSS by %d MB, want < %d MB", clients, grew>>20, budget>>20)
	}
}

// deployedVersion returns the VERSION of the last app update whose
// deployment succeeded, -1 if none: the app's env is in the plan's target.
func deployedVersion(evs []marathontest.Event) int {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type != "deployment_success" {
			continue
		}
		s := string(evs[i].Data)
		j := strings.LastIndex(s, `"VERSION":"`)
		if j < 0 {
			continue
		}
		s = s[j+len(`"VERSION":"`):]
		v, err := strconv.Atoi(s[:strings.IndexByte(s, '"')])
		if err == nil {
			return v
		}
	}
	return -1
}

// procKB reads a memory figure (VmRSS, RssAnon) of process pid, in KB,
// failing the test if it cannot.
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	n, err := readKB(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readKB reads a memory figure of process pid from /proc, in KB.
func readKB(pid int, field string) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
