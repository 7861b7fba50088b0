package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"corral/dns/records"
	"corral/dns/resolver"
)

// BenchmarkResolverProfile serves the 200 apps' records from an in-process
// resolver (dns/resolver, what routerd's DNS listener runs, without the
// master-following around it) and loads it with the anchors' dnsperf line,
// so that -cpuprofile shows where the resolver's time goes, and only the
// resolver's: the load comes from another process. Pin it as the servers
// are pinned:
//
//	taskset -c 1 env GOMAXPROCS=1 go test -run '^$' -bench ResolverProfile -benchtime 1x \
//		-cpuprofile /tmp/dnsbench/cpu.out ./bench/dnsbench
//	go tool pprof -top /tmp/dnsbench/cpu.out
func BenchmarkResolverProfile(b *testing.B) {
	for _, tool := range []string{"taskset", "dnsperf", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s", tool)
		}
	}
	dir := b.TempDir()
	if out, err := exec.Command("python3", "/work/shared/anchors/mkzone.py", dir).CombinedOutput(); err != nil {
		b.Skipf("mkzone.py: %v: %s", err, out)
	}
	rc := records.DefaultConfig()
	rs, err := records.Generate(masterState("127.0.0.1:5050", apps), rc)
	if err != nil {
		b.Fatal(err)
	}
	cfg := resolver.DefaultConfig()
	cfg.Listen, cfg.HTTPListen, cfg.Records = "127.0.0.1:0", "", rc
	res, err := resolver.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := res.Listen(); err != nil {
		b.Fatal(err)
	}
	res.Update(rs, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- res.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	port, _ := strconv.Atoi(res.Addr().String()[len("127.0.0.1:"):])
	pc := config{Duration: 6 * time.Second, Clients: 4, ServerCPU: "1", ClientCPU: "0"}
	b.ResetTimer()
	var qps, cpu float64
	for range b.N {
		r, err := dnsperf(ctx, pc, "in-process resolver", port, selfCPU, filepath.Join(dir, "queries"))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s", r)
		qps += r.QPS
		cpu += r.CPUPerQuery
	}
	b.ReportMetric(qps/float64(b.N), "queries/s")
	b.ReportMetric(cpu/float64(b.N), "µs-CPU/query")
	b.ReportMetric(0, "ns/op")
}

// selfCPU is this process's user and system CPU time so far.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// BenchmarkRegenerate is what one change of the cluster costs routerd's
// resolver with n one-task apps (200: mkzone.py's): records.Generate over
// the whole state and Resolver.Update, which packs every name's answers.
// The source does this once per coalesced burst of changes (5 ms apart at
// most), so it bounds how fast a busy cluster's changes can propagate.
func BenchmarkRegenerate(b *testing.B) {
	for _, n := range []int{apps, 1000} {
		b.Run(strconv.Itoa(n)+"apps", func(b *testing.B) {
			st := masterState("127.0.0.1:5050", n)
			rc := records.DefaultConfig()
			cfg := resolver.DefaultConfig()
			cfg.Listen, cfg.HTTPListen, cfg.Records = "127.0.0.1:0", "", rc
			res, err := resolver.New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rs, err := records.Generate(st, rc)
				if err != nil {
					b.Fatal(err)
				}
				res.Update(rs, time.Now())
			}
		})
	}
}
