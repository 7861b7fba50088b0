package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// perfResult is dnsperf's summary of one run, and the server's CPU time.
type perfResult struct {
	Completed, Lost int
	QPS             float64
	AvgLatency      time.Duration
	MaxLatency      time.Duration
	Rcodes          string
	CPU             time.Duration // the server's user+system time during the run
	CPUPerQuery     float64       // µs
	RunTime         float64       // s
	// ServerCore and ClientCore are how busy the two CPUs were during the
	// run (0 to 1), whoever kept them busy: the machine is shared, and
	// ServerCore minus the server's own share is someone else's load.
	ServerCore, ClientCore float64
}

func (r perfResult) String() string {
	return fmt.Sprintf("%8.0f queries/s  lost %d  avg %v  max %v  (%s)  server CPU %.0f%%, %.2f µs/query; server core busy %.0f%%, client core %.0f%%",
		r.QPS, r.Lost, r.AvgLatency, r.MaxLatency, r.Rcodes, 100*r.CPU.Seconds()/r.RunTime, r.CPUPerQuery, 100*r.ServerCore, 100*r.ClientCore)
}

var (
	reCompleted = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	reLost      = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	reQPS       = regexp.MustCompile(`Queries per second:\s+([\d.]+)`)
	reLatency   = regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+) \(min [\d.]+, max ([\d.]+)\)`)
	reRcodes    = regexp.MustCompile(`Response codes:\s+(.*)`)
	reRunTime   = regexp.MustCompile(`Run time \(s\):\s+([\d.]+)`)
)

// dnsperf runs the anchors' dnsperf line against s on the client CPU;
// cpuTime reads the server's CPU time so far.
func dnsperf(ctx context.Context, cfg config, name string, port int, cpuTime func() (time.Duration, error), queries string) (perfResult, error) {
	before, err := cpuTime()
	if err != nil {
		return perfResult{}, err
	}
	coresBefore, err := coreTimes()
	if err != nil {
		return perfResult{}, err
	}
	out, err := exec.CommandContext(ctx, "taskset", "-c", cfg.ClientCPU, "dnsperf", "-s", "127.0.0.1", "-p", strconv.Itoa(port),
		"-d", queries, "-l", strconv.Itoa(int(cfg.Duration.Seconds())), "-c", strconv.Itoa(cfg.Clients)).CombinedOutput()
	if err != nil {
		return perfResult{}, fmt.Errorf("dnsperf against %s: %w: %s", name, err, out)
	}
	after, err := cpuTime()
	if err != nil {
		return perfResult{}, err
	}
	coresAfter, err := coreTimes()
	if err != nil {
		return perfResult{}, err
	}
	text := string(out)
	var r perfResult
	m := func(re *regexp.Regexp) []string {
		if sm := re.FindStringSubmatch(text); sm != nil {
			return sm
		}
		err = fmt.Errorf("dnsperf against %s: no %q in its output:\n%s", name, re, text)
		return make([]string, 3)
	}
	r.Completed, _ = strconv.Atoi(m(reCompleted)[1])
	r.Lost, _ = strconv.Atoi(m(reLost)[1])
	r.QPS, _ = strconv.ParseFloat(m(reQPS)[1], 64)
	lat := m(reLatency)
	avg, _ := strconv.ParseFloat(lat[1], 64)
	maxLat, _ := strconv.ParseFloat(lat[2], 64)
	r.AvgLatency = time.Duration(avg * 1e9).Round(time.Microsecond)
	r.MaxLatency = time.Duration(maxLat * 1e9).Round(time.Microsecond)
	r.Rcodes = strings.TrimSpace(m(reRcodes)[1])
	r.RunTime, _ = strconv.ParseFloat(m(reRunTime)[1], 64)
	if err != nil {
		return r, err
	}
	r.CPU = after - before
	r.ServerCore = busy(coresBefore, coresAfter, "cpu"+cfg.ServerCPU)
	r.ClientCore = busy(coresBefore, coresAfter, "cpu"+cfg.ClientCPU)
	if r.Completed > 0 {
		r.CPUPerQuery = float64(r.CPU.Microseconds()) / float64(r.Completed)
	}
	return r, nil
}

// compare asks both servers every query of the file and reports how many
// got the same data: the same A addresses; SRV records with the same ports,
// each target with an address in the additional section. The SRV targets
// differ by design (Knot's zone names appN.marathon.mesos., the resolver
// the task's canonical name, as Mesos-DNS). It also returns the sizes of a
// reply of each type from each server.
func compare(queries, knot, router string) (string, []string, error) {
	f, err := os.Open(queries)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	c := &dns.Client{Timeout: time.Second}
	var total, same int
	var diffs []string
	sizes := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, typ, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		qtype := dns.StringToType[typ]
		total++
		var got [2]string
		for i, addr := range []string{knot, router} {
			m, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), addr)
			if err != nil {
				return "", nil, fmt.Errorf("asking %s for %s %s: %w", addr, name, typ, err)
			}
			got[i] = answerData(m)
			if _, ok := sizes[typ+fmt.Sprint(i)]; !ok {
				b, _ := m.Pack()
				sizes[typ+fmt.Sprint(i)] = fmt.Sprintf("  %s %s from %s: %d bytes, %d answer, %d additional: %s",
					name, typ, []string{"knot", "routerd"}[i], len(b), len(m.Answer), len(m.Extra), strings.Join(strings.Fields(fmt.Sprint(m.Answer)), " "))
			}
		}
		if got[0] == got[1] && got[0] != "" {
			same++
		} else if len(diffs) < 5 {
			diffs = append(diffs, fmt.Sprintf("%s %s: knot %q, routerd %q", name, typ, got[0], got[1]))
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, err
	}
	if same != total {
		return "", nil, fmt.Errorf("the servers disagree on %d of %d queries, e.g. %s", total-same, total, strings.Join(diffs, "; "))
	}
	keys := make([]string, 0, len(sizes))
	for k := range sizes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, sizes[k])
	}
	return fmt.Sprintf("%d of %d queries get the same data from both servers", same, total), out, nil
}

// answerData is what a client uses from an answer: addresses, or ports
// with the address of each target from the additional section.
func answerData(m *dns.Msg) string {
	if m.Rcode != dns.RcodeSuccess {
		return ""
	}
	extra := map[string][]string{}
	for _, rr := range m.Extra {
		if a, ok := rr.(*dns.A); ok {
			extra[a.Hdr.Name] = append(extra[a.Hdr.Name], a.A.String())
		}
	}
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, "A "+rr.A.String())
		case *dns.SRV:
			out = append(out, fmt.Sprintf("SRV %d %d target-has-A:%v", rr.Priority, rr.Port, len(extra[rr.Target]) > 0))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// coreTimes reads each CPU's busy and total time from /proc/stat, in ticks.
func coreTimes() (map[string][2]int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	out := map[string][2]int64{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var total, idle int64
		for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
			if i == 3 || i == 4 {
				idle += n
			}
		}
		out[f[0]] = [2]int64{total - idle, total}
	}
	return out, nil
}

// busy is the share of cpu's time spent busy between two readings.
func busy(before, after map[string][2]int64, cpu string) float64 {
	b, a := before[cpu], after[cpu]
	if a[1] == b[1] {
		return 0
	}
	return float64(a[0]-b[0]) / float64(a[1]-b[1])
}

// syscallsPerQuery counts the server's system calls (perf trace -s, all
// its threads) during a short dnsperf run and divides by the queries
// answered. Tracing slows the server: the counts matter, not the rate.
func syscallsPerQuery(ctx context.Context, cfg config, name string, pid, port int, queries, outFile string) (string, error) {
	tr := exec.CommandContext(ctx, "perf", "trace", "-s", "-p", strconv.Itoa(pid), "-o", outFile)
	if err := tr.Start(); err != nil {
		return "", fmt.Errorf("perf trace: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // attached
	short := cfg
	short.Duration = 2 * time.Second
	r, err := dnsperf(ctx, short, name, port, func() (time.Duration, error) { return 0, nil }, queries)
	tr.Process.Signal(os.Interrupt)
	if werr := tr.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("perf trace: %w", werr)
	}
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		return "", err
	}
	calls := map[string]int{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if n, err := strconv.Atoi(f[1]); err == nil && f[0] != "syscall" {
			calls[f[0]] += n
		}
	}
	names := make([]string, 0, len(calls))
	for n := range calls {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return calls[b] - calls[a] })
	var parts []string
	total := 0
	for _, n := range names {
		total += calls[n]
		if per := float64(calls[n]) / float64(r.Completed); per >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.2f", n, per))
		}
	}
	return fmt.Sprintf("%.2f system calls per query (%s), %d queries traced", float64(total)/float64(r.Completed), strings.Join(parts, ", "), r.Completed), nil
}
