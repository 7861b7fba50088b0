package records

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"corral/mesos"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenConfig is the configuration the conformance files were written for:
// Mesos-DNS's defaults, three configured masters with the leader second, and
// the name server's address.
func goldenConfig() Config {
	cfg := DefaultConfig()
	cfg.Masters = []string{"10.0.0.2:5050", "10.0.0.1:5050", "10.0.0.3:5050"}
	cfg.NSAddrs = []netip.Addr{netip.MustParseAddr("10.0.0.53")}
	return cfg
}

func loadState(t testing.TB) mesos.MasterState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st mesos.MasterState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("decoding testdata/state.json: %v", err)
	}
	return st
}

// TestGolden is the conformance test: the records of testdata/state.json,
// checked by hand against Mesos-DNS's naming rules, in
// testdata/records.golden, and its enumeration in testdata/enumerate.golden.
func TestGolden(t *testing.T) {
	cfg := goldenConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rs, err := Generate(loadState(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var zone bytes.Buffer
	if _, err := rs.WriteTo(&zone); err != nil {
		t.Fatal(err)
	}
	enum, err := json.MarshalIndent(map[string]any{"frameworks": rs.Enumerate()}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	enum = append(enum, '\n')
	for _, g := range []struct {
		file string
		got  []byte
	}{{"records.golden", zone.Bytes()}, {"enumerate.golden", enum}} {
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, g.got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(g.got, want) {
			t.Errorf("%s differs from the generated output (go test -update rewrites it):\n%s", path, diff(string(want), string(g.got)))
		}
	}
}

// diff lists the lines only in want (-) and only in got (+).
func diff(want, got string) string {
	count := map[string]int{}
	for _, l := range bytes.Split([]byte(want), []byte("\n")) {
		count[string(l)]++
	}
	var out bytes.Buffer
	for _, l := range bytes.Split([]byte(got), []byte("\n")) {
		if count[string(l)] > 0 {
			count[string(l)]--
			continue
		}
		out.WriteString("+ " + string(l) + "\n")
	}
	for l, n := range count {
		for range n {
			out.WriteString("- " + l + "\n")
		}
	}
	return out.String()
}
