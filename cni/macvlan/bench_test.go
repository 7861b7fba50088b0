package main

import (
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAddDel times an ADD followed by a DEL through the CNI protocol
// (a process per plugin, host-local as IPAM, into the same container
// namespace) for corral-macvlan and for Debian's reference macvlan,
// interleaved in one run so both see the same machine. It reports each
// one's milliseconds per ADD+DEL and their ratio; ns/op, which would be the
// sum of both, is suppressed. Both run at cniVersion 1.0.0, the newest that
// Debian's plugins (1.1.1) speak.
func BenchmarkAddDel(b *testing.B) {
	bin, cniPath := plugin(b)
	host, cont := newHost(b), newNetns(b)
	type subject struct {
		plugin string
		conf   []byte
		total  time.Duration
	}
	corralConf := newConf("1.0.0", "host-local", b.TempDir(), 77)
	refConf := newConf("1.0.0", "host-local", b.TempDir(), 77)
	refConf["type"] = "macvlan"
	corral := &subject{plugin: bin, conf: corralConf.bytes(b)}
	ref := &subject{plugin: filepath.Join(debianCNI, "macvlan"), conf: refConf.bytes(b)}

	addDel := func(s *subject) {
		c := call{containerID: "bench", netns: nsPath(cont), ifName: "eth0"}
		start := time.Now()
		for _, cmd := range []string{"ADD", "DEL"} {
			c.command = cmd
			if out, err := cni(b, host, s.plugin, cniPath, c, s.conf); err != nil {
				b.Fatalf("%s %s: %v\n%s", filepath.Base(s.plugin), cmd, err, out)
			}
		}
		s.total += time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so neither always runs warm.
		if i%2 == 0 {
			addDel(corral)
			addDel(ref)
		} else {
			addDel(ref)
			addDel(corral)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(corral.total), "corral-ms/op")
	b.ReportMetric(ms(ref.total), "reference-ms/op")
	b.ReportMetric(float64(corral.total)/float64(ref.total), "corral/reference")
}
