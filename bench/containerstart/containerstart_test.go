package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"corral/agentd/shim"
	"corral/tstest"
)

// TestMain lets the test binary serve as agentd's shim, as main does, so
// that the shim runtime runs in tests; package init already serves
// libcontainer's `init`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"corral only", func(c *Config) { c.Runtimes = []string{rtCorral} }, ""},
		{"no launches", func(c *Config) { c.N = 0 }, "invalid -n 0"},
		{"negative burst", func(c *Config) { c.Concurrent = -1 }, "invalid -concurrent -1"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "invalid -timeout 0s"},
		{"unknown runtime", func(c *Config) { c.Runtimes = []string{"crun"} }, `invalid -runtimes entry "crun"`},
		{"runtime twice", func(c *Config) { c.Runtimes = []string{rtRunc, rtRunc} }, "given twice"},
		{"small cpus", func(c *Config) { c.CPUs = 0.01 }, ""},
		{"negative cpus", func(c *Config) { c.CPUs = -0.5 }, "invalid -cpus -0.5, must be a finite number >= 0"},
		{"NaN cpus", func(c *Config) { c.CPUs = math.NaN() }, "invalid -cpus NaN"},
		{"infinite cpus", func(c *Config) { c.CPUs = math.Inf(1) }, "invalid -cpus +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
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

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.9, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), 0.9, 9 * time.Millisecond},
		{ms(5, 1, 9), 1, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.q); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.ds, tt.q, got, tt.want)
		}
	}
}

// containerTestConfig returns the default configuration, or skips the test
// where containers cannot run.
func containerTestConfig(t *testing.T) Config {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, cgroups and mounts")
	}
	cfg := DefaultConfig()
	if err := checkBusybox(cfg.Busybox); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	return cfg
}

// TestBenchSmoke runs the Corral side for a few launches, sequential and
// concurrent, and checks that nothing is left behind.
func TestBenchSmoke(t *testing.T) {
	cfg := containerTestConfig(t)
	cfg.N, cfg.Concurrent, cfg.Warmup = 3, 3, 0
	cfg.Runtimes = []string{rtCorral}
	cfg.Timeout = 10 * time.Second
	cfg.Dir = t.TempDir()
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), cfg, log, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"| start → running, p50 | ", "| 3 at once: all running (wall) | ", "| 3 at once: machine's busy CPU until all ran | "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if left, _ := os.ReadDir(cfg.Dir); len(left) > 0 {
		t.Errorf("work directory left behind in %s: %v", cfg.Dir, left)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("cs%d-", os.Getpid())
	for _, m := range mounts {
		if left, _ := filepath.Glob(filepath.Join(m, corralCgroupParent, prefix+"*")); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
}

// cpuString formats CPU limits for comparison; nil is "none".
func cpuString(c *specs.LinuxCPU) string {
	if c == nil {
		return "none"
	}
	var shares, period uint64
	var quota int64
	if c.Shares != nil {
		shares = *c.Shares
	}
	if c.Quota != nil {
		quota = *c.Quota
	}
	if c.Period != nil {
		period = *c.Period
	}
	return fmt.Sprintf("shares %d, quota %d, period %d", shares, quota, period)
}

// TestRuncBundleCPU checks the config.json that `runc run` is given: the
// CPU limits of -cpus, none without it.
func TestRuncBundleCPU(t *testing.T) {
	bin, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("needs runc (Debian: apt-get install runc)")
	}
	tests := []struct {
		cpus float64
		want string
	}{
		{0, "none"},
		{0.01, "shares 10, quota 1000, period 100000"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cpus), func(t *testing.T) {
			dir := t.TempDir()
			w := &workDir{dir: dir, rootfs: filepath.Join(dir, "rootfs")}
			l, err := newRuncLauncher(context.Background(), bin, tt.cpus, true, w)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.prepare("c1"); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(l.bundle("c1"), "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var s specs.Spec
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("decoding config.json: %v", err)
			}
			var cpu *specs.LinuxCPU
			if s.Linux != nil && s.Linux.Resources != nil {
				cpu = s.Linux.Resources.CPU
			}
			if got := cpuString(cpu); got != tt.want {
				t.Errorf("config.json linux.resources.cpu = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestReportCPUs(t *testing.T) {
	tests := []struct {
		cpus float64
		want []string
	}{
		{0, []string{"same run\n", " No CPU limit. "}},
		{0.01, []string{"same run, cpus 0.01\n", " CPU limited as a Corral task with cpus 0.01: cpu.shares 10, CFS quota 1000 µs per 100000 µs period. "}},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.CPUs = tt.cpus
		var out strings.Builder
		results := []*result{{name: rtCorral, start: []time.Duration{time.Millisecond}}}
		if err := writeReport(&out, reportInfo{cfg: cfg, cgroups: "v2"}, results); err != nil {
			t.Fatal(err)
		}
		for _, want := range tt.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("report with -cpus %v lacks %q:\n%s", tt.cpus, want, out.String())
			}
		}
	}
}

// TestContainerCPULimits starts a container with -cpus 0.01 in each runtime
// and checks, while its process runs, that its cgroup has the limits of a
// Corral task with cpus 0.01.
func TestContainerCPULimits(t *testing.T) {
	cfg := containerTestConfig(t)
	cfg.CPUs = 0.01
	if !cgroupExists(corralCgroupParent) {
		t.Cleanup(func() { removeEmptyCgroup(corralCgroupParent) })
	}
	for _, name := range cfg.Runtimes {
		t.Run(name, func(t *testing.T) {
			parent := corralCgroupParent
			if name == rtRunc {
				if _, err := exec.LookPath(cfg.Runc); err != nil {
					t.Skip("needs runc (Debian: apt-get install runc)")
				}
				parent = runcCgroupParent
			}
			w, err := newWorkDir(t.TempDir(), cfg.Busybox)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			l, err := newLauncher(ctx, name, cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := l.cleanup(); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
			id := fmt.Sprintf("cs%d-%s-cpus", os.Getpid(), name)
			if err := l.prepare(id); err != nil {
				t.Fatal(err)
			}
			r, err := w.newReadiness(id)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			if err := l.launch(ctx, id, r.path); err != nil {
				t.Fatalf("starting %s: %v", id, err)
			}
			if err := r.wait(ctx, cfg.Timeout); err != nil {
				t.Fatalf("waiting for %s to run: %v (%s)", id, err, l.diagnose(id))
			}
			// Corral sets the quota once the command has been executed
			// (isolation.Start), so the command may print before it is
			// in place: it must follow within the start's bound.
			want := cgroupCPU{shares: "10", quota: "1000", period: "100000"}
			var got cgroupCPU
			tstest.WaitFor(t, 5*time.Second, fmt.Sprintf("CPU limits %+v in the cgroup of %s", want, id), func() bool {
				if got, err = readCgroupCPU(parent + "/" + id); err != nil {
					t.Fatal(err)
				}
				if got.shares == "" { // cgroup v2: cpu.weight, not shares
					want.shares = ""
				}
				return got == want
			})
			if err := l.remove(id); err != nil {
				t.Errorf("removing %s: %v", id, err)
			}
		})
	}
}

// cgroupCPU is what a cgroup's cpu controller files say.
type cgroupCPU struct {
	shares string // cpu.shares; "" on cgroup v2
	quota  string // cpu.cfs_quota_us, or cpu.max's first field on v2
	period string // cpu.cfs_period_us, or cpu.max's second field on v2
}

// readCgroupCPU reads the CPU limits of cgroup /name from the v1 cpu
// controller or, on a v2 host, from cpu.max.
func readCgroupCPU(name string) (cgroupCPU, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return cgroupCPU{}, err
	}
	read := func(dir, file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		return strings.TrimSpace(string(b)), err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		quota, err := read(dir, "cpu.cfs_quota_us")
		if err != nil {
			continue
		}
		var c cgroupCPU
		c.quota = quota
		if c.shares, err = read(dir, "cpu.shares"); err != nil {
			return cgroupCPU{}, err
		}
		if c.period, err = read(dir, "cpu.cfs_period_us"); err != nil {
			return cgroupCPU{}, err
		}
		return c, nil
	}
	for _, m := range mounts {
		cpuMax, err := read(filepath.Join(m, name), "cpu.max")
		if err != nil {
			continue
		}
		quota, period, _ := strings.Cut(cpuMax, " ")
		return cgroupCPU{quota: quota, period: period}, nil
	}
	return cgroupCPU{}, fmt.Errorf("no cpu controller files for cgroup /%s", name)
}
