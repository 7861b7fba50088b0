package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// summary is what compareAuth compares of one run.
type summary struct {
	regRate        float64 // agents/s
	regP50, regP99 time.Duration
	regCPU         time.Duration // masterd's, during registration
	hbP50, hbP99   time.Duration // heartbeat latency during the hold
	holdCPU        time.Duration // masterd's, during the hold
}

// compareAuth runs the benchmark on a fresh masterd without agent
// authentication, then on another with a secret (every call carries it and
// the master compares it), and prints both tables and the ratios.
func compareAuth(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	open := cfg
	open.AgentSecret, open.CompareAuth = "", false
	without, err := run(ctx, open, log, out)
	if err != nil {
		return fmt.Errorf("without authentication: %w", err)
	}
	fmt.Fprintln(out)
	key := make([]byte, 32)
	rand.Read(key)
	secured := open
	secured.AgentSecret = hex.EncodeToString(key)
	with, err := run(ctx, secured, log, out)
	if err != nil {
		return fmt.Errorf("with an agent secret: %w", err)
	}
	fmt.Fprintln(out)
	rep := &report{}
	ratio := func(a, b float64) string {
		if a == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", b/a)
	}
	rep.add("registration rate", "%.0f → %.0f agents/s (%s)", without.regRate, with.regRate, ratio(without.regRate, with.regRate))
	rep.add("registration latency p50", "%v → %v (%s)", dur(without.regP50), dur(with.regP50), ratio(float64(without.regP50), float64(with.regP50)))
	rep.add("registration latency p99", "%v → %v (%s)", dur(without.regP99), dur(with.regP99), ratio(float64(without.regP99), float64(with.regP99)))
	rep.add("masterd CPU during registration", "%v → %v (%s)", dur(without.regCPU), dur(with.regCPU), ratio(float64(without.regCPU), float64(with.regCPU)))
	if cfg.Hold > 0 {
		rep.add("heartbeat latency p50", "%v → %v (%s)", dur(without.hbP50), dur(with.hbP50), ratio(float64(without.hbP50), float64(with.hbP50)))
		rep.add("heartbeat latency p99", "%v → %v (%s)", dur(without.hbP99), dur(with.hbP99), ratio(float64(without.hbP99), float64(with.hbP99)))
		rep.add("masterd CPU during hold", "%v → %v (%s)", dur(without.holdCPU), dur(with.holdCPU), ratio(float64(without.holdCPU), float64(with.holdCPU)))
	}
	return rep.write(out, fmt.Sprintf("simagents: the cost of agent authentication, %d agents (without → with --agent-secret-file, same run)", cfg.Agents))
}
