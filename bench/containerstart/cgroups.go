package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// corralCgroupParent is the cgroup isolation puts every container under.
const corralCgroupParent = "corral"

// cgroupMounts returns where the host's cgroup hierarchies are mounted: one
// per v1 controller plus /sys/fs/cgroup/unified on a hybrid host, or just
// /sys/fs/cgroup on a v2 host.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("listing cgroup mounts: %w", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 2 && (fields[2] == "cgroup" || fields[2] == "cgroup2") {
			out = append(out, fields[1])
		}
	}
	return out, s.Err()
}

// cgroupExists reports whether cgroup /name exists in any hierarchy.
func cgroupExists(name string) bool {
	mounts, _ := cgroupMounts()
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, name)); err == nil {
			return true
		}
	}
	return false
}

// removeCgroupTree removes cgroup /name and everything beneath it in every
// hierarchy, killing any process still in it.
func removeCgroupTree(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(m, name), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		// WalkDir lists parents before children; remove children first.
		for i := len(dirs) - 1; i >= 0; i-- {
			errs = append(errs, removeCgroup(dirs[i]))
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes one cgroup directory, killing its processes while
// it is busy.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeEmptyCgroup removes cgroup /name from every hierarchy where it has
// no children left; one still in use (by someone else's containers) stays.
func removeEmptyCgroup(name string) {
	mounts, _ := cgroupMounts()
	for _, m := range mounts {
		_ = os.Remove(filepath.Join(m, name)) // EBUSY while in use
	}
}
