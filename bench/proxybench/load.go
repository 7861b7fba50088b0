package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// target is one thing wrk loads: a port, and the processes whose CPU
// counts as the proxy's.
type target struct {
	name string
	port int
	pids []int
}

// loadResult is one wrk run through a target, measured as the anchors'
// cpuper.sh does.
type loadResult struct {
	Target      string
	RPS         float64
	Requests    int64
	P50, P99    time.Duration
	ProxyUS     float64 // the target's CPU µs per request
	BackendUS   float64 // the backend worker's CPU µs per request
	Errors      string  // wrk's socket errors and non-2xx lines, if any
	ProxyTicks  int64
	WrkDuration time.Duration
}

const clkTck = 100 // getconf CLK_TCK on Linux/amd64

// wrkArgs is the anchors' load: one thread, 50 keep-alive connections,
// on core 0.
func wrkArgs(port int, d time.Duration) []string {
	return []string{"-c", "0", "wrk", "-t1", "-c50", fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency",
		fmt.Sprintf("http://127.0.0.1:%d/", port)}
}

// measure runs wrk for d against t and reads t's CPU before and after.
func measure(ctx context.Context, t target, backendPID int, d time.Duration) (loadResult, error) {
	r := loadResult{Target: t.name, WrkDuration: d}
	c0, err := cpuTicks(t.pids...)
	if err != nil {
		return r, err
	}
	b0, err := cpuTicks(backendPID)
	if err != nil {
		return r, err
	}
	out, err := exec.CommandContext(ctx, "taskset", wrkArgs(t.port, d)...).CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("wrk against %s: %w: %s", t.name, err, out)
	}
	c1, err := cpuTicks(t.pids...)
	if err != nil {
		return r, err
	}
	b1, err := cpuTicks(backendPID)
	if err != nil {
		return r, err
	}
	if err := parseWrk(string(out), &r); err != nil {
		return r, fmt.Errorf("wrk against %s: %w:\n%s", t.name, err, out)
	}
	r.ProxyTicks = c1 - c0
	r.ProxyUS = float64(c1-c0) / clkTck * 1e6 / float64(r.Requests)
	r.BackendUS = float64(b1-b0) / clkTck * 1e6 / float64(r.Requests)
	return r, nil
}

var (
	reqsRe   = regexp.MustCompile(`(?m)^\s*(\d+) requests in`)
	rpsRe    = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	p50Re    = regexp.MustCompile(`(?m)^\s+50%\s+(\S+)`)
	p99Re    = regexp.MustCompile(`(?m)^\s+99%\s+(\S+)`)
	errorsRe = regexp.MustCompile(`(?m)^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
)

func parseWrk(out string, r *loadResult) error {
	m := reqsRe.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("no request count")
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	if r.Requests == 0 {
		return fmt.Errorf("no request completed")
	}
	if m = rpsRe.FindStringSubmatch(out); m == nil {
		return fmt.Errorf("no Requests/sec")
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	var err error
	if m = p50Re.FindStringSubmatch(out); m == nil {
		return fmt.Errorf("no 50%% latency")
	}
	if r.P50, err = wrkDuration(m[1]); err != nil {
		return err
	}
	if m = p99Re.FindStringSubmatch(out); m == nil {
		return fmt.Errorf("no 99%% latency")
	}
	if r.P99, err = wrkDuration(m[1]); err != nil {
		return err
	}
	var errs []string
	for _, e := range errorsRe.FindAllStringSubmatch(out, -1) {
		errs = append(errs, strings.TrimSpace(e[1]))
	}
	r.Errors = strings.Join(errs, "; ")
	return nil
}

// wrkDuration parses wrk's "647.00us", "1.23ms", "2.01s", "1.00m".
func wrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing wrk latency %q: %w", s, err)
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("parsing wrk latency %q: unknown unit", s)
}
