package shim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRotatingFileCapsAndRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stdout")
	r, err := openRotating(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"0123456", "789abcdefghij", "klmnopqrstuvwxyz"} {
		if n, err := r.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	r.Close()
	// 36 bytes in files of 10: the newest 6 in stdout, 10 in .1 and .2; the
	// oldest 10 were dropped.
	for name, want := range map[string]string{"stdout": "uvwxyz", "stdout.1": "klmnopqrst", "stdout.2": "abcdefghij"} {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stdout.3")); err == nil {
		t.Error("stdout.3 exists, want at most 2 rotated files")
	}
}
