package main_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
)

// TestSandboxGC: an agent with --gc-delay removes a finished task's
// directory once it is older than the delay (scaled by the free disk),
// while a running task's sandbox stays.
func TestSandboxGC(t *testing.T) {
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Posix, work, "--gc-delay", "2s", "--disk-watch-interval", "100ms")
	id := agentID(t, m)

	f.Launch(t, id, command("done", "cpus:0.1;mem:32", "echo finished > out"))
	f.Launch(t, id, command("live", "cpus:0.1;mem:32", "exec sleep 600"))
	f.WaitUpdate(t, 20*time.Second, "done", mesos.TaskFinished)
	f.WaitUpdate(t, 20*time.Second, "live", mesos.TaskRunning)
	box, live := sandbox(t, work, "done"), sandbox(t, work, "live")
	if got := readFile(t, filepath.Join(box, "out")); got != "finished" {
		t.Fatalf("the finished task's sandbox holds %q right after it ended, want its output", got)
	}
	start := time.Now()
	mastertest.WaitFor(t, 15*time.Second, "the finished task's directory to be collected", func() bool {
		_, err := os.Stat(filepath.Dir(box))
		return os.IsNotExist(err)
	})
	// Not before 2 s × (1 - headroom - disk usage), less the update's way.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(work, &fs); err != nil {
		t.Fatal(err)
	}
	usage := float64(fs.Blocks-fs.Bfree) / float64(fs.Blocks)
	if took, least := time.Since(start), time.Duration(float64(2*time.Second)*max(0, 0.9-usage))-500*time.Millisecond; took < least {
		t.Errorf("collected %v after the task ended, want no sooner than %v (disk usage %.2f)", took, least, usage)
	}
	if _, err := os.Stat(filepath.Join(live, "stdout")); err != nil {
		t.Errorf("the running task's sandbox: %v", err)
	}
}
