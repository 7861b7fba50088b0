// Command proxybench measures routerd against HAProxy and nginx in one run,
// by the anchors' method (/work/shared/anchors): an nginx backend on core 0,
// each proxy alone on core 1 (routerd with GOMAXPROCS=1), wrk -t1 -c50 on
// core 0, and the proxy's CPU time per request from /proc/PID/stat. routerd
// is built from this tree and follows a fake Marathon served by the
// harness: one TCP-mode and one HTTP-mode app, each with one task on the
// backend. It then measures the memory of 10,000 idle client connections
// to each proxy and, with -profile, samples routerd with perf and counts
// every proxy's system calls per request. Run it as root from the module
// root:
//
//	go run ./bench/proxybench -rounds 3 -profile
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.Anchors, "anchors", "/work/shared/anchors", "directory of the anchors' haproxy.cfg and nginx-*.conf")
	flag.StringVar(&cfg.Out, "out", "/tmp/proxybench", "directory for the routerd binary, logs, derived configs and profiles")
	flag.StringVar(&cfg.Routerd, "routerd", "", "routerd binary; empty: go build ./routerd into -out")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "interleaved rounds of wrk runs")
	flag.DurationVar(&cfg.Duration, "duration", 6*time.Second, "length of one wrk run")
	flag.IntVar(&cfg.Conns, "conns", 10000, "idle client connections to the HTTP ports for the memory test; 0 skips the test")
	flag.IntVar(&cfg.TCPConns[0], "tcp-conns", 3000, "idle client connections to the TCP ports (each is two sockets in the proxy, and the hard open-files limit may be 20,000)")
	flag.IntVar(&cfg.TCPConns[1], "tcp-conns-max", 9000, "a second, larger count for the TCP ports")
	flag.IntVar(&cfg.TCPPort, "tcp-port", 18090, "routerd's TCP-mode service port")
	flag.IntVar(&cfg.HTTPPort, "http-port", 18091, "routerd's HTTP-mode service port")
	flag.IntVar(&cfg.AdminPort, "admin-port", 18092, "routerd's admin port")
	flag.BoolVar(&cfg.Profile, "profile", false, "sample routerd with perf and count system calls per request")
	flag.BoolVar(&cfg.SkipLoad, "skip-load", false, "skip the wrk rounds")
	flag.BoolVar(&cfg.MiniTCP, "minitcp", true, "also measure bench/proxybench/minitcp, routerd's TCP copy done three ways, on ports 18095-18097")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}
