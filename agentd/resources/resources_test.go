package resources

import (
	"os"
	"strings"
	"testing"

	"corral/mesos"
)

func TestResolve(t *testing.T) {
	h := Host{CPUs: 8, MemMB: 15000, DiskMB: 90000}
	for _, tc := range []struct {
		flag, want, err string
	}{
		{"", "cpus:8;disk:90000;mem:15000;ports:[31000-32000]", ""},
		{"cpus:2;mem:1024", "cpus:2;disk:90000;mem:1024;ports:[31000-32000]", ""},
		{"ports:[20000-20010];gpus:1", "cpus:8;disk:90000;gpus:1;mem:15000;ports:[20000-20010]", ""},
		{"cpus:0", "", "must offer cpus and mem"},
		{"cpus:lots", "", "invalid --resources"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			got, err := Resolve(tc.flag, h)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve(%q) error = %v, want containing %q", tc.flag, err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(mesos.MustParseResources(tc.want)) {
				t.Fatalf("Resolve(%q) = %s, %v; want %s", tc.flag, got, err, tc.want)
			}
		})
	}
}

func TestDetectReadsTheHost(t *testing.T) {
	h, err := Detect(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if h.CPUs < 1 || h.MemMB < 1 || h.DiskMB < 1 {
		t.Fatalf("Detect() = %+v, want positive cpus, mem and disk", h)
	}
}

func TestHeadroom(t *testing.T) {
	for _, tc := range []struct{ total, reserve, want float64 }{
		{24000, 1024, 22976},
		{1500, 1024, 750},
	} {
		if got := headroom(tc.total, tc.reserve); got != tc.want {
			t.Errorf("headroom(%v, %v) = %v, want %v", tc.total, tc.reserve, got, tc.want)
		}
	}
}
