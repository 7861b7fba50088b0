package task

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Completed tasks' directories (sandbox, run files) are removed once they
// are older than the delay the disk allows, as the Mesos agent garbage
// collects its executors' sandboxes: a directory may stay for GCDelay
// scaled by the share of the disk that is free beyond GCDiskHeadroom,
// checked every DiskWatchInterval (Mesos's --gc_delay, --gc_disk_headroom,
// --disk_watch_interval). A directory's age is that of its completedFile,
// written when the task's final update was acknowledged.

// gcMaxAge is how old a completed task's directory may get with the work
// directory's file system usage (0 to 1) full: Mesos's
// gc_delay * max(0, 1 - gc_disk_headroom - usage).
func gcMaxAge(delay time.Duration, headroom, usage float64) time.Duration {
	return time.Duration(float64(delay) * max(0, 1-headroom-usage))
}

// diskUsage is the used share of the file system holding dir.
func diskUsage(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}

// RunGC removes the directories of completed tasks as they age, until ctx
// ends; it does nothing when GCDelay is 0.
func (m *Manager) RunGC(ctx context.Context) {
	if m.cfg.GCDelay <= 0 {
		return
	}
	tick := time.NewTicker(m.cfg.DiskWatchInterval)
	defer tick.Stop()
	for {
		usage, err := diskUsage(m.cfg.WorkDir)
		if err != nil {
			m.log.Warn("reading the work directory's disk usage; collecting by age alone", "err", err)
		}
		m.collect(time.Now(), gcMaxAge(m.cfg.GCDelay, m.cfg.GCDiskHeadroom, usage), usage)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// collect removes the directories of completed tasks retired more than
// maxAge before now, and forgets them. Those of live tasks (with taskFile)
// are never touched.
func (m *Manager) collect(now time.Time, maxAge time.Duration, usage float64) {
	m.emptyTrash() // what a crash left there, which could block a rename
	defer m.emptyTrash()
	entries, err := os.ReadDir(m.tasksDir())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("listing task directories for garbage collection", "err", err)
		}
		return
	}
	removed := map[string]bool{}
	for _, e := range entries {
		dir := filepath.Join(m.tasksDir(), e.Name())
		done, err := os.Stat(filepath.Join(dir, completedFile))
		if err != nil || now.Sub(done.ModTime()) < maxAge {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, taskFile)); err == nil {
			continue // being retired, or recovered as live again
		}
		releaseRoot(&Task{dir: dir}) // an image task's overlay, if a crash left it mounted
		// Out of tasks/ in one step, then removed: a crash half way leaves
		// a part in the trash, which the next pass empties, not a task
		// directory without its completedFile.
		if err := os.MkdirAll(m.trashDir(), 0o700); err != nil {
			m.log.Warn("creating the garbage collector's trash", "err", err)
			return
		}
		if err := os.Rename(dir, filepath.Join(m.trashDir(), e.Name())); err != nil {
			m.log.Warn("removing a completed task's directory", "dir", dir, "err", err)
			continue
		}
		removed[dir] = true
		m.log.Info("removed a completed task's sandbox", "dir", dir,
			"age", now.Sub(done.ModTime()).Round(time.Second), "max_age", maxAge.Round(time.Second), "disk_usage", usage)
	}
	if len(removed) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for fw, l := range m.completed {
		keep := l[:0]
		for _, c := range l {
			if !removed[c.task.dir] {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			delete(m.completed, fw)
		} else {
			m.completed[fw] = keep
		}
	}
}

// trashDir holds task directories being removed.
func (m *Manager) trashDir() string { return filepath.Join(m.cfg.WorkDir, "gc") }

// emptyTrash removes what collect moved to the trash, this time or before
// a crash.
func (m *Manager) emptyTrash() {
	entries, _ := os.ReadDir(m.trashDir())
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(m.trashDir(), e.Name())); err != nil {
			m.log.Warn("removing a collected task directory", "dir", e.Name(), "err", err)
		}
	}
}
