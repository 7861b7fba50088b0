// Package atomicfile writes files that survive a crash whole or not at all:
// readers and a restarted process see the old content or the new, never a
// torn or empty file.
//
// WriteFile writes a temporary file in the destination's directory, fsyncs
// it, renames it over the destination and fsyncs the directory, so that
// the rename itself is durable once WriteFile returns. This is the pattern
// of tailscale's atomicfile, with the directory sync added.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces path by a file holding data, with permissions perm,
// durably: when it returns nil, data is on disk under path. On error path
// is unchanged and no temporary file is left behind.
func WriteFile(path string, data []byte, perm os.FileMode) (retErr error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".*"+TempSuffix)
	if err != nil {
		return fmt.Errorf("creating a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("syncing the directory of %s: %w", path, err)
	}
	return nil
}

// TempSuffix ends the names of WriteFile's temporary files. One left by a
// crash in the middle of a write holds nothing of value and may be removed
// (RemoveTemps).
const TempSuffix = ".tmp"

// RemoveTemps removes the temporary files a crash in WriteFile(path, …)
// may have left behind.
func RemoveTemps(path string) error {
	matches, err := filepath.Glob(globEscape(path) + ".*" + TempSuffix)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SyncDir makes the entries of directory dir (creations, renames,
// removals) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// globEscape quotes the characters filepath.Match treats as special.
func globEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
