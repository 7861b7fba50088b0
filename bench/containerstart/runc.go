package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"

	"corral/isolation"
)

// runcCgroupParent is the cgroup runc's containers live under: the bundles
// set cgroupsPath /corral-bench/<id>.
const runcCgroupParent = "corral-bench"

// runcLauncher starts containers with `runc run -d` from one OCI bundle per
// container, all sharing the work directory's root file system.
type runcLauncher struct {
	bin     string
	version string     // first line of `runc --version`
	state   string     // runc --root
	base    specs.Spec // `runc spec`, adjusted to match Corral's container
	w       *workDir

	mu       sync.Mutex // guards launched
	launched map[string]bool
}

// newRuncLauncher checks the runc binary and builds the bundle template
// from `runc spec --rootless=false`, adjusted so the container is the one
// isolation builds for corralSpec with cpus and seccomp (see matchCorral).
func newRuncLauncher(ctx context.Context, bin string, cpus float64, seccomp bool, w *workDir) (*runcLauncher, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("finding -runc %q: %w (Debian: apt-get install runc)", bin, err)
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", path, err)
	}
	version, _, _ := strings.Cut(string(out), "\n")
	tmpl := filepath.Join(w.dir, "runc-spec")
	if err := os.Mkdir(tmpl, 0o755); err != nil {
		return nil, fmt.Errorf("creating the bundle template directory: %w", err)
	}
	if out, err := exec.CommandContext(ctx, path, "spec", "--rootless=false", "--bundle", tmpl).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("running %s spec: %w: %s", path, err, out)
	}
	b, err := os.ReadFile(filepath.Join(tmpl, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading runc's default spec: %w", err)
	}
	var base specs.Spec
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, fmt.Errorf("decoding runc's default spec: %w", err)
	}
	if err := matchCorral(&base, w.rootfs, cpus, seccomp); err != nil {
		return nil, err
	}
	l := &runcLauncher{
		bin: path, version: strings.TrimSpace(version), state: filepath.Join(w.dir, "runc-state"),
		base: base, w: w, launched: map[string]bool{},
	}
	return l, nil
}

// matchCorral makes runc's default spec describe the container isolation
// builds from the same runc default (specconv.Example) for corralSpec:
// the root file system read-write, no terminal, no rlimits, the host's
// hostname and network, the host's resolver files bound read-only, the same
// command and PATH, the same CPU limits, Docker's capabilities and, with
// seccomp, its seccomp profile. runc applies the CPU limits from the start,
// while its init sets the container up; isolation only once its init is
// ready.
func matchCorral(s *specs.Spec, rootfs string, cpus float64, seccomp bool) error {
	if s.Process == nil || s.Root == nil || s.Linux == nil {
		return errors.New("runc's default spec lacks process, root or linux")
	}
	s.Root = &specs.Root{Path: rootfs, Readonly: false}
	s.Hostname = ""
	s.Process.Terminal = false
	s.Process.Args = workload
	s.Process.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	s.Process.Cwd = "/"
	s.Process.Rlimits = nil
	caps := isolation.DefaultCapabilities
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Linux.Seccomp = nil
	if seccomp {
		s.Linux.Seccomp = isolation.DefaultSeccomp(caps)
	}
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.NetworkNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
	if cpu := isolation.CPULimits(cpus); cpu != nil {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.CPU = cpu
	}
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if _, err := os.Stat(f); err == nil {
			s.Mounts = append(s.Mounts, specs.Mount{
				Destination: f, Type: "bind", Source: f, Options: []string{"rbind", "ro", "rro"},
			})
		}
	}
	return nil
}

func (l *runcLauncher) name() string { return rtRunc }

func (l *runcLauncher) bundle(id string) string { return filepath.Join(l.w.dir, "bundle", id) }

// prepare writes the container's bundle: config.json with its own cgroup.
func (l *runcLauncher) prepare(id string) error {
	s := l.base
	linux := *s.Linux
	linux.CgroupsPath = "/" + runcCgroupParent + "/" + id
	s.Linux = &linux
	b, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding the bundle of %s: %w", id, err)
	}
	if err := os.MkdirAll(l.bundle(id), 0o755); err != nil {
		return fmt.Errorf("creating the bundle of %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(l.bundle(id), "config.json"), b, 0o644); err != nil {
		return fmt.Errorf("writing the bundle of %s: %w", id, err)
	}
	return nil
}

// launch runs `runc run -d`, whose stdio the container's process inherits.
func (l *runcLauncher) launch(_ context.Context, id, stdout string) error {
	fifo, err := os.OpenFile(stdout, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening the readiness FIFO of %s: %w", id, err)
	}
	defer fifo.Close()
	// A file, not a pipe: the detached container keeps runc's stderr, and
	// exec would wait for a pipe's writers to go away.
	logf, err := os.OpenFile(l.w.log(id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the log of %s: %w", id, err)
	}
	defer logf.Close()
	l.mu.Lock()
	l.launched[id] = true
	l.mu.Unlock()
	// Not killed with ctx: an interrupted `runc run` would leave a container
	// half made; it takes milliseconds, and cleanup deletes what it made.
	cmd := exec.Command(l.bin, "--root", l.state, "run", "-d", "--bundle", l.bundle(id), id)
	cmd.Stdout, cmd.Stderr = fifo, logf
	// Out of the terminal's process group, so a Ctrl-C reaches only the
	// benchmark, which then cleans up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("runc run %s: %w: %s", id, err, l.w.tail(id))
	}
	return nil
}

func (l *runcLauncher) diagnose(id string) string {
	return "runc and container stderr: " + l.w.tail(id)
}

// remove is `runc delete -f`: SIGKILL, wait, remove cgroups and state.
func (l *runcLauncher) remove(id string) error {
	cmd := exec.Command(l.bin, "--root", l.state, "delete", "-f", id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("runc delete -f %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	l.mu.Lock()
	delete(l.launched, id)
	l.mu.Unlock()
	return nil
}

// cleanup deletes every container runc may have made, then the state root
// and the cgroup parent.
func (l *runcLauncher) cleanup() error {
	l.mu.Lock()
	ids := make([]string, 0, len(l.launched))
	for id := range l.launched {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := l.remove(id); err != nil && l.exists(id) {
			errs = append(errs, err)
		}
	}
	// Kill what a failed or interrupted `runc run` left in its cgroup.
	errs = append(errs, removeCgroupTree(runcCgroupParent))
	if err := os.RemoveAll(l.state); err != nil {
		errs = append(errs, fmt.Errorf("removing runc's state: %w", err))
	}
	return errors.Join(errs...)
}

// exists reports whether runc still has state for id; a launch that failed
// early leaves none, and deleting it is then not an error.
func (l *runcLauncher) exists(id string) bool {
	_, err := os.Stat(filepath.Join(l.state, id))
	return err == nil
}
