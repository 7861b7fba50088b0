// Package snapshot keeps routerd's last good view of the cluster on disk:
// Marathon's apps, which its routes are built from, and the masters'
// state, which its DNS records are built from. A routerd that starts while
// the masters are away (a node rebooted during a master failover, an
// upgrade of routerd while Marathon restarts) then routes and answers on
// what it last saw, as HAProxy under marathon-lb does from its last
// configuration file, instead of refusing every service port and name
// until the masters are back.
//
// A Saver takes each new view on the hot path as a pointer only; a loop
// writes the latest one at most once an interval, atomically (atomicfile),
// so a storm of changes costs one write a second.
package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"corral/atomicfile"
)

// format names the layout of the files; a file of another is ignored.
const format = 1

// file is what a snapshot file holds.
type file[T any] struct {
	Format int       `json:"format"`
	Saved  time.Time `json:"saved"` // when the view was taken
	Data   T         `json:"data"`
}

// Saver writes the latest value it was given to one file.
type Saver[T any] struct {
	path    string
	log     *slog.Logger
	latest  atomic.Pointer[view[T]]
	written *view[T] // by Run's goroutine, then by Flush
}

// view is a value and when it was taken.
type view[T any] struct {
	v  T
	at time.Time
}

// NewSaver returns a Saver of path, and removes what a crash in the middle
// of an earlier write left beside it.
func NewSaver[T any](path string, log *slog.Logger) *Saver[T] {
	if err := atomicfile.RemoveTemps(path); err != nil {
		log.Warn("removing the temporary files of an interrupted save", "file", path, "err", err)
	}
	return &Saver[T]{path: path, log: log}
}

// Set makes v, taken now, the value to write next. The caller must not
// change v afterwards.
func (s *Saver[T]) Set(v T) { s.latest.Store(&view[T]{v: v, at: time.Now()}) }

// Run writes each new value within every, until ctx ends.
func (s *Saver[T]) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Flush()
		}
	}
}

// Flush writes the latest value if it is not on disk yet. Run calls it;
// a stopping daemon calls it once Run has returned and nothing calls Set
// any more, so that its last value is kept.
func (s *Saver[T]) Flush() {
	v := s.latest.Load()
	if v == nil || v == s.written {
		return
	}
	if err := s.write(v); err != nil {
		s.log.Warn("saving the last good view failed; a restart without the masters will start empty", "file", s.path, "err", err)
		return
	}
	s.written = v
}

func (s *Saver[T]) write(v *view[T]) error {
	b, err := json.Marshal(file[T]{Format: format, Saved: v.at.UTC(), Data: v.v})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path, b, 0o600)
}

// Load reads the value saved in path and when it was taken. A missing
// file is os.ErrNotExist; one of another format, or damaged, an error
// that says so.
func Load[T any](path string) (v T, saved time.Time, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return v, saved, err
	}
	var f file[T]
	if err := json.Unmarshal(b, &f); err != nil {
		return v, saved, fmt.Errorf("reading %s: %w", path, err)
	}
	if f.Format != format {
		return v, saved, fmt.Errorf("%s is of format %d, want %d", path, f.Format, format)
	}
	return f.Data, f.Saved, nil
}
