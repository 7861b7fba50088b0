package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/marathon"
	"corral/masterd/marathon/marathontest"
	"corral/masterd/state/statetest"
	"corral/mesos"
)

// dnsRouter is routerd's resolver started against a cluster.
type dnsRouter struct {
	addr string // host:port of the resolver, UDP and TCP
	api  string // http://host:port of Mesos-DNS's HTTP API
}

// startDNSRouter starts routerd with its resolver on loopback (routing on,
// as newEnv runs it) and waits until leader.mesos answers.
func startDNSRouter(t testing.TB, c *marathontest.Cluster, extra ...string) dnsRouter {
	t.Helper()
	r := dnsRouter{
		addr: "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		api:  "http://127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
	}
	args := append([]string{"--service-bind", "127.0.0.1",
		"--http-listen", "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)), "--https-listen", "",
		"--admin-listen", "127.0.0.1:" + strconv.Itoa(statetest.FreePort(t)),
		"--dns-listen", r.addr, "--dns-http-listen", strings.TrimPrefix(r.api, "http://")}, extra...)
	c.StartRouter(args...)
	conn := dialResolver(t, r.addr)
	c.WaitFor(20*time.Second, "leader.mesos to resolve", func() bool {
		m, err := conn.ask("leader.mesos.", dns.TypeA)
		return err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0
	})
	return r
}

// resolverConn asks one resolver over a connected UDP socket, one query at
// a time.
type resolverConn struct {
	c   *dns.Conn
	buf []byte
}

func dialResolver(t testing.TB, addr string) *resolverConn {
	t.Helper()
	c, err := dns.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dialing the resolver %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &resolverConn{c: c}
}

// ask sends one query and waits up to 500 ms for its answer; answers to
// earlier queries that timed out are skipped.
func (r *resolverConn) ask(name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg).SetQuestion(name, qtype)
	r.c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if err := r.c.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		m, err := r.c.ReadMsg()
		if err != nil {
			return nil, err
		}
		if m.Id == q.Id {
			return m, nil
		}
	}
}

// srvSet is an SRV answer as target → port, with each target's addresses
// from the additional section.
type srvSet struct {
	ports map[string]uint16
	addrs map[string][]string
}

func parseSRV(m *dns.Msg) srvSet {
	s := srvSet{ports: map[string]uint16{}, addrs: map[string][]string{}}
	for _, rr := range m.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			s.ports[srv.Target] = srv.Port
		}
	}
	for _, rr := range m.Extra {
		if a, ok := rr.(*dns.A); ok {
			s.addrs[a.Hdr.Name] = append(s.addrs[a.Hdr.Name], a.A.String())
		}
	}
	return s
}

// aSet is the sorted addresses of an A answer.
func aSet(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decoding %q: %v", url, b, err)
	}
}

// eventAt returns the arrival time of the first event of type typ whose
// data satisfies match, or false.
func eventAt(evs []marathontest.Event, typ string, match func(data []byte) bool) (time.Time, bool) {
	for _, ev := range evs {
		if ev.Type == typ && match(ev.Data) {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// statusOf matches status_update_events of a task (or of an app, if
// taskID is empty) in state.
func statusOf(appID, taskID, state string) func([]byte) bool {
	return func(data []byte) bool {
		var u marathon.StatusUpdateEvent
		if json.Unmarshal(data, &u) != nil {
			return false
		}
		return u.TaskStatus == state && (taskID == "" || u.TaskID == taskID) && (appID == "" || u.AppID == appID)
	}
}

// srvWatch asks for name's SRV records every 2 ms from its start and
// records when target first went missing from the answer.
type srvWatch struct {
	mu     sync.Mutex // guards goneAt
	goneAt time.Time
	stop   chan struct{}
	done   chan struct{}
}

func watchSRVGone(t testing.TB, addr, name, target string) *srvWatch {
	w := &srvWatch{stop: make(chan struct{}), done: make(chan struct{})}
	conn := dialResolver(t, addr)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			m, err := conn.ask(name, dns.TypeSRV)
			if err != nil || m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
				continue
			}
			if _, ok := parseSRV(m).ports[target]; !ok {
				w.mu.Lock()
				w.goneAt = time.Now()
				w.mu.Unlock()
				return
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *srvWatch) gone() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.goneAt, !w.goneAt.IsZero()
}

func (w *srvWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// TestResolverEndToEnd runs routerd's resolver against a real masterd and
// agentd and asks it as a client would: an app's A and SRV records list its
// tasks, the masters resolve, a killed task and an unhealthy task leave the
// SRV records, the HTTP API agrees with DNS, and other names are REFUSED.
func TestResolverEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (apt-get install busybox-static)")
	}
	c := marathontest.Start(t, marathontest.Options{})
	events := c.Events()
	r := startDNSRouter(t, c)
	e := &env{Cluster: c, t: t}
	conn := dialResolver(t, r.addr)
	mesosPort, _ := strconv.Atoi(c.Mesos[strings.LastIndex(c.Mesos, ":")+1:])

	// The masters.
	for _, name := range []string{"leader.mesos.", "master.mesos.", "master0.mesos."} {
		m, err := conn.ask(name, dns.TypeA)
		if err != nil || m.Rcode != dns.RcodeSuccess || !m.Authoritative || fmt.Sprint(aSet(m)) != "[127.0.0.1]" {
			t.Errorf("%s A = %v %v, want 127.0.0.1, authoritative", name, m, err)
		}
	}
	if m, err := conn.ask("_leader._tcp.mesos.", dns.TypeSRV); err != nil || len(m.Answer) != 1 || m.Answer[0].(*dns.SRV).Port != uint16(mesosPort) {
		t.Errorf("_leader._tcp.mesos SRV = %v %v, want port %d", m, err, mesosPort)
	}

	// Two tasks: the A name lists their address, the SRV name both host
	// ports, each target with its address in the additional section.
	e.mustCall(http.MethodPost, "/v2/apps", httpdApp("/web", 2, nil))
	tasks := e.runningTasks("/web", 2)
	app, _ := e.App("/web")
	wantPorts := map[uint16]string{} // host port → task ID
	var wantAddrs []string
	for _, task := range app.Tasks {
		if len(task.Ports) != 1 || !tasks[task.ID] {
			t.Fatalf("task %+v: want one port, running", task)
		}
		wantPorts[uint16(task.Ports[0])] = task.ID
		for _, ip := range task.IPAddresses {
			wantAddrs = append(wantAddrs, ip.IPAddress)
		}
	}
	slices.Sort(wantAddrs)
	wantAddrs = slices.Compact(wantAddrs)
	if fmt.Sprint(wantAddrs) != "[127.0.0.1]" {
		t.Fatalf("Marathon's task addresses = %v, want [127.0.0.1] (host networking on loopback)", wantAddrs)
	}
	var srv srvSet
	c.WaitFor(5*time.Second, "_web._tcp.marathon.mesos SRV to list both tasks", func() bool {
		m, err := conn.ask("_web._tcp.marathon.mesos.", dns.TypeSRV)
		if err != nil || m.Rcode != dns.RcodeSuccess {
			return false
		}
		srv = parseSRV(m)
		return len(srv.ports) == 2
	})
	targetOf := map[string]string{} // task ID → SRV target
	for target, port := range srv.ports {
		id, ok := wantPorts[port]
		if !ok {
			t.Errorf("SRV %s:%d is no task's host port (want %v)", target, port, wantPorts)
			continue
		}
		targetOf[id] = target
		if fmt.Sprint(srv.addrs[target]) != "[127.0.0.1]" {
			t.Errorf("additional A of SRV target %s = %v, want [127.0.0.1]", target, srv.addrs[target])
		}
		if m, err := conn.ask(target, dns.TypeA); err != nil || fmt.Sprint(aSet(m)) != "[127.0.0.1]" {
			t.Errorf("%s A = %v %v, want 127.0.0.1", target, m, err)
		}
	}
	if len(targetOf) != 2 {
		t.Fatalf("SRV targets by task = %v, want both tasks of %v", targetOf, wantPorts)
	}
	m, err := conn.ask("web.marathon.mesos.", dns.TypeA)
	if err != nil || m.Rcode != dns.RcodeSuccess || fmt.Sprint(aSet(m)) != fmt.Sprint(wantAddrs) {
		t.Errorf("web.marathon.mesos A = %v %v, want %v", m, err, wantAddrs)
	}
	t.Logf("_web._tcp.marathon.mesos SRV: %v; web.marathon.mesos A: %v", srv.ports, aSet(m))

	// Mesos-DNS's HTTP API serves the same records.
	var hosts []struct{ Host, IP string }
	getJSON(t, r.api+"/v1/hosts/web.marathon.mesos", &hosts)
	var hostIPs []string
	for _, h := range hosts {
		if h.Host != "web.marathon.mesos." {
			t.Errorf("/v1/hosts/web.marathon.mesos lists host %q, want web.marathon.mesos.", h.Host)
		}
		hostIPs = append(hostIPs, h.IP)
	}
	slices.Sort(hostIPs)
	if fmt.Sprint(hostIPs) != fmt.Sprint(aSet(m)) {
		t.Errorf("/v1/hosts/web.marathon.mesos addresses = %v, DNS says %v", hostIPs, aSet(m))
	}
	var services []struct{ Service, Host, IP, Port string }
	getJSON(t, r.api+"/v1/services/_web._tcp.marathon.mesos", &services)
	var fromAPI, fromDNS []string
	for _, s := range services {
		if s.Service != "_web._tcp.marathon.mesos" {
			t.Errorf("/v1/services lists service %q", s.Service)
		}
		fromAPI = append(fromAPI, s.Host+" "+s.IP+" "+s.Port)
	}
	for target, port := range srv.ports {
		for _, ip := range srv.addrs[target] {
			fromDNS = append(fromDNS, target+" "+ip+" "+strconv.Itoa(int(port)))
		}
	}
	slices.Sort(fromAPI)
	slices.Sort(fromDNS)
	if fmt.Sprint(fromAPI) != fmt.Sprint(fromDNS) {
		t.Errorf("/v1/services/_web._tcp.marathon.mesos = %v, DNS says %v", fromAPI, fromDNS)
	}

	// Outside the domain, with no --dns-resolvers: REFUSED.
	for _, name := range []string{"example.com.", "mesos.example.com."} {
		if m, err := conn.ask(name, dns.TypeA); err != nil || m.Rcode != dns.RcodeRefused {
			t.Errorf("%s A = %v %v, want REFUSED", name, m, err)
		}
	}

	// Kill one task. httpdApp ignores SIGTERM, so TASK_KILLING comes at once
	// and TASK_KILLED 4 s later; the task must leave DNS by TASK_KILLED, and
	// it leaves at TASK_KILLING (no longer TASK_RUNNING, as Mesos-DNS).
	var victim, survivor string
	for id := range targetOf {
		if victim == "" {
			victim = id
		} else {
			survivor = id
		}
	}
	w := watchSRVGone(t, r.addr, "_web._tcp.marathon.mesos.", targetOf[victim])
	deleted := time.Now()
	e.mustCall(http.MethodDelete, "/v2/apps/web/tasks/"+victim+"?scale=true", nil)
	var killedAt time.Time
	c.WaitFor(15*time.Second, "TASK_KILLED of "+victim, func() bool {
		var ok bool
		killedAt, ok = eventAt(events(), marathon.EventStatusUpdate, statusOf("/web", victim, "TASK_KILLED"))
		return ok
	})
	c.WaitFor(time.Second, "the killed task to leave the SRV records", func() bool { _, ok := w.gone(); return ok })
	goneAt, _ := w.gone()
	killingAt, sawKilling := eventAt(events(), marathon.EventStatusUpdate, statusOf("/web", victim, "TASK_KILLING"))
	t.Logf("killed task left _web._tcp SRV %v after the DELETE, %v before its TASK_KILLED event, %v after its TASK_KILLING event (seen: %v)",
		goneAt.Sub(deleted).Round(time.Microsecond), killedAt.Sub(goneAt).Round(time.Microsecond), goneAt.Sub(killingAt).Round(time.Microsecond), sawKilling)
	if d := goneAt.Sub(killedAt); d > 100*time.Millisecond {
		t.Errorf("the killed task left the SRV records %v after TASK_KILLED, want within 100 ms", d)
	}
	m, err = conn.ask("_web._tcp.marathon.mesos.", dns.TypeSRV)
	if err != nil {
		t.Fatal(err)
	}
	if after := parseSRV(m); len(after.ports) != 1 || after.ports[targetOf[survivor]] == 0 {
		t.Errorf("after the kill _web._tcp SRV = %v, want only %s", after.ports, targetOf[survivor])
	}

	// A health-checked task serves /index.html for 6 s, then deletes it and
	// keeps running: Marathon marks it unhealthy, and with the default
	// --dns-healthy-only it leaves DNS. maxConsecutiveFailures 0 asks that
	// it is not killed, but the assertion holds if it is replaced.
	checked := httpdApp("/checked", 1, nil)
	checked["cmd"] = "echo ok > index.html; busybox httpd -f -p $PORT0 -h . & sleep 6; rm index.html; wait"
	checked["healthChecks"] = []map[string]any{{"protocol": "MESOS_HTTP", "path": "/index.html", "portIndex": 0,
		"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 0, "delaySeconds": 0}}
	e.mustCall(http.MethodPost, "/v2/apps", checked)
	var cport uint16
	var ctask string
	c.WaitFor(20*time.Second, "/checked to be healthy", func() bool {
		a, ok := e.App("/checked")
		if !ok || a.Counts == nil || a.Counts.Healthy != 1 || len(a.Tasks) != 1 || len(a.Tasks[0].Ports) != 1 {
			return false
		}
		cport, ctask = uint16(a.Tasks[0].Ports[0]), a.Tasks[0].ID
		return true
	})
	var ctarget string
	c.WaitFor(2*time.Second, "_checked._tcp.marathon.mesos SRV to list the healthy task", func() bool {
		m, err := conn.ask("_checked._tcp.marathon.mesos.", dns.TypeSRV)
		if err != nil {
			return false
		}
		for target, port := range parseSRV(m).ports {
			if port == cport {
				ctarget = target
			}
		}
		return ctarget != ""
	})
	w = watchSRVGone(t, r.addr, "_checked._tcp.marathon.mesos.", ctarget)
	c.WaitFor(30*time.Second, "the unhealthy task to leave the SRV records", func() bool { _, ok := w.gone(); return ok })
	goneAt, _ = w.gone()
	unhealthyAt, sawUnhealthy := eventAt(events(), marathon.EventHealthStatusChanged, func(data []byte) bool {
		var ev marathon.HealthStatusChangedEvent
		return json.Unmarshal(data, &ev) == nil && ev.AppID == "/checked" && !ev.Alive
	})
	a, _ := e.App("/checked")
	var stillRunning bool
	for _, task := range a.Tasks {
		if task.ID == ctask && task.State == "TASK_RUNNING" {
			stillRunning = true
		}
	}
	if sawUnhealthy {
		t.Logf("unhealthy task left _checked._tcp SRV %v after Marathon's health_status_changed_event (alive: false); still running: %v",
			goneAt.Sub(unhealthyAt).Round(time.Microsecond), stillRunning)
	} else {
		t.Logf("unhealthy task left _checked._tcp SRV with no health_status_changed_event (alive: false) seen; still running: %v", stillRunning)
	}
	if stillRunning {
		// Still TASK_RUNNING and unhealthy: only the health gate keeps it out.
		if m, err := conn.ask("checked.marathon.mesos.", dns.TypeA); err != nil || len(m.Answer) != 0 {
			t.Errorf("checked.marathon.mesos A = %v %v for an unhealthy task, want no answer", m, err)
		}
	}
}

// BenchmarkDNSPropagation launches one-instance apps, a few at a time, and
// measures from each task's TASK_RUNNING (the status_update_event's arrival
// on Marathon's event stream) to the first A answer for <app>.marathon.mesos
// from routerd's resolver, asked every millisecond from the launch on. It
// reports p50 and p99 in ms (goal: p99 < 100 ms), and the same from two
// other clocks: the TASK_UPDATED (TASK_RUNNING) event's arrival on a
// subscription of masterd's operator API like the resolver's own
// (op-p50-ms, op-p99-ms: the resolver's share), and the TASK_RUNNING
// status's timestamp, set by agentd when it sends the status
// (status-p50-ms, status-p99-ms: agent to name). Latencies from Marathon's
// event can be negative: the resolver follows masterd's operator stream,
// which may deliver the change before Marathon's event stream does.
func BenchmarkDNSPropagation(b *testing.B) {
	c := marathontest.Start(b, marathontest.Options{Isolation: "posix"})
	events := c.Events()
	opRunning := followOperator(b, c)
	r := startDNSRouter(b, c)
	const parallel = 8
	run := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	ids := make([]string, b.N)
	answered := make([]time.Time, b.N)
	b.ResetTimer()
	for start := 0; start < b.N; start += parallel {
		var wg sync.WaitGroup
		for i := start; i < min(start+parallel, b.N); i++ {
			ids[i] = fmt.Sprintf("/prop%s-%d", run, i)
			wg.Go(func() { answered[i] = launchAndResolve(b, c, r.addr, ids[i]) })
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
	b.StopTimer()

	// The TASK_RUNNING times: the event's arrival, and the status's
	// timestamp in /master/state.
	statusAt := map[string]time.Time{} // task name → TASK_RUNNING timestamp
	var st struct {
		Frameworks []struct {
			Tasks []struct {
				Name     string `json:"name"`
				Statuses []struct {
					State     string  `json:"state"`
					Timestamp float64 `json:"timestamp"`
				} `json:"statuses"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	getJSON(b, c.Mesos+"/master/state", &st)
	for _, f := range st.Frameworks {
		for _, t := range f.Tasks {
			for _, s := range t.Statuses {
				if s.State == "TASK_RUNNING" {
					sec, frac := math.Modf(s.Timestamp)
					statusAt[t.Name] = time.Unix(int64(sec), int64(frac*1e9))
					break
				}
			}
		}
	}
	fromEvent := make([]time.Duration, b.N)
	fromOperator := make([]time.Duration, b.N)
	fromStatus := make([]time.Duration, b.N)
	for i, id := range ids {
		var runningAt time.Time
		c.WaitFor(10*time.Second, "the TASK_RUNNING event of "+id, func() bool {
			var ok bool
			runningAt, ok = eventAt(events(), marathon.EventStatusUpdate, statusOf(id, "", "TASK_RUNNING"))
			return ok
		})
		fromEvent[i] = answered[i].Sub(runningAt)
		at, ok := statusAt[marathon.IDHostname(id)]
		if !ok {
			b.Fatalf("no TASK_RUNNING status for %s in /master/state", id)
		}
		fromStatus[i] = answered[i].Sub(at)
		var opAt time.Time
		c.WaitFor(10*time.Second, "the operator API's TASK_RUNNING of "+id, func() bool {
			var ok bool
			opAt, ok = opRunning()[marathon.IDHostname(id)]
			return ok
		})
		fromOperator[i] = answered[i].Sub(opAt)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, l := range []struct {
		name string
		lat  []time.Duration
	}{{"", fromEvent}, {"op-", fromOperator}, {"status-", fromStatus}} {
		slices.Sort(l.lat)
		pct := func(p float64) time.Duration { return l.lat[max(0, int(math.Ceil(p*float64(len(l.lat))))-1)] }
		b.ReportMetric(ms(pct(0.50)), l.name+"p50-ms")
		b.ReportMetric(ms(pct(0.99)), l.name+"p99-ms")
		b.Logf("%d launches, %d at a time, from TASK_RUNNING's %s: min %v p50 %v p90 %v p99 %v max %v",
			len(l.lat), parallel, map[string]string{"": "Marathon event", "op-": "operator API event", "status-": "agent status timestamp"}[l.name],
			l.lat[0], pct(0.50), pct(0.90), pct(0.99), l.lat[len(l.lat)-1])
	}
	b.ReportMetric(0, "ns/op")

	// Delete the apps now: the agent stops their tasks together, faster
	// than the cluster's teardown does one by one.
	for _, id := range ids {
		req, _ := http.NewRequest(http.MethodDelete, c.Marathon+"/v2/apps"+id, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	c.WaitFor(60*time.Second, "the apps' tasks to stop", func() bool {
		var tasks struct{ Tasks []marathon.Task }
		getJSON(b, c.Marathon+"/v2/tasks", &tasks)
		return len(tasks.Tasks) == 0
	})
}

// followOperator subscribes to masterd's operator API, as the resolver
// does, until the benchmark ends; the returned function gives the arrival
// of each task's first TASK_UPDATED to TASK_RUNNING, by task name.
func followOperator(b *testing.B, c *marathontest.Cluster) func() map[string]time.Time {
	req, _ := http.NewRequest(http.MethodPost, c.Mesos+mesos.OperatorAPIPath, strings.NewReader(`{"type":"SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("subscribing to masterd: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("subscribing to masterd: %s", resp.Status)
	}
	var mu sync.Mutex // guards running
	running := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		names := map[string]string{} // task ID → name
		rr := mesos.NewRecordReader(resp.Body)
		for {
			var ev mesos.OperatorEvent
			if err := rr.Read(&ev); err != nil {
				return
			}
			at := time.Now()
			switch {
			case ev.TaskAdded != nil:
				names[ev.TaskAdded.Task.TaskID.Value] = ev.TaskAdded.Task.Name
			case ev.TaskUpdated != nil && ev.TaskUpdated.Status.State == mesos.TaskRunning:
				name := names[ev.TaskUpdated.Status.TaskID.Value]
				mu.Lock()
				if _, ok := running[name]; !ok && name != "" {
					running[name] = at
				}
				mu.Unlock()
			}
		}
	}()
	b.Cleanup(func() { resp.Body.Close(); <-done })
	return func() map[string]time.Time {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(running)
	}
}

// launchAndResolve launches app id and returns when the resolver first
// answered for its name, asked every millisecond from the launch on with a
// pre-packed query, so that asking costs the client little.
func launchAndResolve(b *testing.B, c *marathontest.Cluster, addr, id string) time.Time {
	conn := dialResolver(b, addr)
	q := new(dns.Msg).SetQuestion(marathon.IDHostname(id)+".marathon.mesos.", dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"id": id, "cmd": "exec sleep 3600", "instances": 1,
		"cpus": 0.01, "mem": 8, "portDefinitions": []any{}})
	resp, err := http.Post(c.Marathon+"/v2/apps", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Errorf("POST %s: %v", id, err)
		return time.Time{}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Errorf("POST %s: %s", id, resp.Status)
		return time.Time{}
	}
	buf := make([]byte, 4096)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; <-tick.C {
		conn.c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.c.Write(query); err != nil {
			b.Errorf("asking for %s: %v", id, err)
			return time.Time{}
		}
		for {
			n, err := conn.c.Read(buf)
			if err != nil {
				break // timed out: ask again
			}
			// The same ID (answers to earlier queries count as well), RCODE
			// NOERROR and at least one answer.
			if n >= 12 && buf[0] == query[0] && buf[1] == query[1] && buf[3]&0xF == 0 && buf[6]|buf[7] != 0 {
				return time.Now()
			}
			if n >= 12 && buf[0] == query[0] && buf[1] == query[1] {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Errorf("%s did not resolve within 30 s", id)
			return time.Time{}
		}
	}
}
