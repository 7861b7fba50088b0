package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// workload is what every container runs: it says it is running on stdout,
// then stays running until it is killed, as a service would.
var workload = []string{"/bin/sh", "-c", "echo ready && exec sleep 3600"}

// readyWord is what the workload writes once it runs.
const readyWord = "ready"

// workDir is the benchmark's temporary directory: the shared root file
// system, the runtimes' state, bundles, FIFOs and logs. Everything the
// benchmark creates on disk is under it.
type workDir struct {
	dir    string
	rootfs string // busybox root file system used by every runtime
}

// newWorkDir creates a work directory under parent ("" = os.TempDir()) with
// a root file system holding busybox and the applets the workload uses.
func newWorkDir(parent, busybox string) (_ *workDir, retErr error) {
	dir, err := os.MkdirTemp(parent, "containerstart-")
	if err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	w := &workDir{dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	defer func() {
		if retErr != nil {
			_ = w.remove()
		}
	}()
	for _, d := range []string{"fifo", "log"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the work directory: %w", err)
		}
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(w.rootfs, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the root file system: %w", err)
		}
	}
	if err := copyFile(busybox, filepath.Join(w.rootfs, "bin", "busybox"), 0o755); err != nil {
		return nil, fmt.Errorf("copying busybox into the root file system: %w", err)
	}
	for _, applet := range []string{"sh", "echo", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(w.rootfs, "bin", applet)); err != nil {
			return nil, fmt.Errorf("creating the root file system: %w", err)
		}
	}
	// Mount points of the resolver files both runtimes bind from the host,
	// so that neither pays for creating them at its first start.
	for _, f := range []string{"etc/hosts", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(w.rootfs, f), nil, 0o644); err != nil {
			return nil, fmt.Errorf("creating the root file system: %w", err)
		}
	}
	return w, nil
}

// checkBusybox fails unless path is a statically linked executable: the
// root file system holds nothing else, no dynamic loader or libc.
func checkBusybox(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading -busybox: %w (Debian: apt-get install busybox-static)", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("invalid -busybox %s: dynamically linked, but the container's root has no libc (Debian: apt-get install busybox-static)", path)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// log is the file a container's stderr (or a runtime's output) goes to.
func (w *workDir) log(id string) string { return filepath.Join(w.dir, "log", id) }

// tail returns the end of a log, for error messages.
func (w *workDir) tail(id string) string {
	b, _ := os.ReadFile(w.log(id))
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	if s == "" {
		return "(empty log)"
	}
	return s
}

func (w *workDir) remove() error {
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("removing the work directory: %w", err)
	}
	return nil
}

// readiness is a FIFO a container's stdout is connected to: the container's
// process is running once a byte arrives. The benchmark holds it open for
// reading and writing, so that the runtime's open for writing does not
// block and a read waits for data rather than seeing EOF.
type readiness struct {
	path string
	f    *os.File
}

func (w *workDir) newReadiness(id string) (*readiness, error) {
	path := filepath.Join(w.dir, "fifo", id)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("creating the readiness FIFO of %s: %w", id, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("opening the readiness FIFO of %s: %w", id, err)
	}
	return &readiness{path: path, f: f}, nil
}

// errNotReady is returned by wait when the process did not run in time.
var errNotReady = errors.New("process not running")

// wait returns once the container's process wrote to the FIFO, when ctx is
// done, or after timeout.
func (r *readiness) wait(ctx context.Context, timeout time.Duration) error {
	if err := r.f.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("setting a deadline on the readiness FIFO: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = r.f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64)
	n, err := r.f.Read(buf)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w after %v", errNotReady, timeout)
	case err != nil:
		return fmt.Errorf("reading the readiness FIFO: %w", err)
	case !strings.HasPrefix(string(buf[:n]), readyWord):
		return fmt.Errorf("unexpected output %q on the readiness FIFO", buf[:n])
	}
	return nil
}

func (r *readiness) close() {
	r.f.Close()
	os.Remove(r.path)
}
