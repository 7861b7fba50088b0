package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server the harness started; pid is the process whose CPU and
// memory count (nginx's worker, not its master).
type proc struct {
	name string
	cmd  *exec.Cmd
	pid  int
}

// start runs argv pinned to cpu, output to logPath, with env added.
func start(name, cpu, logPath string, env []string, argv ...string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command("taskset", append([]string{"-c", cpu}, argv...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	// taskset execs the command: same PID.
	return &proc{name: name, cmd: cmd, pid: cmd.Process.Pid}, nil
}

// startNginx runs nginx -c conf in the foreground on cpu and waits for its
// one worker.
func startNginx(name, cpu, conf, logPath string) (*proc, error) {
	p, err := start(name, cpu, logPath, nil, "nginx", "-c", conf, "-g", "daemon off;")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if kids := children(p.cmd.Process.Pid); len(kids) > 0 {
			p.pid = kids[0]
			return p, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s: no nginx worker after 5s (see %s)", name, logPath)
}

// stop ends the process group and reaps it.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// cpuTicks is the user+system CPU of the processes, all threads, in clock
// ticks: fields 14 and 15 of /proc/PID/stat, as cpuper.sh reads them.
func cpuTicks(pids ...int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] is field 3
		for _, i := range []int{14 - 3, 15 - 3} {
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
			}
			sum += n
		}
	}
	return sum, nil
}

// rssKB is VmRSS from /proc/PID/status.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// fdCount is how many files PID has open.
func fdCount(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

func threadCount(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(ents)
}

// waitDial polls addr until it accepts a connection.
func waitDial(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing accepts on %s after %v: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkFree fails when something already listens on one of addrs (another
// run of the anchors, say): the figures would be someone else's.
func checkFree(addrs ...string) error {
	var errs []error
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is taken: %w", a, err))
			continue
		}
		ln.Close()
	}
	return errors.Join(errs...)
}

// writeDerived writes src's text with each old→new replacement applied
// (all of which must match) to dir/name.
func writeDerived(src, dir, name string, repl ...string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	s := string(b)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			return "", fmt.Errorf("%s has no %q to replace", src, repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	out := filepath.Join(dir, name)
	return out, os.WriteFile(out, []byte(s), 0o644)
}
