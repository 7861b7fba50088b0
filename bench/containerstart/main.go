// Command containerstart compares how fast Corral starts a container with
// how fast Debian's runc does, in the same run, on the same root file system
// (a busybox-static directory) and the same process: `/bin/sh -c 'echo
// ready && exec sleep 3600'` with its stdout on a FIFO, so "running" is the
// moment the benchmark reads the byte the container's process wrote.
//
// It times, for each runtime, -n launches one after another (interleaved
// between runtimes) and a burst of -concurrent launches at once, and prints
// a Markdown table with runc's time divided by Corral's. The runtimes are
// isolation.Runtime.Start in this process ("corral"), agentd's per-task shim
// re-executed from this binary ("shim", the path a real task takes) and
// `runc run -d` ("runc"). It needs root.
//
// With -cpus every container gets the CPU limits of a Corral task with that
// many cpus (cpu shares and a CFS quota). Small values show where each
// runtime applies the quota: Corral sets it once the container's init is
// ready, runc applies it from config.json before its init sets up the
// container, so that work runs under the quota.
//
// Every container, runc's included, gets Docker's default capabilities and
// seccomp profile, as agentd's tasks do; -seccomp=false measures them
// without the filter.
//
//	containerstart -n 50 -concurrent 50
//	containerstart -n 50 -concurrent 50 -cpus 0.01
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"corral/agentd/shim"
	"corral/isolation"
	"corral/logflag"
)

// init serves libcontainer's re-exec: a container's first process is this
// binary run as `containerstart init`, which must set up the container
// before any other Go code runs (runc's init.go does the same).
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		isolation.Init()
	}
	// Keep libcontainer's namespace-joining goroutines off the main thread,
	// which Go would park rather than retire (see isolation.Init): parked in
	// a container's mount namespace, it makes /proc/self/mounts list that
	// namespace's mounts, and the cgroup cleanup finds no cgroups to remove.
	runtime.LockOSThread()
}

// Runtime names, as -runtimes takes them.
const (
	rtCorral = "corral" // isolation.Runtime.Start in this process
	rtShim   = "shim"   // agentd's shim: this binary re-executed as `shim <run dir>`
	rtRunc   = "runc"   // runc run -d
)

// Config is everything the flags set.
type Config struct {
	N          int           // sequential launches per runtime
	Concurrent int           // launches in the concurrent burst per runtime; 0 skips it
	Warmup     int           // untimed launches per runtime before measuring
	Runtimes   []string      // which of corral, shim, runc to measure, in table order
	Runc       string        // runc binary
	Busybox    string        // static busybox copied into the root file system
	Timeout    time.Duration // per launch, from the call until the process runs
	CPUs       float64       // CPU limits of a Corral task with this many cpus (see isolation.CPULimits); 0 = none
	Seccomp    bool          // every container gets Docker's default seccomp profile, as a task does
	Dir        string        // where the temporary work directory goes; "" = os.TempDir()
	ShimBinary string        // run as `<binary> shim <run dir>` by the shim runtime; "" = this binary
}

// DefaultConfig returns the defaults of the flags.
func DefaultConfig() Config {
	return Config{
		N:          50,
		Concurrent: 50,
		Warmup:     3,
		Runtimes:   []string{rtCorral, rtShim, rtRunc},
		Runc:       "runc",
		Busybox:    "/bin/busybox",
		Timeout:    30 * time.Second,
		Seccomp:    true,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("invalid -n %d, must be >= 1", c.N)
	case c.Concurrent < 0:
		return fmt.Errorf("invalid -concurrent %d, must be >= 0", c.Concurrent)
	case c.Warmup < 0:
		return fmt.Errorf("invalid -warmup %d, must be >= 0", c.Warmup)
	case c.Timeout <= 0:
		return fmt.Errorf("invalid -timeout %v, must be > 0", c.Timeout)
	case !(c.CPUs >= 0) || math.IsInf(c.CPUs, 1): // NaN fails >= 0
		return fmt.Errorf("invalid -cpus %v, must be a finite number >= 0", c.CPUs)
	case len(c.Runtimes) == 0:
		return errors.New("invalid -runtimes: none given")
	case c.Busybox == "":
		return errors.New("invalid -busybox: empty path")
	}
	seen := map[string]bool{}
	for _, r := range c.Runtimes {
		switch r {
		case rtCorral, rtShim, rtRunc:
		default:
			return fmt.Errorf("invalid -runtimes entry %q, must be corral, shim or runc", r)
		}
		if seen[r] {
			return fmt.Errorf("invalid -runtimes: %q given twice", r)
		}
		seen[r] = true
	}
	return nil
}

func main() {
	// agentd's shim, re-executed from this binary by the "shim" runtime.
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	cfg := DefaultConfig()
	flag.IntVar(&cfg.N, "n", cfg.N, "sequential launches per runtime")
	flag.IntVar(&cfg.Concurrent, "concurrent", cfg.Concurrent, "launches at once in the burst per runtime (0 skips the burst)")
	flag.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "untimed launches per runtime before measuring")
	runtimes := flag.String("runtimes", strings.Join(cfg.Runtimes, ","), "comma-separated runtimes to measure: corral (isolation.Start in-process), shim (agentd's shim), runc")
	flag.StringVar(&cfg.Runc, "runc", cfg.Runc, "runc binary")
	flag.StringVar(&cfg.Busybox, "busybox", cfg.Busybox, "static busybox binary for the root file system (Debian: busybox-static)")
	flag.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up on a launch whose process is not running after this")
	flag.Float64Var(&cfg.CPUs, "cpus", cfg.CPUs, "limit every container's CPU as a Corral task with this many cpus (shares, CFS quota); 0 = no limit")
	flag.BoolVar(&cfg.Seccomp, "seccomp", cfg.Seccomp, "give every container (runc's too) Docker's default seccomp profile, as agentd does; -seccomp=false for none")
	flag.StringVar(&cfg.Dir, "dir", cfg.Dir, "parent of the temporary work directory (default: $TMPDIR or /tmp)")
	flag.StringVar(&cfg.ShimBinary, "shim-binary", cfg.ShimBinary, "binary the shim runtime runs as `<binary> shim <run dir>`, e.g. agentd (default: this binary)")
	logFlags := logflag.Register(flag.CommandLine, slog.LevelWarn)
	flag.Parse()
	cfg.Runtimes = strings.Split(*runtimes, ",")
	if err := validate(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "containerstart:", err)
		os.Exit(2)
	}
	log := logFlags.Logger(os.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, cfg, log, os.Stdout)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = errors.New("interrupted (everything started was removed)")
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "containerstart:", err)
		os.Exit(1)
	}
}

func validate(cfg Config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: containers need namespaces, cgroups and mounts")
	}
	return cfg.Validate()
}
