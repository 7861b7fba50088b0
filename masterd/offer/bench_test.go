package offer

import (
	"fmt"
	"testing"
	"time"

	"corral/mesos"
)

// BenchmarkAllocate measures one allocation cycle in which every agent has
// free resources, over the grid of Mesos's hierarchical allocator
// benchmarks. Each framework has a role of its own, the worst case for the
// role order. Between cycles, outside the timer, every offer is declined
// with no filter.
func BenchmarkAllocate(b *testing.B) {
	total := mesos.MustParseResources("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
	// Mesos's grid, plus 2,000 × 200, where Mesos 0.28 took about 2.9 s.
	grid := [][2]int{{1000, 10}, {1000, 100}, {1000, 1000}, {2000, 200}, {10000, 10}, {10000, 100}, {10000, 1000}}
	for _, size := range grid {
		agents, frameworks := size[0], size[1]
		b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.IDPrefix = "bench"
			a := New(cfg)
			for i := range agents {
				a.AddAgent(fmt.Sprintf("agent-%d", i), total)
			}
			for i := range frameworks {
				a.AddFramework(fmt.Sprintf("framework-%d", i), fmt.Sprintf("role-%d", i))
			}
			now := time.Unix(1700000000, 0)
			var offers []Offer
			for b.Loop() {
				b.StopTimer()
				declineAll(b, a, offers, now)
				now = now.Add(time.Second)
				b.StartTimer()
				offers = a.Allocate(now)
				if len(offers) != agents {
					b.Fatalf("Allocate() made %d offers, want %d", len(offers), agents)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/cycle")
		})
	}
}

func declineAll(b *testing.B, a *Allocator, offers []Offer, now time.Time) {
	byFramework := map[string][]string{}
	for _, o := range offers {
		byFramework[o.FrameworkID] = append(byFramework[o.FrameworkID], o.ID)
	}
	for fid, ids := range byFramework {
		if err := a.Decline(fid, ids, 0, now); err != nil {
			b.Fatalf("Decline(%q) = %v", fid, err)
		}
	}
}

// BenchmarkAllocateDeclineStorm measures cycles in which every framework
// declines every offer with Marathon's default refusal of 120 seconds, so
// that filters pile up until every framework filters every agent. Run it
// with a -benchtime of a few hundred cycles to see the steady state.
func BenchmarkAllocateDeclineStorm(b *testing.B) {
	total := mesos.MustParseResources("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
	for _, agents := range []int{1000, 10000} {
		for _, frameworks := range []int{10, 100} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
				a := New(DefaultConfig())
				for i := range agents {
					a.AddAgent(fmt.Sprintf("agent-%d", i), total)
				}
				for i := range frameworks {
					a.AddFramework(fmt.Sprintf("framework-%d", i), fmt.Sprintf("role-%d", i))
				}
				now := time.Unix(1700000000, 0)
				for b.Loop() {
					offers := a.Allocate(now)
					b.StopTimer()
					byFramework := map[string][]string{}
					for _, o := range offers {
						byFramework[o.FrameworkID] = append(byFramework[o.FrameworkID], o.ID)
					}
					for fid, ids := range byFramework {
						if err := a.Decline(fid, ids, 120*time.Second, now); err != nil {
							b.Fatalf("Decline(%q) = %v", fid, err)
						}
					}
					now = now.Add(time.Second)
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/cycle")
			})
		}
	}
}
