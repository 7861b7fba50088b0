package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"corral/isolation"
)

// launcher is one runtime under test.
type launcher interface {
	name() string
	// prepare does, untimed, what the launch command needs on disk (runc's
	// bundle).
	prepare(id string) error
	// launch is the launch command: it starts container id with its stdout
	// on the FIFO at stdout and returns when the runtime is done starting it.
	launch(ctx context.Context, id, stdout string) error
	// remove stops the container and removes its cgroups and state.
	remove(id string) error
	// diagnose says what the runtime and container logged, for a process
	// that never ran.
	diagnose(id string) string
	// cleanup removes every container still there, and the runtime's state.
	cleanup() error
}

// result is what was measured of one runtime.
type result struct {
	name  string
	start []time.Duration // sequential: launch command until the process runs
	stop  []time.Duration // sequential: remove of the running container
	burst []time.Duration // concurrent: from the burst's start until each process runs
	// burstCPU is the machine's busy CPU time from the burst's start until
	// its last process ran (busyCPU).
	burstCPU time.Duration
}

// bench holds what every measurement uses.
type bench struct {
	cfg Config
	w   *workDir
	log *slog.Logger
}

// run measures every runtime of cfg and writes the table to out. Whatever it
// started is removed before it returns, also when ctx is cancelled.
func run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (retErr error) {
	if err := checkBusybox(cfg.Busybox); err != nil {
		return err
	}
	w, err := newWorkDir(cfg.Dir, cfg.Busybox)
	if err != nil {
		return err
	}
	defer func() { retErr = errors.Join(retErr, w.remove()) }()
	if !cgroupExists(corralCgroupParent) {
		// Leave /corral as we found it, unless someone else now uses it.
		defer removeEmptyCgroup(corralCgroupParent)
	}

	var launchers []launcher
	defer func() {
		for i := len(launchers) - 1; i >= 0; i-- {
			if err := launchers[i].cleanup(); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("cleaning up %s: %w", launchers[i].name(), err))
			}
		}
	}()
	runcVersion := ""
	for _, name := range cfg.Runtimes {
		l, err := newLauncher(ctx, name, cfg, w)
		if err != nil {
			return err
		}
		launchers = append(launchers, l)
		if rl, ok := l.(*runcLauncher); ok {
			runcVersion = rl.version + " (" + rl.bin + ")"
		}
	}

	b := &bench{cfg: cfg, w: w, log: log}
	results := make([]*result, len(launchers))
	for j, l := range launchers {
		results[j] = &result{name: l.name()}
	}
	for i := range cfg.Warmup {
		for _, l := range launchers {
			if _, _, err := b.once(ctx, l, b.id(l, "w", i)); err != nil {
				return err
			}
		}
	}
	// Interleaved, each runtime first in turn, so that drift in the
	// machine's load touches all alike.
	for i := range cfg.N {
		for k := range launchers {
			j := (i + k) % len(launchers)
			start, stop, err := b.once(ctx, launchers[j], b.id(launchers[j], "s", i))
			if err != nil {
				return err
			}
			results[j].start = append(results[j].start, start)
			results[j].stop = append(results[j].stop, stop)
		}
		log.Debug("sequential round done", "round", i)
	}
	if cfg.Concurrent > 0 {
		for j, l := range launchers {
			lat, cpu, err := b.burst(ctx, l, cfg.Concurrent)
			if err != nil {
				return err
			}
			results[j].burst, results[j].burstCPU = lat, cpu
			log.Info("burst done", "runtime", l.name(), "wall", percentile(lat, 1))
		}
	}
	return writeReport(out, reportInfo{cfg: cfg, runc: runcVersion, cgroups: cgroupLayout()}, results)
}

// newLauncher makes the launcher of runtime name, keeping its state in w.
func newLauncher(ctx context.Context, name string, cfg Config, w *workDir) (launcher, error) {
	switch name {
	case rtCorral:
		rt, err := isolation.NewRuntime(filepath.Join(w.dir, "corral-state"))
		if err != nil {
			return nil, err
		}
		return newCorralLauncher(rt, w, cfg.CPUs, cfg.Seccomp), nil
	case rtShim:
		root := filepath.Join(w.dir, "shim-state")
		rt, err := isolation.NewRuntime(root)
		if err != nil {
			return nil, err
		}
		l, err := newShimLauncher(rt, root, cfg.ShimBinary, w, cfg.CPUs, cfg.Seccomp)
		if err != nil {
			return nil, err
		}
		return l, nil
	case rtRunc:
		l, err := newRuncLauncher(ctx, cfg.Runc, cfg.CPUs, cfg.Seccomp, w)
		if err != nil {
			return nil, err
		}
		return l, nil
	default:
		return nil, fmt.Errorf("unknown runtime %q", name)
	}
}

// id names a container: unique per benchmark process, runtime, phase
// (w: warm-up, s: sequential, b: burst) and index.
func (b *bench) id(l launcher, phase string, i int) string {
	return fmt.Sprintf("cs%d-%s-%s%d", os.Getpid(), l.name(), phase, i)
}

// once starts one container, times until its process runs, then times its
// removal.
func (b *bench) once(ctx context.Context, l launcher, id string) (start, stop time.Duration, err error) {
	if err := l.prepare(id); err != nil {
		return 0, 0, err
	}
	r, err := b.w.newReadiness(id)
	if err != nil {
		return 0, 0, err
	}
	defer r.close()
	t0 := time.Now()
	if err := l.launch(ctx, id, r.path); err != nil {
		return 0, 0, fmt.Errorf("%s: starting %s: %w", l.name(), id, err)
	}
	if err := r.wait(ctx, b.cfg.Timeout); err != nil {
		if errors.Is(err, errNotReady) {
			err = fmt.Errorf("%w (%s)", err, l.diagnose(id))
		}
		return 0, 0, errors.Join(fmt.Errorf("%s: waiting for %s to run: %w", l.name(), id, err), l.remove(id))
	}
	start = time.Since(t0)
	t1 := time.Now()
	if err := l.remove(id); err != nil {
		return 0, 0, fmt.Errorf("%s: removing %s: %w", l.name(), id, err)
	}
	return start, time.Since(t1), nil
}

// burst starts n containers at once, one goroutine each, and returns for
// each the time from the common start until its process ran (the slowest
// is the wall time of the burst) and the machine's busy CPU time meanwhile.
// It removes them all, untimed, before it returns.
func (b *bench) burst(ctx context.Context, l launcher, n int) (_ []time.Duration, cpu time.Duration, retErr error) {
	ids := make([]string, n)
	rs := make([]*readiness, n)
	launched := make([]bool, n) // written by goroutine i until wg.Wait
	defer func() {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			if launched[i] {
				wg.Go(func() { errs[i] = l.remove(ids[i]) })
			}
		}
		wg.Wait()
		for _, r := range rs {
			if r != nil {
				r.close()
			}
		}
		retErr = errors.Join(retErr, errors.Join(errs...))
	}()
	for i := range n {
		ids[i] = b.id(l, "b", i)
		if err := l.prepare(ids[i]); err != nil {
			return nil, 0, err
		}
		r, err := b.w.newReadiness(ids[i])
		if err != nil {
			return nil, 0, err
		}
		rs[i] = r
	}
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var t0 time.Time // set before gate closes
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-gate
			if err := l.launch(ctx, ids[i], rs[i].path); err != nil {
				errs[i] = fmt.Errorf("%s: starting %s: %w", l.name(), ids[i], err)
				return
			}
			launched[i] = true
			if err := rs[i].wait(ctx, b.cfg.Timeout); err != nil {
				if errors.Is(err, errNotReady) {
					err = fmt.Errorf("%w (%s)", err, l.diagnose(ids[i]))
				}
				errs[i] = fmt.Errorf("%s: waiting for %s to run: %w", l.name(), ids[i], err)
				return
			}
			lat[i] = time.Since(t0)
		})
	}
	cpu0, err := busyCPU()
	if err != nil {
		return nil, 0, err
	}
	t0 = time.Now()
	close(gate)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	cpu1, err := busyCPU()
	if err != nil {
		return nil, 0, err
	}
	return lat, cpu1 - cpu0, nil
}
