package shim

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/isolation"
	"corral/tstest"
)

// TestMain runs this test binary as the shim when Start re-executes it,
// as agentd's main does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func startPosix(t *testing.T, args ...string) (*Shim, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Start(os.Args[0], dir, Spec{Isolation: Posix, Container: isolation.Spec{Args: args, Sandbox: dir}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Cmd.Process.Kill()
		_ = s.Cmd.Wait()
	})
	return s, dir
}

// TestStartedReportsRunningTask: Started yields the shim's record of the
// running task, the same as PidFile holds, and the task does not inherit
// the pipe it came through.
func TestStartedReportsRunningTask(t *testing.T) {
	s, dir := startPosix(t, "/bin/sleep", "60")
	var p Process
	select {
	case got, ok := <-s.Started():
		if !ok {
			t.Fatalf("Started closed without the task running; shim.log: %s", readLog(dir))
		}
		p = got
	case <-time.After(10 * time.Second):
		t.Fatal("Started yielded nothing in 10s")
	}
	if p.ShimPID != s.Cmd.Process.Pid || p.TaskPID <= 0 || !p.Alive() {
		t.Errorf("Started = %+v, want the shim's PID %d, alive, and the task's PID", p, s.Cmd.Process.Pid)
	}
	if file, ok, err := ReadPid(dir); err != nil || !ok || file != p {
		t.Errorf("ReadPid = %+v, %v, %v; want %+v as Started yielded", file, ok, err, p)
	}
	// The task may hold an fd 3 of its own for a moment (the dynamic
	// loader opening libc), but never the shim's ready pipe.
	if target, err := os.Readlink("/proc/" + strconv.Itoa(p.TaskPID) + "/fd/" + strconv.Itoa(readyFD)); err == nil && strings.HasPrefix(target, "pipe:") {
		t.Errorf("the task holds file descriptor %d, the shim's ready pipe (%s)", readyFD, target)
	}
	if err := RequestKill(dir, p, 0); err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 10*time.Second, "the shim to record the kill", func() bool {
		e, ok, _ := ReadExit(dir)
		return ok && e.Killed
	})
}

// TestStartedClosesWhenTaskFails: a task that cannot start closes Started
// without a value, and its exit status says why.
func TestStartedClosesWhenTaskFails(t *testing.T) {
	s, dir := startPosix(t, "/nonexistent/command")
	select {
	case p, ok := <-s.Started():
		if ok {
			t.Fatalf("Started yielded %+v for a command that does not exist", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Started neither yielded nor closed in 10s")
	}
	e, ok, err := ReadExit(dir)
	if err != nil || !ok || e.Error == "" {
		t.Errorf("ReadExit = %+v, %v, %v; want the start error recorded", e, ok, err)
	}
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
	return string(b)
}

// TestBinary: agentd runs corral-shim when it is an executable file next to
// agentd, and itself otherwise.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	agentd := filepath.Join(dir, "agentd")
	shimPath := filepath.Join(dir, BinaryName)
	if got := Binary(agentd); got != agentd {
		t.Errorf("without %s: Binary = %q, want agentd itself", BinaryName, got)
	}
	if err := os.WriteFile(shimPath, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Binary(agentd); got != agentd {
		t.Errorf("with a non-executable %s: Binary = %q, want agentd itself", BinaryName, got)
	}
	if err := os.Chmod(shimPath, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Binary(agentd); got != shimPath {
		t.Errorf("with %s next to agentd: Binary = %q, want %q", BinaryName, got, shimPath)
	}
}

// TestAliveZombie: a shim that has exited is not alive, even while no one
// has reaped it yet (agentd gone, init slow to reap).
func TestAliveZombie(t *testing.T) {
	s, dir := startPosix(t, "/bin/sleep", "60")
	p, ok := <-s.Started()
	if !ok {
		t.Fatalf("the task did not start; shim.log: %s", readLog(dir))
	}
	if err := RequestKill(dir, p, 0); err != nil {
		t.Fatal(err)
	}
	// Not reaped: s.Cmd.Wait is left to the cleanup.
	tstest.WaitFor(t, 10*time.Second, "the shim to exit", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.ShimPID) + "/stat")
		return err == nil && strings.Contains(string(b), ") Z ")
	})
	if p.Alive() {
		t.Errorf("Alive() = true for the exited, unreaped shim %d", p.ShimPID)
	}
}
