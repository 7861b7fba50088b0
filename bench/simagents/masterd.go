package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// masterProc is a masterd the harness started and must stop.
type masterProc struct {
	addr    string // Mesos API host:port
	dir     string // temporary work dir, removed by stop
	logPath string // masterd's stderr
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	waitErr error         // cmd's exit; read after exited is closed
}

// readyTimeout bounds masterd's start: embedded etcd, election, recovery.
const readyTimeout = time.Minute

// startMasterd runs bin on free loopback ports with a temporary work dir and
// waits until it leads and serves /master/state.
// A secret turns on agent authentication (--agent-secret-file).
func startMasterd(ctx context.Context, bin string, ping time.Duration, secret string) (_ *masterProc, retErr error) {
	dir, err := os.MkdirTemp("", "simagents-")
	if err != nil {
		return nil, fmt.Errorf("creating masterd's work dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(dir)
		}
	}()
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	hostPort := func(i int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])) }
	args := []string{
		"--work-dir", filepath.Join(dir, "master"),
		"--listen", hostPort(0),
		"--marathon-listen", hostPort(1),
		"--hostname", "127.0.0.1",
		"--etcd-listen-client", "http://" + hostPort(2),
		"--etcd-listen-peer", "http://" + hostPort(3),
		"--allocation-interval", "1s",
		"--log-level", "warn",
	}
	if ping > 0 {
		args = append(args, "--agent-ping-timeout", ping.String())
	}
	if secret != "" {
		path := filepath.Join(dir, "agent-secret")
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("writing masterd's agent secret: %w", err)
		}
		args = append(args, "--agent-secret-file", path)
	}
	logPath := filepath.Join(dir, "masterd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating masterd's log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps a terminal's Ctrl-C from reaching masterd
	// before the agents are gone; Pdeathsig kills it if the harness dies
	// without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &masterProc{addr: hostPort(0), dir: dir, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// freePorts reserves n distinct loopback ports and releases them for masterd.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls /master/state until masterd leads and serves it.
func (p *masterProc) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/master/state", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("masterd at %s did not serve /master/state within %v; its log ends:\n%s", p.addr, readyTimeout, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("masterd exited while starting (%v); its log ends:\n%s", p.waitErr, p.logTail(20))
		case <-tick.C:
		}
	}
}

// alive reports an error if masterd has exited.
func (p *masterProc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("masterd exited (%v); its log ends:\n%s", p.waitErr, p.logTail(20))
	default:
		return nil
	}
}

// stop terminates masterd (SIGTERM, then SIGKILL after 15s) and removes its
// work dir. It reports a failed shutdown.
func (p *masterProc) stop() error {
	var err error
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if p.waitErr != nil {
				err = fmt.Errorf("masterd failed on SIGTERM (%v); its log ends:\n%s", p.waitErr, p.logTail(20))
			}
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			err = errors.New("masterd did not stop within 15s of SIGTERM and was killed")
		}
	}
	if rmErr := os.RemoveAll(p.dir); rmErr != nil && err == nil {
		err = fmt.Errorf("removing masterd's work dir: %w", rmErr)
	}
	return err
}

func (p *masterProc) pid() int { return p.cmd.Process.Pid }

// logTail returns the last n lines of masterd's log.
func (p *masterProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logSummary counts masterd's log lines by level and message.
func (p *masterProc) logSummary() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	return summarizeLog(f)
}

var slogLine = regexp.MustCompile(`level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// summarizeLog reads slog text lines and returns counts such as
// `3× WARN "agent unreachable"`, most frequent first.
func summarizeLog(r io.Reader) string {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		key := "unstructured line"
		if m := slogLine.FindStringSubmatch(line); m != nil {
			key = m[1] + " " + m[2]
		}
		counts[key]++
	}
	if len(counts) == 0 {
		return "empty"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("%d more kinds", len(keys)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return strings.Join(parts, "; ")
}
