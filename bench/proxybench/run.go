package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The anchors' fixed ports.
const (
	backendPort   = 18080
	haproxyHTTP   = 18081
	nginxHTTP     = 18082
	haproxyTCP    = 18083
	anchorWorkDir = "/tmp/anch" // the anchors' configs keep pid and error files there
	miniTCPPort   = 18095       // minitcp's splice, copy and pooled modes on this port and the next two
)

var miniTCPModes = []string{"splice", "copy", "pooled"}

type config struct {
	Anchors, Out, Routerd        string
	Rounds                       int
	Duration                     time.Duration
	Conns                        int
	TCPConns                     [2]int
	TCPPort, HTTPPort, AdminPort int
	Profile, SkipLoad, MiniTCP   bool
}

// bench holds the servers of one run.
type bench struct {
	cfg      config
	log      *slog.Logger
	marathon *fakeMarathon
	backend  *proc
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	// Children inherit the limit: 10,000 connections through a TCP proxy
	// are 20,000 sockets in it. Without CAP_SYS_RESOURCE the hard limit
	// stays; raise the soft one to it.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := syscall.Rlimit{Cur: 400000, Max: 400000}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
		}
		log.Warn("RLIMIT_NOFILE cannot go above the hard limit (no CAP_SYS_RESOURCE)", "limit", lim.Max, "err", err)
		fmt.Printf("open files limit (hard, cannot be raised here): %d\n", lim.Max)
	}
	if err := checkFree(addr(backendPort), addr(haproxyHTTP), addr(nginxHTTP), addr(haproxyTCP),
		addr(cfg.TCPPort), addr(cfg.HTTPPort), addr(cfg.AdminPort)); err != nil {
		return err
	}
	for _, d := range []string{cfg.Out, anchorWorkDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if cfg.Routerd == "" {
		cfg.Routerd = filepath.Join(cfg.Out, "routerd")
		log.Info("building routerd", "out", cfg.Routerd)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", cfg.Routerd, "./routerd").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./routerd: %w: %s", err, out)
		}
	}
	if cfg.MiniTCP {
		if err := checkFree(addr(miniTCPPort), addr(miniTCPPort+1), addr(miniTCPPort+2)); err != nil {
			return err
		}
		out := filepath.Join(cfg.Out, "minitcp")
		if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, "./bench/proxybench/minitcp").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./bench/proxybench/minitcp: %w: %s", err, b)
		}
	}
	m, err := newFakeMarathon(backendPort, cfg.TCPPort, cfg.HTTPPort)
	if err != nil {
		return err
	}
	defer m.Close()
	b := &bench{cfg: cfg, log: log, marathon: m}

	if !cfg.SkipLoad || cfg.Profile {
		if err := b.loadPhase(ctx); err != nil {
			return err
		}
	}
	if cfg.Conns > 0 {
		if err := b.idlePhase(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) anchor(name string) string { return filepath.Join(b.cfg.Anchors, name) }

func (b *bench) startBackend(ctx context.Context, conf string) error {
	p, err := startNginx("backend", "0", conf, filepath.Join(b.cfg.Out, "backend.log"))
	if err != nil {
		return err
	}
	b.backend = p
	return waitDial(ctx, addr(backendPort), 5*time.Second)
}

func (b *bench) startHAProxy(ctx context.Context, conf string) (*proc, error) {
	p, err := start("haproxy", "1", filepath.Join(b.cfg.Out, "haproxy.log"), nil, "haproxy", "-f", conf, "-db")
	if err != nil {
		return nil, err
	}
	for _, port := range []int{haproxyHTTP, haproxyTCP} {
		if err := waitDial(ctx, addr(port), 5*time.Second); err != nil {
			p.stop()
			return nil, err
		}
	}
	return p, nil
}

func (b *bench) startNginxProxy(ctx context.Context, conf string) (*proc, error) {
	p, err := startNginx("nginx-proxy", "1", conf, filepath.Join(b.cfg.Out, "nginx-proxy.log"))
	if err != nil {
		return nil, err
	}
	if err := waitDial(ctx, addr(nginxHTTP), 5*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startMiniTCP runs minitcp in mode on core 1 with GOMAXPROCS=1.
func (b *bench) startMiniTCP(ctx context.Context, mode string, port int) (*proc, error) {
	p, err := start("minitcp-"+mode, "1", filepath.Join(b.cfg.Out, "minitcp.log"), []string{"GOMAXPROCS=1"},
		filepath.Join(b.cfg.Out, "minitcp"), "-mode", mode, "-listen", addr(port), "-backend", addr(backendPort))
	if err != nil {
		return nil, err
	}
	if err := waitDial(ctx, addr(port), 5*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startRouterd runs routerd on core 1 with GOMAXPROCS=1 and waits until
// its table routes both service ports to the backend.
func (b *bench) startRouterd(ctx context.Context) (*proc, error) {
	p, err := start("routerd", "1", filepath.Join(b.cfg.Out, "routerd.log"), []string{"GOMAXPROCS=1"}, b.cfg.Routerd,
		"--marathon", b.marathon.URL(), "--service-bind", "127.0.0.1",
		"--http-listen", "", "--https-listen", "", "--dns-listen", "", "--dns-http-listen", "",
		"--admin-listen", addr(b.cfg.AdminPort))
	if err != nil {
		return nil, err
	}
	if err := b.waitRoutes(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (b *bench) waitRoutes(ctx context.Context) error {
	want := map[string]string{addr(b.cfg.TCPPort): "tcp", addr(b.cfg.HTTPPort): "http"}
	url := "http://" + addr(b.cfg.AdminPort) + "/_router/routes"
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if ok, why := routesReady(url, want, addr(backendPort)); ok {
			for a := range want {
				if err := waitDial(ctx, a, 5*time.Second); err != nil {
					return err
				}
			}
			return nil
		} else {
			last = why
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("routerd's %s did not show both service ports after 15s: %s (see %s)", url, last,
		filepath.Join(b.cfg.Out, "routerd.log"))
}

func routesReady(url string, want map[string]string, backend string) (bool, string) {
	resp, err := http.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var doc struct {
		Services []struct {
			Listen   string `json:"listen"`
			Mode     string `json:"mode"`
			Backends []struct {
				Addr string `json:"addr"`
			} `json:"backends"`
		} `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return false, err.Error()
	}
	found := 0
	for _, s := range doc.Services {
		if mode, ok := want[s.Listen]; ok && s.Mode == mode && len(s.Backends) == 1 && s.Backends[0].Addr == backend {
			found++
		}
	}
	return found == len(want), fmt.Sprintf("%d of %d services routed", found, len(want))
}

// loadPhase starts every server with the anchors' configs, runs the
// interleaved wrk rounds, and profiles when asked.
func (b *bench) loadPhase(ctx context.Context) error {
	if err := b.startBackend(ctx, b.anchor("nginx-backend.conf")); err != nil {
		return err
	}
	defer b.backend.stop()
	hap, err := b.startHAProxy(ctx, b.anchor("haproxy.cfg"))
	if err != nil {
		return err
	}
	defer hap.stop()
	ngx, err := b.startNginxProxy(ctx, b.anchor("nginx-proxy.conf"))
	if err != nil {
		return err
	}
	defer ngx.stop()
	rd, err := b.startRouterd(ctx)
	if err != nil {
		return err
	}
	defer rd.stop()
	targets := []target{
		{"direct", backendPort, []int{b.backend.pid}},
		{"haproxy-http", haproxyHTTP, []int{hap.pid}},
		{"haproxy-tcp", haproxyTCP, []int{hap.pid}},
		{"nginx-http", nginxHTTP, []int{ngx.pid}},
		{"routerd-http", b.cfg.HTTPPort, []int{rd.pid}},
		{"routerd-tcp", b.cfg.TCPPort, []int{rd.pid}},
	}
	if b.cfg.MiniTCP {
		for i, mode := range miniTCPModes {
			p, err := b.startMiniTCP(ctx, mode, miniTCPPort+i)
			if err != nil {
				return err
			}
			defer p.stop()
			targets = append(targets, target{"minitcp-" + mode, miniTCPPort + i, []int{p.pid}})
		}
	}
	fmt.Printf("pids: backend worker %d, haproxy %d, nginx proxy worker %d, routerd %d\n\n",
		b.backend.pid, hap.pid, ngx.pid, rd.pid)
	if !b.cfg.SkipLoad {
		b.log.Info("warming up", "each", "2s")
		for _, t := range targets {
			if _, err := measure(ctx, t, b.backend.pid, 2*time.Second); err != nil {
				return err
			}
		}
		var rounds [][]loadResult
		for i := 0; i < b.cfg.Rounds; i++ {
			var round []loadResult
			for _, t := range targets {
				r, err := measure(ctx, t, b.backend.pid, b.cfg.Duration)
				if err != nil {
					return err
				}
				b.log.Info("wrk", "round", i+1, "target", t.name, "rps", int(r.RPS), "p99", r.P99, "cpu_us_per_req", fmt.Sprintf("%.2f", r.ProxyUS))
				round = append(round, r)
			}
			rounds = append(rounds, round)
		}
		printRounds(os.Stdout, rounds)
		printSummary(os.Stdout, rounds)
		printRatios(os.Stdout, rounds, [][2]string{
			{"routerd-http", "haproxy-http"}, {"routerd-tcp", "haproxy-tcp"}, {"routerd-http", "nginx-http"},
			{"minitcp-splice", "haproxy-tcp"}, {"minitcp-copy", "haproxy-tcp"}, {"minitcp-pooled", "haproxy-tcp"},
			{"minitcp-pooled", "minitcp-splice"}})
		if raw, err := json.MarshalIndent(rounds, "", " "); err == nil {
			os.WriteFile(filepath.Join(b.cfg.Out, "rounds.json"), raw, 0o644)
		}
	}
	if b.cfg.Profile {
		return b.profile(ctx, targets)
	}
	return nil
}

func (b *bench) profile(ctx context.Context, targets []target) error {
	for _, t := range targets {
		switch t.name {
		case "routerd-http", "routerd-tcp", "haproxy-http", "haproxy-tcp", "minitcp-pooled":
			b.log.Info("perf record", "target", t.name)
			if err := cpuProfile(ctx, t.name, t.pids[0], t.port, b.cfg.Out); err != nil {
				return err
			}
		}
	}
	fmt.Printf("\nperf reports in %s/perf-*.txt\n\nsystem calls per request (perf stat on the syscall tracepoints, all threads, 4 s of wrk):\n\n", b.cfg.Out)
	fmt.Println("| target | total | by call |")
	fmt.Println("|---|---|---|")
	for _, t := range targets[1:] {
		counts, total, err := syscallsPerRequest(ctx, t, b.backend.pid, b.cfg.Out)
		if err != nil {
			return err
		}
		printSyscalls(os.Stdout, t.name, counts, total)
	}
	return nil
}

// idlePhase measures each proxy's memory for idle client connections,
// each proxy fresh for each measurement. The anchors' configs cap
// connections (HAProxy maxconn 4000, nginx 4096 per worker), so this phase
// runs derived copies that differ only in those limits. Under a hard
// RLIMIT_NOFILE of 20,000, a TCP proxy cannot hold 10,000 connections
// (each is two sockets), so the TCP figures use fewer.
func (b *bench) idlePhase(ctx context.Context) error {
	dir := b.cfg.Out
	backendConf, err := writeDerived(b.anchor("nginx-backend.conf"), dir, "nginx-backend-10k.conf",
		"worker_connections 4096;", "worker_connections 19000;")
	if err != nil {
		return err
	}
	hapConf, err := writeDerived(b.anchor("haproxy.cfg"), dir, "haproxy-10k.cfg",
		"maxconn 4000", "maxconn 12000\n  no strict-limits")
	if err != nil {
		return err
	}
	ngxConf, err := writeDerived(b.anchor("nginx-proxy.conf"), dir, "nginx-proxy-10k.conf",
		"worker_connections 4096;", "worker_connections 19000;")
	if err != nil {
		return err
	}
	if err := b.startBackend(ctx, backendConf); err != nil {
		return err
	}
	defer b.backend.stop()

	startHAP := func(ctx context.Context) (*proc, error) { return b.startHAProxy(ctx, hapConf) }
	startNgx := func(ctx context.Context) (*proc, error) { return b.startNginxProxy(ctx, ngxConf) }
	n, tcpN := b.cfg.Conns, b.cfg.TCPConns
	runs := []idleRun{
		{"routerd TCP :" + strconv.Itoa(b.cfg.TCPPort), b.startRouterd, b.cfg.TCPPort, []int{tcpN[0], tcpN[1]}},
		{"HAProxy TCP :18083", startHAP, haproxyTCP, []int{tcpN[0], tcpN[1]}},
		{"routerd HTTP :" + strconv.Itoa(b.cfg.HTTPPort), b.startRouterd, b.cfg.HTTPPort, []int{n}},
		{"HAProxy HTTP :18081", startHAP, haproxyHTTP, []int{n}},
		{"nginx HTTP :18082", startNgx, nginxHTTP, []int{n}},
	}
	if b.cfg.MiniTCP {
		for i, mode := range miniTCPModes {
			port := miniTCPPort + i
			runs = append(runs, idleRun{"minitcp " + mode + " :" + strconv.Itoa(port), func(ctx context.Context) (*proc, error) { return b.startMiniTCP(ctx, mode, port) }, port, []int{tcpN[0]}})
		}
	}
	var results []idleResult
	for _, r := range runs {
		for _, conns := range r.conns {
			for _, request := range []bool{false, true} {
				res, err := b.idleOnce(ctx, r.name, r.start, r.port, conns, request)
				if err != nil {
					return err
				}
				b.log.Info("idle", "target", r.name, "conns", conns, "variant", res.Variant, "alive", res.Alive,
					"kb_per_conn", fmt.Sprintf("%.2f", res.KBPerConn()), "fds_per_conn", fmt.Sprintf("%.2f", res.FDsPerConn()))
				results = append(results, res)
			}
		}
	}
	fmt.Println()
	printIdle(os.Stdout, results)
	return nil
}

// idleRun is a proxy port to hold idle connections on, with the counts to
// try.
type idleRun struct {
	name  string
	start func(context.Context) (*proc, error)
	port  int
	conns []int
}

// idleOnce starts a fresh proxy, serves it a second of wrk (as a router
// that has seen traffic), then measures conns idle connections.
func (b *bench) idleOnce(ctx context.Context, name string, start func(context.Context) (*proc, error), port, conns int, request bool) (idleResult, error) {
	p, err := start(ctx)
	if err != nil {
		return idleResult{}, err
	}
	defer func() {
		p.stop()
		time.Sleep(time.Second)
	}()
	if _, err := measure(ctx, target{name, port, []int{p.pid}}, b.backend.pid, time.Second); err != nil {
		return idleResult{}, err
	}
	return measureIdle(ctx, name, p.pid, b.backend.pid, addr(port), conns, request)
}
