package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/masterd/state/statetest"
)

// baselineIPAM is another build of corral-ipam (an older commit's, say) to
// time in the same run as a fourth pairing, with corral-macvlan.
var baselineIPAM = flag.String("baseline-ipam", "", "path to a corral-ipam binary that BenchmarkAddDel also times, as corral-macvlan's IPAM")

// baselineMacvlan is another build of corral-macvlan for that fourth
// pairing, so that it times an older commit's plugins together.
var baselineMacvlan = flag.String("baseline-macvlan", "", "path to a corral-macvlan binary that runs the -baseline-ipam pairing (default: this build)")

// BenchmarkAddDel times an ADD followed by a DEL through the CNI protocol (a
// process per plugin, into the same container namespace) for three
// pairings, interleaved in one run so all see the same machine:
// corral-macvlan with corral-ipam on an embedded etcd (what a Corral
// cluster runs), corral-macvlan with host-local, and Debian's reference
// macvlan with host-local. It reports each one's milliseconds per ADD+DEL
// and the ratios to the reference; ns/op, which would be the sum of all,
// is suppressed. All run at cniVersion 1.0.0, the newest that Debian's
// plugins (1.1.1) speak. With -baseline-ipam, a fourth pairing times that
// build of corral-ipam too, with -baseline-macvlan's corral-macvlan.
func BenchmarkAddDel(b *testing.B) {
	bin, cniPath := plugin(b)
	ipamPlugin(b)
	_, url := statetest.Start(b)
	host, cont := newHost(b), newNetns(b)
	type subject struct {
		plugin string
		conf   []byte
		total  time.Duration
	}
	hostLocalConf := newConf("1.0.0", "host-local", b.TempDir(), 77)
	refConf := newConf("1.0.0", "host-local", b.TempDir(), 77)
	refConf["type"] = "macvlan"
	clusterIPAM := &subject{plugin: bin, conf: clusterConf("1.0.0", etcdIn(b, host, url), "bench", b.TempDir()).bytes(b)}
	hostLocal := &subject{plugin: bin, conf: hostLocalConf.bytes(b)}
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
	order := []*subject{clusterIPAM, hostLocal, ref}
	var baseline *subject
	if *baselineIPAM != "" {
		link := filepath.Join(filepath.Dir(bin), "corral-ipam-baseline")
		os.Remove(link)
		if err := os.Symlink(*baselineIPAM, link); err != nil {
			b.Fatal(err)
		}
		conf := clusterConf("1.0.0", etcdIn(b, host, url), "bench", b.TempDir())
		conf["name"] = "baseline"
		conf["ipam"].(map[string]any)["type"] = "corral-ipam-baseline"
		baseline = &subject{plugin: bin, conf: conf.bytes(b)}
		if *baselineMacvlan != "" {
			baseline.plugin = *baselineMacvlan
		}
		order = append(order, baseline)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Rotate which goes first, so none always runs warm.
		for j := range order {
			addDel(order[(i+j)%len(order)])
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(clusterIPAM.total), "corral+etcd-ms/op")
	b.ReportMetric(ms(hostLocal.total), "corral+host-local-ms/op")
	b.ReportMetric(ms(ref.total), "reference-ms/op")
	b.ReportMetric(float64(clusterIPAM.total)/float64(ref.total), "corral+etcd/reference")
	b.ReportMetric(float64(hostLocal.total)/float64(ref.total), "corral+host-local/reference")
	if baseline != nil {
		b.ReportMetric(ms(baseline.total), "corral+baseline-ms/op")
		b.ReportMetric(float64(baseline.total)/float64(ref.total), "corral+baseline/reference")
	}
}
