package snapshot

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/tstest"
)

// A saver writes the latest value it was given, not every one, and the
// last one when flushed; Load reads it back with when it was saved.
func TestSaverWritesTheLatest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	s := NewSaver[[]string](path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, 20*time.Millisecond) }()
	for i := range 100 {
		s.Set([]string{"/web", strings.Repeat("x", i)})
	}
	tstest.WaitFor(t, 5*time.Second, "the latest value on disk", func() bool {
		v, _, err := Load[[]string](path)
		return err == nil && len(v) == 2 && len(v[1]) == 99
	})
	s.Set([]string{"/last"})
	before := time.Now()
	cancel()
	<-done
	s.Flush() // as a stopping daemon does
	v, saved, err := Load[[]string](path)
	if err != nil || len(v) != 1 || v[0] != "/last" {
		t.Fatalf("after stopping: %v, %v; want the last value written as it stopped", v, err)
	}
	if saved.Before(before.Add(-time.Second)) || saved.After(time.Now()) {
		t.Errorf("saved at %v, want about %v", saved, before)
	}
}

// Load tells a missing file (fs.ErrNotExist), one of another format and a
// damaged one apart, each with an error.
func TestLoadRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load[[]string](filepath.Join(dir, "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	for name, body := range map[string]string{
		"format.json":  `{"format":2,"saved":"2026-12-07T00:00:00Z","data":["/web"]}`,
		"damaged.json": `{"format":1,"data":["/web"`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if v, _, err := Load[[]string](p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, %v; want an error naming the file", name, v, err)
		}
	}
}
