package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"corral/isolation"
)

// titles are the table's column headings per runtime.
var titles = map[string]string{
	rtCorral: "Corral `isolation.Start`",
	rtShim:   "Corral via agentd's shim",
	rtRunc:   "`runc run -d`",
}

// ratioTitles name the Corral runtimes in the ratio columns' headings.
var ratioTitles = map[string]string{
	rtCorral: "`isolation.Start`",
	rtShim:   "shim",
}

// reportInfo is what the table's preamble says about the run.
type reportInfo struct {
	cfg     Config
	runc    string // runc's version and path, "" when not measured
	cgroups string
}

// writeReport prints the results as a Markdown table: a column per
// runtime, then runc's time divided by each Corral runtime's.
func writeReport(w io.Writer, info reportInfo, results []*result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Container start: Corral vs runc, same run")
	if info.cfg.CPUs > 0 {
		fmt.Fprintf(&b, ", cpus %g", info.cfg.CPUs)
	}
	b.WriteString("\n\n")
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Fprintf(&b, "Kernel %s, cgroups %s, %d CPUs.", unix.ByteSliceToString(uts.Release[:]), info.cgroups, runtime.NumCPU())
	if info.runc != "" {
		fmt.Fprintf(&b, " %s.", info.runc)
	}
	fmt.Fprintf(&b, " Root: a directory with busybox-static (from %s); process `%s`, stdout on a FIFO: running = its first byte read.", info.cfg.Busybox, strings.Join(quoteArgs(workload), " "))
	b.WriteString(" " + cpuNote(info.cfg.CPUs))
	if info.cfg.ShimBinary != "" {
		fmt.Fprintf(&b, " Shim (and container init) binary: %s.", info.cfg.ShimBinary)
	}
	if info.cfg.Seccomp {
		b.WriteString(" Seccomp: Docker's default profile in every runtime; " + filterLoader(info.cfg.ShimBinary) + ".")
	} else {
		b.WriteString(" No seccomp filter.")
	}
	fmt.Fprintf(&b, " %d sequential launches per runtime, interleaved, after %d untimed; then %d at once.\n\n", info.cfg.N, info.cfg.Warmup, info.cfg.Concurrent)

	var runc *result
	var corrals []*result
	for _, r := range results {
		if r.name == rtRunc {
			runc = r
		} else {
			corrals = append(corrals, r)
		}
	}
	b.WriteString("| |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", titles[r.name])
	}
	if runc != nil {
		for _, r := range corrals {
			fmt.Fprintf(&b, " runc ÷ %s |", ratioTitles[r.name])
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(results)))
	if runc != nil {
		b.WriteString(strings.Repeat("---|", len(corrals)))
	}
	b.WriteString("\n")

	row := func(label string, pick func(*result) (time.Duration, bool)) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, r := range results {
			d, ok := pick(r)
			fmt.Fprintf(&b, " %s |", cell(d, ok))
		}
		if runc != nil {
			rd, rok := pick(runc)
			for _, r := range corrals {
				d, ok := pick(r)
				if !rok || !ok || d <= 0 {
					b.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&b, " %.2f× |", float64(rd)/float64(d))
			}
		}
		b.WriteString("\n")
	}
	quantile := func(ds func(*result) []time.Duration, q float64) func(*result) (time.Duration, bool) {
		return func(r *result) (time.Duration, bool) {
			s := ds(r)
			return percentile(s, q), len(s) > 0
		}
	}
	start := func(r *result) []time.Duration { return r.start }
	stop := func(r *result) []time.Duration { return r.stop }
	burst := func(r *result) []time.Duration { return r.burst }
	row("start → running, p50", quantile(start, 0.50))
	row("start → running, p90", quantile(start, 0.90))
	row("start → running, max", quantile(start, 1))
	row("stop and remove (not in start), p50", quantile(stop, 0.50))
	if info.cfg.Concurrent > 0 {
		row(fmt.Sprintf("%d at once: all running (wall)", info.cfg.Concurrent), quantile(burst, 1))
		row(fmt.Sprintf("%d at once: half running", info.cfg.Concurrent), quantile(burst, 0.50))
		row(fmt.Sprintf("%d at once: machine's busy CPU until all ran", info.cfg.Concurrent), func(r *result) (time.Duration, bool) {
			return r.burstCPU, len(r.burst) > 0
		})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cpuNote says what CPU limits the containers had.
func cpuNote(cpus float64) string {
	cpu := isolation.CPULimits(cpus)
	if cpu == nil {
		return "No CPU limit."
	}
	return fmt.Sprintf("CPU limited as a Corral task with cpus %g: cpu.shares %d, CFS quota %d µs per %d µs period.",
		cpus, *cpu.Shares, *cpu.Quota, *cpu.Period)
}

// percentile returns the nearest-rank q-quantile of ds (0 if empty); q = 1
// is the maximum.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// cell formats a duration in milliseconds, to 0.1 ms below 100 ms.
func cell(d time.Duration, ok bool) string {
	if !ok {
		return "–"
	}
	ms := float64(d) / float64(time.Millisecond)
	if ms < 100 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// quoteArgs quotes the arguments that need it, shell style.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " &'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// cgroupLayout names the host's cgroup layout as isolation does: v2,
// hybrid (v1 controllers plus /sys/fs/cgroup/unified) or v1.
func cgroupLayout() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "hybrid (v1 controllers + /sys/fs/cgroup/unified)"
	}
	return "v1"
}

// filterLoader says how the shim's containers get their seccomp filter:
// from corral-exec when it lies next to the shim's binary (the in-process
// runtime looks next to this binary), else compiled by each init.
func filterLoader(shimBinary string) string {
	if shimBinary == "" {
		shimBinary, _ = os.Executable()
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(shimBinary), isolation.ExecHelperName)); err == nil {
		return "the shim's containers load it compiled once, through " + isolation.ExecHelperName
	}
	return "each container's init compiles it (no " + isolation.ExecHelperName + " beside the shim)"
}
