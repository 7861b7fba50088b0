package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"corral only", func(c *Config) { c.Runtimes = []string{rtCorral} }, ""},
		{"no launches", func(c *Config) { c.N = 0 }, "invalid -n 0"},
		{"negative burst", func(c *Config) { c.Concurrent = -1 }, "invalid -concurrent -1"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "invalid -timeout 0s"},
		{"unknown runtime", func(c *Config) { c.Runtimes = []string{"crun"} }, `invalid -runtimes entry "crun"`},
		{"runtime twice", func(c *Config) { c.Runtimes = []string{rtRunc, rtRunc} }, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.9, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), 0.9, 9 * time.Millisecond},
		{ms(5, 1, 9), 1, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.q); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.ds, tt.q, got, tt.want)
		}
	}
}

// TestBenchSmoke runs the Corral side for a few launches, sequential and
// concurrent, and checks that nothing is left behind.
func TestBenchSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, cgroups and mounts")
	}
	cfg := DefaultConfig()
	if err := checkBusybox(cfg.Busybox); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
	cfg.N, cfg.Concurrent, cfg.Warmup = 3, 3, 0
	cfg.Runtimes = []string{rtCorral}
	cfg.Timeout = 10 * time.Second
	cfg.Dir = t.TempDir()
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), cfg, log, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"| start → running, p50 | ", "| 3 at once: all running (wall) | "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if left, _ := os.ReadDir(cfg.Dir); len(left) > 0 {
		t.Errorf("work directory left behind in %s: %v", cfg.Dir, left)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("cs%d-", os.Getpid())
	for _, m := range mounts {
		if left, _ := filepath.Glob(filepath.Join(m, corralCgroupParent, prefix+"*")); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
}
