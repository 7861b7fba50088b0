package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// spread is the minimum, median and maximum of some figures.
type spread struct{ Min, Med, Max float64 }

func spreadOf(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return spread{}
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{s[0], med, s[len(s)-1]}
}

func (s spread) format(f string) string {
	return fmt.Sprintf(f+" / "+f+" / "+f, s.Min, s.Med, s.Max)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printRounds prints every wrk run.
func printRounds(w io.Writer, rounds [][]loadResult) {
	fmt.Fprintln(w, "| round | target | req/s | p50 ms | p99 ms | proxy CPU µs/req | backend CPU µs/req | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for i, round := range rounds {
		for _, r := range round {
			fmt.Fprintf(w, "| %d | %s | %.0f | %.3f | %.2f | %.2f | %.2f | %s |\n",
				i+1, r.Target, r.RPS, ms(r.P50), ms(r.P99), r.ProxyUS, r.BackendUS, r.Errors)
		}
	}
}

// byTarget collects one figure of every round for each target.
func byTarget(rounds [][]loadResult, f func(loadResult) float64) map[string][]float64 {
	out := map[string][]float64{}
	for _, round := range rounds {
		for _, r := range round {
			out[r.Target] = append(out[r.Target], f(r))
		}
	}
	return out
}

// printSummary prints min / median / max over the rounds.
func printSummary(w io.Writer, rounds [][]loadResult) {
	if len(rounds) == 0 {
		return
	}
	rps := byTarget(rounds, func(r loadResult) float64 { return r.RPS })
	p50 := byTarget(rounds, func(r loadResult) float64 { return ms(r.P50) })
	p99 := byTarget(rounds, func(r loadResult) float64 { return ms(r.P99) })
	cpu := byTarget(rounds, func(r loadResult) float64 { return r.ProxyUS })
	fmt.Fprintf(w, "\nmin / median / max over %d rounds:\n\n", len(rounds))
	fmt.Fprintln(w, "| target | req/s | p50 ms | p99 ms | proxy CPU µs/req |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rounds[0] {
		t := r.Target
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t, spreadOf(rps[t]).format("%.0f"),
			spreadOf(p50[t]).format("%.3f"), spreadOf(p99[t]).format("%.2f"), spreadOf(cpu[t]).format("%.2f"))
	}
}

// printRatios prints a/b per round (each pair from the same round), then
// min / median / max of those ratios.
func printRatios(w io.Writer, rounds [][]loadResult, pairs [][2]string) {
	fmt.Fprint(w, "\nratios, each from one round's pair, min / median / max:\n\n")
	fmt.Fprintln(w, "| ratio | CPU µs/req | req/s | p50 | p99 |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, p := range pairs {
		var cpu, rps, p50, p99 []float64
		for _, round := range rounds {
			a, okA := find(round, p[0])
			b, okB := find(round, p[1])
			if !okA || !okB {
				continue
			}
			cpu = append(cpu, a.ProxyUS/b.ProxyUS)
			rps = append(rps, a.RPS/b.RPS)
			p50 = append(p50, float64(a.P50)/float64(b.P50))
			p99 = append(p99, float64(a.P99)/float64(b.P99))
		}
		if len(cpu) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s / %s | %s | %s | %s | %s |\n", p[0], p[1], spreadOf(cpu).format("%.2f"),
			spreadOf(rps).format("%.2f"), spreadOf(p50).format("%.2f"), spreadOf(p99).format("%.2f"))
	}
}

func find(round []loadResult, target string) (loadResult, bool) {
	for _, r := range round {
		if r.Target == target {
			return r, true
		}
	}
	return loadResult{}, false
}

// printIdle prints the memory of idle connections.
func printIdle(w io.Writer, rs []idleResult) {
	fmt.Fprintln(w, "| proxy, port | idle client connections | still open at the end | RSS before MB | RSS after MB | KB per connection | proxy's open files before → after (per conn) | backend's extra open files | threads |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d, %s | %d | %.1f | %.1f | %.2f | %d → %d (%.2f) | %d | %d |\n", r.Target, r.Conns, r.Variant, r.Alive,
			float64(r.RSSBefore)/1024, float64(r.RSSAfter)/1024, r.KBPerConn(), r.FDsBefore, r.FDsAfter, r.FDsPerConn(), r.BackendFDsGain, r.ThreadsAfter)
	}
	for _, r := range rs {
		if r.Failed > 0 || r.Alive != r.Conns {
			fmt.Fprintf(w, "\n%s, %s: %d of %d connections failed to open, %d still open at the end; first error: %s\n",
				r.Target, r.Variant, r.Failed, r.Conns, r.Alive, r.FirstError)
		}
	}
}
