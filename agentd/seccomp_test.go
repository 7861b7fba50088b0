package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
	"corral/tstest"
)

// seccompProbe records, in the sandbox, the task's seccomp mode and how a
// user namespace fares: creating one needs no capability, so only the
// seccomp filter refuses it.
const seccompProbe = `grep Seccomp: /proc/self/status > seccomp.txt
busybox unshare -U true 2> unshare.txt && echo created > unshare.txt
true`

func withLabel(info mesos.TaskInfo, key, value string) mesos.TaskInfo {
	info.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: key, Value: value}}}
	return info
}

// TestSeccompLabel: a task is confined by Docker's seccomp profile unless
// its app carries CORRAL_SECCOMP=unconfined; a misspelt value is a
// TASK_ERROR naming the label, rather than a guess.
func TestSeccompLabel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Linux, work)
	id := agentID(t, m)
	// agentd compiles Docker's profile as it starts, before any task.
	compiled := filepath.Join(work, "containers", "@seccomp", "*.bpf")
	mastertest.WaitFor(t, 10*time.Second, "agentd to compile the filter", func() bool {
		m, _ := filepath.Glob(compiled)
		return len(m) == 1
	})

	f.Launch(t, id, command("confined", "cpus:0.1;mem:32", seccompProbe))
	f.Launch(t, id, withLabel(command("unconfined", "cpus:0.1;mem:32", seccompProbe), mesos.LabelSeccomp, "unconfined"))
	f.Launch(t, id, withLabel(command("misspelt", "cpus:0.1;mem:32", seccompProbe), mesos.LabelSeccomp, "off"))
	f.WaitUpdate(t, 20*time.Second, "confined", mesos.TaskFinished)
	f.WaitUpdate(t, 20*time.Second, "unconfined", mesos.TaskFinished)
	invalid := f.WaitUpdate(t, 20*time.Second, "misspelt", mesos.TaskError)

	box := sandbox(t, work, "confined")
	if got := readFile(t, filepath.Join(box, "seccomp.txt")); got != "Seccomp:\t2" {
		t.Errorf("default task: %q, want Seccomp: 2 (filtered)", got)
	}
	// The tasks' shims used agentd's compile (the same key), not one of
	// their own, and their inits compiled nothing.
	if files, _ := filepath.Glob(compiled); len(files) != 1 {
		t.Errorf("compiled filters %v, want Docker's profile compiled once", files)
	}
	if log := readFile(t, filepath.Join(work, "agentd.log")); strings.Contains(log, "install corral-exec") {
		t.Errorf("agentd with corral-exec beside it warns that it is missing")
	}
	if got := readFile(t, filepath.Join(box, "unshare.txt")); got != "unshare: unshare(0x10000000): Operation not permitted" {
		t.Errorf("default task's unshare -U: %q, want EPERM", got)
	}
	box = sandbox(t, work, "unconfined")
	if got := readFile(t, filepath.Join(box, "seccomp.txt")); got != "Seccomp:\t0" {
		t.Errorf("%s=unconfined task: %q, want Seccomp: 0 (no filter)", mesos.LabelSeccomp, got)
	}
	if got := readFile(t, filepath.Join(box, "unshare.txt")); got != "created" {
		t.Errorf("%s=unconfined task's unshare -U: %q, want it created", mesos.LabelSeccomp, got)
	}
	if !strings.Contains(invalid.Message, `invalid label CORRAL_SECCOMP="off", must be unconfined or default`) || invalid.Reason != mesos.ReasonTaskInvalid {
		t.Errorf("misspelt label: TASK_ERROR %s %q, want REASON_TASK_INVALID naming the label and its values", invalid.Reason, invalid.Message)
	}
}

// TestSeccompFlag: agentd refuses a bad --seccomp-profile, and an agentd
// built without seccomp support refuses to run linux containers unless told
// to run them unfiltered, instead of running them unfiltered unasked.
func TestSeccompFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("linux isolation needs root")
	}
	noSeccomp := filepath.Join(t.TempDir(), "agentd")
	// -tags= on the command line overrides the seccomp tag in GOFLAGS.
	if out, err := exec.Command("go", "build", "-tags=", "-o", noSeccomp, "corral/agentd").CombinedOutput(); err != nil {
		t.Fatalf("go build agentd without seccomp: %v\n%s", err, out)
	}
	badProfile := filepath.Join(t.TempDir(), "docker.json")
	os.WriteFile(badProfile, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","archMap":[]}`), 0o644)
	tests := []struct {
		name, binary string
		flags        []string
		want         string
	}{
		{"missing profile", agentdBinary(t), []string{"--seccomp-profile", "/nonexistent.json"}, "invalid --seccomp-profile: reading the seccomp profile"},
		{"docker-format profile", agentdBinary(t), []string{"--seccomp-profile", badProfile}, `unknown field "archMap"`},
		{"built without seccomp", noSeccomp, nil, "built without seccomp support"},
	}
	// An agentd installed without corral-exec says what it costs.
	alone := filepath.Join(t.TempDir(), "agentd")
	if b, err := os.ReadFile(agentdBinary(t)); err != nil || os.WriteFile(alone, b, 0o755) != nil {
		t.Fatalf("copying agentd: %v", err)
	}
	cmd := exec.Command(alone, "--master", "127.0.0.1:1", "--work-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--isolation", "linux")
	var out tstest.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	tstest.WaitFor(t, 10*time.Second, "agentd without corral-exec to warn", func() bool {
		return strings.Contains(out.String(), "containers compile their seccomp filter at every start") && strings.Contains(out.String(), "corral-exec: no such file")
	})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--master", "127.0.0.1:1", "--work-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--isolation", "linux"}, tt.flags...)
			cmd := exec.Command(tt.binary, args...)
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			out, err := cmd.CombinedOutput()
			timer.Stop()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("agentd %v = %v, %q; want it to exit saying %q", tt.flags, err, out, tt.want)
			}
		})
	}
}
