package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
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

// compareAuth runs the benchmark on fresh masterds without agent
// authentication and with a secret (every call carries it and the master
// compares it), alternating, rounds times each, so that load from
// elsewhere on the machine falls on both alike. It prints every run's
// table, then the medians and their ratios.
func compareAuth(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	open := cfg
	open.AgentSecret, open.CompareAuth = "", false
	key := make([]byte, 32)
	rand.Read(key)
	secured := open
	secured.AgentSecret = hex.EncodeToString(key)
	var without, with []summary
	for round := range max(1, cfg.AuthRounds) {
		for _, c := range []struct {
			cfg  Config
			into *[]summary
			what string
		}{{open, &without, "without authentication"}, {secured, &with, "with an agent secret"}} {
			s, err := run(ctx, c.cfg, log, out)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, c.what, err)
			}
			*c.into = append(*c.into, s)
			fmt.Fprintln(out)
		}
	}
	a, b := medianSummary(without), medianSummary(with)
	rep := &report{}
	ratio := func(x, y float64) string {
		if x == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", y/x)
	}
	rep.add("runs", "%d without, %d with, alternating; medians", len(without), len(with))
	rep.add("registration rate", "%.0f → %.0f agents/s (%s)", a.regRate, b.regRate, ratio(a.regRate, b.regRate))
	rep.add("registration latency p50", "%v → %v (%s)", dur(a.regP50), dur(b.regP50), ratio(float64(a.regP50), float64(b.regP50)))
	rep.add("registration latency p99", "%v → %v (%s)", dur(a.regP99), dur(b.regP99), ratio(float64(a.regP99), float64(b.regP99)))
	rep.add("masterd CPU during registration", "%v → %v (%s)", dur(a.regCPU), dur(b.regCPU), ratio(float64(a.regCPU), float64(b.regCPU)))
	if cfg.Hold > 0 {
		rep.add("heartbeat latency p50", "%v → %v (%s)", dur(a.hbP50), dur(b.hbP50), ratio(float64(a.hbP50), float64(b.hbP50)))
		rep.add("heartbeat latency p99", "%v → %v (%s)", dur(a.hbP99), dur(b.hbP99), ratio(float64(a.hbP99), float64(b.hbP99)))
		rep.add("masterd CPU during hold", "%v → %v (%s)", dur(a.holdCPU), dur(b.holdCPU), ratio(float64(a.holdCPU), float64(b.holdCPU)))
	}
	return rep.write(out, fmt.Sprintf("simagents: the cost of agent authentication, %d agents (without → with --agent-secret-file, same run)", cfg.Agents))
}

// medianSummary is each figure's median over runs.
func medianSummary(runs []summary) summary {
	med := func(f func(summary) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	d := func(f func(summary) time.Duration) time.Duration {
		return time.Duration(med(func(s summary) float64 { return float64(f(s)) }))
	}
	return summary{
		regRate: med(func(s summary) float64 { return s.regRate }),
		regP50:  d(func(s summary) time.Duration { return s.regP50 }),
		regP99:  d(func(s summary) time.Duration { return s.regP99 }),
		regCPU:  d(func(s summary) time.Duration { return s.regCPU }),
		hbP50:   d(func(s summary) time.Duration { return s.hbP50 }),
		hbP99:   d(func(s summary) time.Duration { return s.hbP99 }),
		holdCPU: d(func(s summary) time.Duration { return s.holdCPU }),
	}
}
