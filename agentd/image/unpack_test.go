package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarEntry is one entry of a test layer.
type tarEntry struct {
	hdr  tar.Header
	body string
}

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func file(name, body string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}, body: body}
}

func dir(name string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: epoch}}
}

func owned(e tarEntry, uid, gid int) tarEntry {
	e.hdr.Uid, e.hdr.Gid = uid, gid
	return e
}

// layerTar writes entries as an uncompressed tar stream.
func layerTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := w.WriteHeader(&hdr); err != nil {
			t.Fatalf("writing tar header %q: %v", hdr.Name, err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatalf("writing tar body %q: %v", hdr.Name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unpackLayers applies layers to rootfs in order.
func unpackLayers(rootfs string, layers ...[]byte) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	u := newUnpacker(root, os.Geteuid() == 0)
	for _, l := range layers {
		if err := u.apply(bytes.NewReader(l)); err != nil {
			return err
		}
	}
	return u.finish()
}

// describe says what is at p: "absent", "dir", "file:<body>" or "link:<target>".
func describe(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "absent"
	case err != nil:
		t.Fatal(err)
	case fi.IsDir():
		return "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		return "link:" + target
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return "file:" + string(b)
}

func TestUnpackLayers(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]tarEntry
		want   map[string]string
	}{{
		name: "whiteout removes a lower file",
		layers: [][]tarEntry{
			{dir("etc/", 0o755), file("etc/gone", "x", 0o644), file("etc/kept", "k", 0o644)},
			{file("etc/.wh.gone", "", 0o644)},
		},
		want: map[string]string{"etc/gone": "absent", "etc/kept": "file:k", "etc/.wh.gone": "absent"},
	}, {
		name: "whiteout removes a lower directory tree",
		layers: [][]tarEntry{
			{dir("a/", 0o755), dir("a/b/", 0o755), file("a/b/c", "c", 0o644)},
			{file("a/.wh.b", "", 0o644)},
		},
		want: map[string]string{"a": "dir", "a/b": "absent"},
	}, {
		name: "whiteout of something never there",
		layers: [][]tarEntry{
			{file("nothere/.wh.x", "", 0o644), file(".wh.y", "", 0o644)},
		},
		want: map[string]string{"nothere": "absent", "y": "absent"},
	}, {
		name: "opaque directory hides lower entries and keeps its own layer's",
		layers: [][]tarEntry{
			{dir("d/", 0o755), file("d/old", "o", 0o644), dir("d/sub/", 0o755), file("d/sub/old", "o", 0o644), file("other", "x", 0o644)},
			{dir("d/", 0o755), file("d/before", "b", 0o644), dir("d/sub/", 0o755), file("d/sub/new", "n", 0o644),
				file("d/.wh..wh..opq", "", 0o644), file("d/after", "a", 0o644)},
		},
		want: map[string]string{
			"d/old": "absent", "d/sub/old": "absent", "d/before": "file:b", "d/sub/new": "file:n",
			"d/after": "file:a", "other": "file:x", "d/.wh..wh..opq": "absent",
		},
	}, {
		name: "file replaces a directory and a directory replaces a file",
		layers: [][]tarEntry{
			{dir("x/", 0o755), file("x/in", "i", 0o644), file("y", "y", 0o644)},
			{file("x", "now a file", 0o644), dir("y/", 0o755), file("y/in", "j", 0o644)},
		},
		want: map[string]string{"x": "file:now a file", "y/in": "file:j"},
	}, {
		name: "upper file replaces a lower symlink instead of writing through it",
		layers: [][]tarEntry{
			{file("target", "t", 0o644), symlink("l", "target")},
			{file("l", "mine", 0o644)},
		},
		want: map[string]string{"target": "file:t", "l": "file:mine"},
	}, {
		name: "absolute symlinks in a parent resolve inside the image",
		layers: [][]tarEntry{
			{dir("usr/", 0o755), dir("usr/lib/", 0o755), symlink("lib", "/usr/lib"), symlink("up", "../../../..")},
			{file("lib/x", "via abs", 0o644), file("/abs-name", "a", 0o644)},
		},
		want: map[string]string{"usr/lib/x": "file:via abs", "lib": "link:/usr/lib", "abs-name": "file:a", "up": "link:../../../.."},
	}, {
		name: "relative symlinks in a parent",
		layers: [][]tarEntry{
			{dir("usr/", 0o755), dir("usr/bin/", 0o755), symlink("bin", "usr/bin"), file("bin/sh", "sh", 0o755)},
		},
		want: map[string]string{"usr/bin/sh": "file:sh", "bin": "link:usr/bin"},
	}, {
		name: "hard link to a lower layer's file",
		layers: [][]tarEntry{
			{file("a", "shared", 0o644)},
			{hardlink("b", "a"), hardlink("c", "/a")},
		},
		want: map[string]string{"a": "file:shared", "b": "file:shared", "c": "file:shared"},
	}, {
		name: "missing parents are created",
		layers: [][]tarEntry{
			{file("deep/er/f", "f", 0o644)},
		},
		want: map[string]string{"deep/er/f": "file:f"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			var layers [][]byte
			for _, l := range tt.layers {
				layers = append(layers, layerTar(t, l...))
			}
			if err := unpackLayers(rootfs, layers...); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			for p, want := range tt.want {
				if got := describe(t, filepath.Join(rootfs, p)); got != want {
					t.Errorf("%s is %s, want %s", p, got, want)
				}
			}
		})
	}
}

func TestUnpackMetadata(t *testing.T) {
	rootfs := t.TempDir()
	l := layerTar(t,
		owned(dir("./", 0o755), 0, 0),
		owned(dir("srv/", 0o1777), 1000, 1000),
		owned(file("bin/su", "su", 0o4755), 0, 0),
		owned(file("home/u/f", "f", 0o640), 1000, 2000),
		owned(symlink("home/u/l", "f"), 1000, 2000),
		hardlink("home/u/h", "home/u/f"),
		file("opt/app/run", "r", 0o755), // no entries for the parents
	)
	old := syscall.Umask(0o077) // no test runs in parallel with this one
	err := unpackLayers(rootfs, l)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		path string
		want fs.FileMode
	}{
		{"srv", fs.ModeDir | fs.ModeSticky | 0o777},
		{"bin/su", fs.ModeSetuid | 0o755},
		{"home/u/f", 0o640},
		{"opt/app/run", 0o755},
	}
	for _, m := range modes {
		fi, err := os.Lstat(filepath.Join(rootfs, m.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != m.want {
			t.Errorf("mode of %s = %v, want %v", m.path, fi.Mode(), m.want)
		}
		if !fi.ModTime().Equal(epoch) {
			t.Errorf("mtime of %s = %v, want %v", m.path, fi.ModTime(), epoch)
		}
	}
	for _, p := range []string{"opt", "opt/app"} {
		fi, err := os.Stat(filepath.Join(rootfs, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != fs.ModeDir|0o755 {
			t.Errorf("mode of implicit parent %s = %v, want %v", p, fi.Mode(), fs.ModeDir|0o755)
		}
	}
	f, _ := os.Stat(filepath.Join(rootfs, "home/u/f"))
	h, _ := os.Stat(filepath.Join(rootfs, "home/u/h"))
	if !os.SameFile(f, h) {
		t.Errorf("home/u/h is not a hard link of home/u/f")
	}
	if os.Geteuid() != 0 {
		t.Log("not root: ownership not checked")
		return
	}
	owners := []struct {
		path     string
		uid, gid uint32
	}{
		{"srv", 1000, 1000},
		{"home/u/f", 1000, 2000},
		{"home/u/l", 1000, 2000},
		{"bin/su", 0, 0},
	}
	for _, o := range owners {
		fi, err := os.Lstat(filepath.Join(rootfs, o.path))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != o.uid || st.Gid != o.gid {
			t.Errorf("owner of %s = %d:%d, want %d:%d", o.path, st.Uid, st.Gid, o.uid, o.gid)
		}
	}
}

func TestUnpackRejectsEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		wantErr string // the entry the error must name
	}{
		{"dot-dot name", []tarEntry{file("../escape", "x", 0o644)}, `"../escape"`},
		{"dot-dot inside name", []tarEntry{file("a/../../escape", "x", 0o644)}, `"a/../../escape"`},
		{"absolute dot-dot name", []tarEntry{file("/../escape", "x", 0o644)}, `"/../escape"`},
		{"write through escaping symlink", []tarEntry{symlink("up", "../../.."), file("up/escape", "x", 0o644)}, `"up/escape"`},
		{"write through chained symlinks", []tarEntry{symlink("a", "b/.."), symlink("b", "."), symlink("c", "a/../x"), file("c/escape", "x", 0o644)}, `"c/escape"`},
		{"directory through escaping symlink", []tarEntry{symlink("up", ".."), dir("up/escape/", 0o755)}, `"up/escape/"`},
		{"symlink through escaping symlink", []tarEntry{symlink("up", ".."), symlink("up/escape", "/etc")}, `"up/escape"`},
		{"hard link to outside", []tarEntry{hardlink("h", "../secret")}, `"h"`},
		{"hard link through escaping symlink", []tarEntry{symlink("up", ".."), hardlink("h", "up/secret")}, `"h"`},
		{"whiteout through escaping symlink", []tarEntry{symlink("up", ".."), file("up/.wh.secret", "", 0o644)}, `"up/.wh.secret"`},
		{"opaque through escaping symlink", []tarEntry{symlink("up", ".."), file("up/.wh..wh..opq", "", 0o644)}, `"up/.wh..wh..opq"`},
		{"symlink loop", []tarEntry{symlink("a", "b"), symlink("b", "a"), file("a/x", "x", 0o644)}, `"a/x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			rootfs := filepath.Join(base, "rootfs")
			if err := os.Mkdir(rootfs, 0o755); err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(base, "secret")
			if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := unpackLayers(rootfs, layerTar(t, tt.entries...))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("unpack = %v, want an error naming %s", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			entries, err := os.ReadDir(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "rootfs" && e.Name() != "secret" {
					t.Errorf("%s written outside the root", e.Name())
				}
			}
			if got := describe(t, secret); got != "file:s" {
				t.Errorf("secret outside the root is %s, want file:s", got)
			}
		})
	}
}
