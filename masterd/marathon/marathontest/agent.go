package marathontest

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// agentd is the index of agentd in c.procs (masterd is 0).
const agentd = 1

// AgentdPID returns the process ID of the cluster's current agentd.
func (c *Cluster) AgentdPID() int { return c.procs[agentd].Process.Pid }

// AgentDir is agentd's --work-dir.
func (c *Cluster) AgentDir() string { return c.agentDir }

// StopAgent sends sig to agentd's main process alone, as systemd does with
// KillMode=process (the tasks' shims are not signalled), and waits for it
// to exit, failing the test if it takes longer than timeout (after which
// systemd would SIGKILL it). It returns how agentd exited.
func (c *Cluster) StopAgent(sig syscall.Signal, timeout time.Duration) *os.ProcessState {
	c.t.Helper()
	p := c.procs[agentd]
	if err := p.Process.Signal(sig); err != nil {
		c.t.Fatalf("signalling agentd: %v", err)
	}
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		p.Process.Kill()
		<-done
		c.t.Fatalf("agentd did not exit within %v of %v", timeout, sig)
	}
	return p.ProcessState
}

// StartAgent starts agentd again with the flags it had, appending to
// agentd.log; the test waits for it to re-register.
func (c *Cluster) StartAgent() {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(Binaries(c.t), "agentd"), c.agentArgs...)
	log, err := os.OpenFile(filepath.Join(c.Dir, "agentd.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	defer log.Close()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[agentd] = cmd
}
