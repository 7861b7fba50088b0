package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// server is one DNS server under test, pinned to the server CPU.
type server struct {
	name string
	port int
	cmd  *exec.Cmd
}

// startServer runs argv on cpu with env added, output to logPath. taskset
// execs the command, so the process's PID is the server's.
func startServer(name, cpu, logPath string, port int, env []string, argv ...string) (*server, error) {
	log, err := os.Create(logPath)
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
	return &server{name: name, port: port, cmd: cmd}, nil
}

// affinities lists the CPUs each of the server's threads may run on, by
// thread ID.
func (s *server) affinities() (map[string]string, error) {
	dir := fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid)
	tids, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range tids {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				out[t.Name()] = strings.TrimSpace(v)
			}
		}
	}
	return out, nil
}

// pin moves every thread of the server to cpu: taskset pins the process
// it starts, but a server may set its threads' affinity itself (knotd
// binds its UDP worker to CPU 0, the client's CPU). It returns the threads
// that had been moved elsewhere.
func (s *server) pin(cpu string) ([]string, error) {
	before, err := s.affinities()
	if err != nil {
		return nil, err
	}
	var moved []string
	for tid, cpus := range before {
		if cpus != cpu {
			moved = append(moved, fmt.Sprintf("thread %s on CPU %s", tid, cpus))
		}
	}
	slices.Sort(moved)
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpu, strconv.Itoa(s.cmd.Process.Pid)).CombinedOutput(); err != nil {
		return moved, fmt.Errorf("pinning %s to CPU %s: %w: %s", s.name, cpu, err, out)
	}
	after, err := s.affinities()
	if err != nil {
		return moved, err
	}
	for tid, cpus := range after {
		if cpus != cpu {
			return moved, fmt.Errorf("%s's thread %s still runs on CPU %s after pinning to %s", s.name, tid, cpus, cpu)
		}
	}
	return moved, nil
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// stop ends the server's process group and reaps it.
func (s *server) stop() {
	if s == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// cpuTime is the server's user and system CPU time so far.
func (s *server) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading the CPU time of %s from /proc/%d/stat", s.name, s.cmd.Process.Pid)
	}
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// waitAnswer asks s for name until it answers NOERROR with records.
func (s *server) waitAnswer(ctx context.Context, name string, timeout time.Duration) error {
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for {
		m, _, err := c.ExchangeContext(ctx, new(dns.Msg).SetQuestion(name, dns.TypeA), s.addr())
		if err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer %s within %v: %v %v", s.name, name, timeout, m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	// A port free for both UDP and TCP.
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free for both TCP and UDP")
}

// knotConf rewrites the anchors' knot.conf for dir and port: only the
// paths (/tmp/anch/knot, shared with anyone running the anchors) and the
// port change, the workers stay as they are.
func knotConf(anchors, dir string, port int) (string, error) {
	b, err := os.ReadFile(filepath.Join(anchors, "knot.conf"))
	if err != nil {
		return "", err
	}
	s := string(b)
	if !strings.Contains(s, "127.0.0.1@15353") || !strings.Contains(s, "/tmp/anch/knot") {
		return "", fmt.Errorf("%s/knot.conf no longer listens on 127.0.0.1@15353 with /tmp/anch/knot: update dnsbench", anchors)
	}
	s = strings.ReplaceAll(s, "127.0.0.1@15353", "127.0.0.1@"+strconv.Itoa(port))
	s = strings.ReplaceAll(s, "/tmp/anch/knot", dir)
	path := filepath.Join(dir, "knot.conf")
	return path, os.WriteFile(path, []byte(s), 0o644)
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	for _, tool := range []string{"taskset", "knotd", "dnsperf", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s (apt-get install util-linux knot dnsperf python3): %w", tool, err)
		}
	}
	zoneDir := filepath.Join(cfg.Out, "knot")
	if err := os.RemoveAll(zoneDir); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "python3", filepath.Join(cfg.Anchors, "mkzone.py"), zoneDir).CombinedOutput(); err != nil {
		return fmt.Errorf("mkzone.py: %w: %s", err, out)
	}
	queries := filepath.Join(zoneDir, "queries")

	routerd := cfg.Routerd
	if routerd == "" {
		routerd = filepath.Join(cfg.Out, "routerd")
		log.Info("building routerd", "to", routerd)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", routerd, "./routerd").CombinedOutput(); err != nil {
			return fmt.Errorf("building routerd (run from the module root): %w: %s", err, out)
		}
	}

	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	master := fakeMaster(mln)
	defer master.Close()

	knotPort, err := freePort()
	if err != nil {
		return err
	}
	conf, err := knotConf(cfg.Anchors, zoneDir, knotPort)
	if err != nil {
		return err
	}
	knot, err := startServer("knot", cfg.ServerCPU, filepath.Join(cfg.Out, "knotd.log"), knotPort, nil, "knotd", "-c", conf)
	if err != nil {
		return err
	}
	defer knot.stop()

	routerPort, err := freePort()
	if err != nil {
		return err
	}
	router, err := startServer("routerd", cfg.ServerCPU, filepath.Join(cfg.Out, "routerd.log"), routerPort, []string{"GOMAXPROCS=1"},
		routerd, "--marathon", "", "--http-listen", "", "--https-listen", "", "--service-bind", "", "--admin-listen", "",
		"--masters", mln.Addr().String(), "--dns-listen", "127.0.0.1:"+strconv.Itoa(routerPort), "--dns-http-listen", "")
	if err != nil {
		return err
	}
	defer router.stop()
	servers := []*server{knot, router}
	for _, s := range servers {
		if err := s.waitAnswer(ctx, "app199.marathon.mesos.", 10*time.Second); err != nil {
			return err
		}
		moved, err := s.pin(cfg.ServerCPU)
		if err != nil {
			return err
		}
		if len(moved) > 0 {
			fmt.Printf("%s had set its own affinity (%s): all its threads moved to CPU %s\n", s.name, strings.Join(moved, ", "), cfg.ServerCPU)
		}
	}

	agree, sizes, err := compare(queries, knot.addr(), router.addr())
	if err != nil {
		return err
	}
	fmt.Printf("answers: %s\n", agree)
	for _, s := range sizes {
		fmt.Println(s)
	}
	fmt.Printf("servers on CPU %s (routerd GOMAXPROCS=1; knotd %s), dnsperf on CPU %s: -l %.0f -c %d -d %s\n\n",
		cfg.ServerCPU, conf, cfg.ClientCPU, cfg.Duration.Seconds(), cfg.Clients, queries)

	var results [][]perfResult
	for r := range cfg.Runs {
		order := servers
		if r%2 == 1 {
			order = []*server{router, knot}
		}
		byName := map[string]perfResult{}
		for _, s := range order {
			res, err := dnsperf(ctx, cfg, s.name, s.port, s.cpuTime, queries)
			if err != nil {
				return err
			}
			byName[s.name] = res
			fmt.Printf("run %d %-8s %s\n", r+1, s.name, res)
		}
		results = append(results, []perfResult{byName["knot"], byName["routerd"]})
		k, rt := byName["knot"], byName["routerd"]
		fmt.Printf("run %d routerd/knot: queries/s %.2f, CPU per query %.2f\n\n", r+1, rt.QPS/k.QPS, rt.CPUPerQuery/k.CPUPerQuery)
	}
	if cfg.Syscalls {
		for _, s := range servers {
			sum, err := syscallsPerQuery(ctx, cfg, s.name, s.cmd.Process.Pid, s.port, queries, filepath.Join(cfg.Out, "syscalls-"+s.name+".txt"))
			if err != nil {
				return err
			}
			fmt.Printf("%-8s %s\n", s.name, sum)
		}
		fmt.Println()
	}
	var kq, rq, kc, rc float64
	for _, rs := range results {
		kq += rs[0].QPS
		rq += rs[1].QPS
		kc += rs[0].CPUPerQuery
		rc += rs[1].CPUPerQuery
	}
	n := float64(len(results))
	fmt.Printf("mean of %d runs: knot %.0f q/s %.2f µs CPU/query; routerd %.0f q/s %.2f µs CPU/query; routerd/knot queries/s %.2f, CPU per query %.2f\n",
		len(results), kq/n, kc/n, rq/n, rc/n, rq/kq, rc/kc)
	return nil
}
