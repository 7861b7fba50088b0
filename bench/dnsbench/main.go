// Command dnsbench measures routerd's resolver against Knot in one run, by
// the anchors' method (/work/shared/anchors/README.md, "DNS"): mkzone.py's
// 200 A + 200 SRV records under marathon.mesos loaded into knotd (the
// anchors' knot.conf: one UDP worker) and, for routerd, a fake Mesos
// master whose /master/state holds 200 one-task apps of the framework
// "marathon" that give the same records; each server alone on core 1
// (routerd with GOMAXPROCS=1), and dnsperf -c 4 on core 0 with mkzone.py's
// query file against each in turn. It first checks that both servers give
// the same answers to every query, then prints dnsperf's summary for each
// run, each server's CPU time per query, and the ratios; with -syscalls,
// each server's system calls per query. Run it as root from the module
// root:
//
//	go run ./bench/dnsbench -runs 3 -syscalls
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
	flag.StringVar(&cfg.Anchors, "anchors", "/work/shared/anchors", "directory of the anchors' knot.conf and mkzone.py")
	flag.StringVar(&cfg.Out, "out", "/tmp/dnsbench", "directory for the zone, the queries, the derived knot.conf, the routerd binary and logs")
	flag.StringVar(&cfg.Routerd, "routerd", "", "routerd binary; empty: go build ./routerd into -out")
	flag.IntVar(&cfg.Runs, "runs", 3, "dnsperf runs against each server, interleaved")
	flag.DurationVar(&cfg.Duration, "duration", 6*time.Second, "length of one dnsperf run (-l)")
	flag.IntVar(&cfg.Clients, "clients", 4, "dnsperf clients (-c)")
	flag.StringVar(&cfg.ServerCPU, "server-cpu", "1", "CPU the servers are pinned to")
	flag.StringVar(&cfg.ClientCPU, "client-cpu", "0", "CPU dnsperf is pinned to")
	flag.BoolVar(&cfg.Syscalls, "syscalls", false, "after the runs, count each server's system calls per query with perf trace")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
}

// config is the command's flags.
type config struct {
	Anchors, Out, Routerd string
	Runs                  int
	Duration              time.Duration
	Clients               int
	ServerCPU, ClientCPU  string
	Syscalls              bool
}

func (c config) validate() error {
	switch {
	case c.Runs < 1:
		return fmt.Errorf("invalid -runs %d, must be at least 1", c.Runs)
	case c.Duration < time.Second:
		return fmt.Errorf("invalid -duration %v, must be at least 1s", c.Duration)
	case c.Clients < 1:
		return fmt.Errorf("invalid -clients %d, must be at least 1", c.Clients)
	case c.Out == "":
		return fmt.Errorf("invalid -out \"\", must name a directory")
	}
	return nil
}
