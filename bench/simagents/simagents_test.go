package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Masterd = "bin/masterd"
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults with -masterd", func(*Config) {}, ""},
		{"running master", func(c *Config) { c.Masterd, c.Master = "", "127.0.0.1:5050" }, ""},
		{"neither", func(c *Config) { c.Masterd = "" }, "exactly one of -masterd"},
		{"both", func(c *Config) { c.Master = "127.0.0.1:5050" }, "exactly one of -masterd"},
		{"bad master", func(c *Config) { c.Masterd, c.Master = "", "127.0.0.1" }, `invalid -master "127.0.0.1"`},
		{"no agents", func(c *Config) { c.Agents = 0 }, "invalid -agents 0"},
		{"no parallelism", func(c *Config) { c.Parallel = 0 }, "invalid -parallel 0"},
		{"negative hold", func(c *Config) { c.Hold = -time.Second }, "invalid -hold -1s"},
		{"ping with running master", func(c *Config) { c.Masterd, c.Master, c.Ping = "", "127.0.0.1:5050", time.Second }, "needs -masterd"},
		{"no samples", func(c *Config) { c.StateSamples = 0 }, "invalid -state-samples 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tmasterd\nVmPeak:\t 2000000 kB\nVmHWM:\t  526000 kB\nVmRSS:\t  513024 kB\nThreads:\t12\n"
	got, err := parseProcStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	want := procMem{RSS: 513024 << 10, HWM: 526000 << 10}
	if got != want {
		t.Errorf("parseProcStatus() = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\nVmHWM:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\n"} {
		if _, err := parseProcStatus(bad); err == nil {
			t.Errorf("parseProcStatus(%q) = nil error, want one", bad)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name holds a space and a parenthesis.
	stat := "4242 (my (d) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	got, err := parseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseProcStat(%q) = %v, want %v", stat, got, want)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Error("parseProcStat of a short line = nil error, want one")
	}
}

func TestSummarizeLog(t *testing.T) {
	log := `time=x level=WARN msg="agent unreachable" agent=a
time=x level=WARN msg="agent unreachable" agent=b
time=x level=ERROR msg=boom

panic: oops
`
	want := `2× WARN "agent unreachable"; 1× ERROR boom; 1× unstructured line`
	if got := summarizeLog(strings.NewReader(log)); got != want {
		t.Errorf("summarizeLog() = %q, want %q", got, want)
	}
	if got := summarizeLog(strings.NewReader("")); got != "empty" {
		t.Errorf("summarizeLog(empty) = %q, want %q", got, "empty")
	}
}

func TestStateViewCheck(t *testing.T) {
	v := stateView{Slaves: []stateAgent{{"a", true}, {"b", false}}}
	got := v.check([]string{"a", "b", "c", ""})
	want := agentCheck{active: 1, inactive: 1, missing: 1, unregistered: 1}
	if got != want {
		t.Errorf("check() = %+v, want %+v", got, want)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99, pmax := percentiles(ds)
	if p50 != 51*time.Millisecond || p99 != 99*time.Millisecond || pmax != 100*time.Millisecond {
		t.Errorf("percentiles(1..100ms) = %v, %v, %v, want 51ms, 99ms, 100ms", p50, p99, pmax)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentiles sorted its input in place")
	}
}

// TestRun builds masterd, runs a small fleet against it through the whole
// harness, and checks that the subprocess and its work dir are gone after.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts masterd")
	}
	bin := filepath.Join(t.TempDir(), "masterd")
	build := exec.Command("go", "build", "-o", bin, "corral/masterd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building masterd: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the harness makes masterd's work dir

	cfg := DefaultConfig()
	cfg.Masterd, cfg.Agents, cfg.Parallel, cfg.Hold, cfg.Ping = bin, 50, 10, 3*time.Second, time.Second
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out); err != nil {
		t.Fatalf("run() = %v; output:\n%s", err, out.String())
	}
	for _, want := range []string{"| registered | 50 of 50 |", "| result | PASS |", "50 active, 0 inactive, 0 missing"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("run left %d entries in TMPDIR, first %q", len(left), left[0].Name())
	}
}

func TestErrorKinds(t *testing.T) {
	var st transportStats
	for range 3 {
		st.failed("call: 400 Bad Request")
	}
	st.failed("SUBSCRIBE: EOF")
	for i := range maxErrKinds + 5 {
		st.failed(fmt.Sprintf("call: kind %02d", i))
	}
	// 20 kinds are kept; the last 7 of the numbered ones become "other".
	want := "7× other; 3× call: 400 Bad Request"
	if got := st.errorKinds(2); got != want {
		t.Errorf("errorKinds(2) = %q, want %q", got, want)
	}
}

// TestCompareAuth runs a small fleet against a masterd without and one
// with an agent secret and checks both pass and the comparison is printed.
func TestCompareAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts masterd")
	}
	bin := filepath.Join(t.TempDir(), "masterd")
	if out, err := exec.Command("go", "build", "-o", bin, "corral/masterd").CombinedOutput(); err != nil {
		t.Fatalf("building masterd: %v\n%s", err, out)
	}
	cfg := DefaultConfig()
	cfg.Masterd, cfg.Agents, cfg.Parallel, cfg.Hold, cfg.Ping = bin, 20, 10, time.Second, 500*time.Millisecond
	cfg.CompareAuth, cfg.AuthRounds = true, 1
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := compareAuth(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out); err != nil {
		t.Fatalf("compareAuth() = %v; output:\n%s", err, out.String())
	}
	for _, want := range []string{"with --agent-secret-file\n", "the cost of agent authentication, 20 agents", "| registration rate |", "| heartbeat latency p50 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "| result | PASS |"); n != 2 {
		t.Errorf("%d passing runs, want 2:\n%s", n, out.String())
	}
	if n := strings.Count(out.String(), "| registered | 20 of 20 |"); n != 2 {
		t.Errorf("%d runs registered every agent, want 2", n)
	}
}
