package isolation

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
)

// v2EmulatedEnv marks the child of TestCgroupV2Emulated.
const v2EmulatedEnv = "CORRAL_TEST_V2_EMULATED"

// TestCgroupV2Emulated runs the cgroup v2 code path on a hybrid host: it
// re-runs itself in a private mount namespace where a fresh subtree of the
// host's cgroup2 mount (/sys/fs/cgroup/unified) is bound over
// /sys/fs/cgroup, which then looks like a unified host without
// controllers. That covers detection, the fs2 manager, the cgroup
// namespace, v2 statistics, cgroup.kill and removal, but not limits. On a
// real v2 host the other tests cover v2 and this one skips.
func TestCgroupV2Emulated(t *testing.T) {
	requireRoot(t)
	if os.Getenv(v2EmulatedEnv) == "1" {
		testV2Child(t)
		return
	}
	if !cgroups.IsCgroup2HybridMode() {
		t.Skip("needs a hybrid cgroup host")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	sub := fmt.Sprintf("/sys/fs/cgroup/unified/corral-test-v2-%d", os.Getpid())
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{filepath.Join(sub, cgroupParent), sub} {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				t.Errorf("removing test cgroup: %v", err)
			}
		}
	})
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /sys/fs/cgroup && exec "$2" -test.run '^TestCgroupV2Emulated$' -test.count=1 -test.v`,
		"sh", sub, os.Args[0])
	cmd.Env = append(os.Environ(), v2EmulatedEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCgroupV2Emulated") {
		t.Fatalf("emulated v2 run: %v\n%s", err, out)
	}
	t.Logf("emulated v2 run:\n%s", out)
}

func testV2Child(t *testing.T) {
	e := newEnv(t)
	if m := e.rt.CgroupMode(); m != "v2" {
		t.Fatalf("CgroupMode() = %q, want v2", m)
	}
	s := e.spec("v2", "cat /proc/self/cgroup; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo busy; sleep 1000 & sleep 1000")
	c := e.start(t, s)
	waitFor(t, 30*time.Second, "the busy loop", func() bool { return strings.Contains(e.output(t, "stdout"), "busy") })
	if out := e.output(t, "stdout"); !slices.Contains(strings.Split(out, "\n"), "0::/") {
		t.Errorf("/proc/self/cgroup in the container = %q, want 0::/ (own cgroup namespace)", out)
	}
	if !exists("/sys/fs/cgroup/corral/v2/cgroup.procs") {
		t.Error("no v2 cgroup at /corral/v2")
	}
	st, err := c.Stats()
	if err != nil || st.CPUUserSeconds+st.CPUSystemSeconds <= 0 {
		t.Errorf("Stats() = %+v, %v; want CPU time", st, err)
	}
	rt2, err := NewRuntime(e.root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := rt2.Load("v2")
	if err != nil || !l.Running() {
		t.Fatalf("Load: %v (running %v)", err, l != nil && l.Running())
	}
	if err := l.Signal(syscall.SIGKILL, true); err != nil {
		t.Fatalf("Signal(SIGKILL, all): %v", err)
	}
	if st, err := c.Wait(); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("Wait() = %+v, %v; want killed", st, err)
	}
}
