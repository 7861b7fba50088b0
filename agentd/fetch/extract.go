package fetch

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

type archiveKind int

const (
	notArchive archiveKind = iota
	tarArchive             // compression detected from the contents, as tar -xf does
	zipArchive
	gzipFile // one compressed file
)

// archiveSuffixes are the names the Mesos fetcher extracts; .gz comes after
// the tar suffixes that end in it.
var archiveSuffixes = []struct {
	suffix string
	kind   archiveKind
}{
	{".tar", tarArchive},
	{".tgz", tarArchive},
	{".tar.gz", tarArchive},
	{".tbz2", tarArchive},
	{".tar.bz2", tarArchive},
	{".txz", tarArchive},
	{".tar.xz", tarArchive},
	{".zip", zipArchive},
	{".gz", gzipFile},
}

func kindOf(name string) archiveKind {
	for _, s := range archiveSuffixes {
		if strings.HasSuffix(name, s.suffix) {
			return s.kind
		}
	}
	return notArchive
}

// errEscapes is the fate of an entry named "../x" or "/x".
var errEscapes = errors.New("path escapes the sandbox")

// extract unpacks the sandbox file name into the sandbox if its name says
// it is an archive, and leaves it there.
func (f *fetcher) extract(ctx context.Context, name string) error {
	kind := kindOf(name)
	if kind == notArchive {
		return nil
	}
	file, err := f.root.Open(name)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	defer file.Close()
	switch kind {
	case tarArchive:
		err = f.untar(ctx, file)
	case zipArchive:
		err = f.unzip(ctx, file)
	case gzipFile:
		err = f.gunzip(ctx, file, strings.TrimSuffix(name, ".gz"))
	}
	// Even a failed extraction may have left symlinks behind.
	if serr := f.removeEscapingLinks(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return nil
}

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
)

func (f *fetcher) untar(ctx context.Context, r io.Reader) error {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(len(xzMagic)) // short only for tiny (broken) archives
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	case bytes.HasPrefix(magic, bzip2Magic):
		src = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, xzMagic):
		return errors.New("xz compression is not supported (Go's standard library has no xz decoder); use gzip or bzip2, or set extract to false")
	}
	tr := tar.NewReader(withContext(ctx, src))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		// With GODEBUG=tarinsecurepath=0 Next reports "../x" as
		// ErrInsecurePath; tarEntry rejects it with the entry's name.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := f.tarEntry(hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

func (f *fetcher) tarEntry(hdr *tar.Header, r io.Reader) error {
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	mode := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		return f.mkdir(name, mode)
	case tar.TypeReg:
		return f.writeFile(name, mode, r)
	case tar.TypeSymlink:
		return f.symlink(name, hdr.Linkname)
	case tar.TypeLink:
		return f.hardLink(name, hdr.Linkname)
	}
	// Devices, FIFOs and the like have no business in a sandbox.
	return nil
}

func (f *fetcher) unzip(ctx context.Context, file *os.File) error {
	st, err := file.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(file, st.Size())
	// With GODEBUG=zipinsecurepath=0 a "../x" entry gives ErrInsecurePath
	// and a usable reader; zipEntry rejects it with the entry's name.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("reading zip: %w", err)
	}
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.zipEntry(ctx, zf); err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
	}
	return nil
}

func (f *fetcher) zipEntry(ctx context.Context, zf *zip.File) error {
	// Zips made on Windows may separate with backslashes; unzip reads
	// them as slashes, and so must the escape check.
	name, err := entryName(strings.ReplaceAll(zf.Name, `\`, "/"))
	if err != nil {
		return err
	}
	mode := zf.Mode()
	switch {
	case mode.IsDir():
		return f.mkdir(name, mode.Perm())
	case mode&fs.ModeSymlink != 0:
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		target, err := io.ReadAll(io.LimitReader(rc, 4096))
		if err != nil {
			return err
		}
		return f.symlink(name, string(target))
	case mode.IsRegular():
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		return f.writeFile(name, mode.Perm(), withContext(ctx, rc))
	}
	return nil
}

func (f *fetcher) gunzip(ctx context.Context, r io.Reader, name string) error {
	if name == "" {
		return errors.New("no file name left after removing .gz")
	}
	zr, err := gzip.NewReader(withContext(ctx, r))
	if err != nil {
		return fmt.Errorf("reading gzip: %w", err)
	}
	defer zr.Close()
	if err := f.writeFile(name, 0o644, zr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// entryName returns the cleaned sandbox-relative path of an archive entry
// or errEscapes.
func entryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if path.IsAbs(name) || !filepath.IsLocal(name) {
		return "", errEscapes
	}
	return path.Clean(name), nil
}

// prepare makes the parent directories of name and removes whatever name
// is now, as tar does before extracting a file over it.
func (f *fetcher) prepare(name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := f.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := f.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (f *fetcher) mkdir(name string, perm fs.FileMode) error {
	if err := f.root.MkdirAll(name, 0o755); err != nil {
		return err
	}
	if name == "." {
		return nil // the sandbox's mode is the agent's business
	}
	// The owner keeps write access so later entries can land inside.
	return f.root.Chmod(name, perm|0o700)
}

// writeFile writes r to name with permissions perm; set-id and sticky bits
// are dropped, and an entry without permissions gets 0644.
func (f *fetcher) writeFile(name string, perm fs.FileMode, r io.Reader) error {
	if perm == 0 {
		perm = 0o644
	}
	if err := f.prepare(name); err != nil {
		return err
	}
	out, err := f.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f.budget.writer(out), r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return f.root.Chmod(name, perm) // exactly perm, whatever the umask
}

func (f *fetcher) symlink(name, target string) error {
	if target == "" {
		return errors.New("symlink with an empty target")
	}
	if path.IsAbs(target) || !filepath.IsLocal(path.Join(path.Dir(name), target)) {
		return fmt.Errorf("symlink to %q points outside the sandbox", target)
	}
	if err := f.prepare(name); err != nil {
		return err
	}
	return f.root.Symlink(target, name)
}

func (f *fetcher) hardLink(name, target string) error {
	old, err := entryName(target)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", target, err)
	}
	if err := f.prepare(name); err != nil {
		return err
	}
	return f.root.Link(old, name)
}

// removeEscapingLinks removes every symlink in the sandbox that resolves to
// a place outside it and reports the first. os.Root keeps extraction itself
// inside the sandbox, but the task and the agent may later follow links the
// ordinary way, and the check in symlink, made one link at a time, misses
// chains: with "a" → "." in place, "a/b" → ".." passes it yet lands at
// "b" → "..", the sandbox's parent.
func (f *fetcher) removeEscapingLinks() error {
	var bad []string
	err := fs.WalkDir(f.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		inside, err := f.resolvesInside(p)
		if err != nil {
			return err
		}
		if !inside {
			bad = append(bad, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking symlinks: %w", err)
	}
	for _, p := range bad {
		if err := f.root.Remove(p); err != nil {
			return fmt.Errorf("removing symlink %q, which points outside the sandbox: %w", p, err)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("symlink %q resolves to a path outside the sandbox", bad[0])
	}
	return nil
}

// maxHops is the kernel's limit on symlinks followed in one lookup.
const maxHops = 40

// resolvesInside reports whether the symlink link, followed as the kernel
// would follow it through the sandbox as it now is, stays inside. Parts of
// the path that do not exist are taken literally.
func (f *fetcher) resolvesInside(link string) (bool, error) {
	target, err := f.root.Readlink(link)
	if err != nil {
		return false, err
	}
	if path.IsAbs(target) {
		return false, nil
	}
	var cur []string // the path resolved so far, free of symlinks
	todo := append(strings.Split(path.Dir(link), "/"), strings.Split(target, "/")...)
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return false, nil
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		p := strings.Join(cur, "/")
		fi, err := f.root.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if hops++; hops > maxHops {
			return true, nil // a loop: the kernel gives up with ELOOP
		}
		t, err := f.root.Readlink(p)
		if err != nil {
			return false, err
		}
		if path.IsAbs(t) {
			return false, nil
		}
		cur = cur[:len(cur)-1]
		todo = append(strings.Split(t, "/"), todo...)
	}
	return true, nil
}
