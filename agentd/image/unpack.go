package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
	maxSymlinks    = 40 // as the kernel's ELOOP limit
)

// errEscapes is the fate of an entry that would land outside the root.
var errEscapes = errors.New("leads outside the image root")

// unpacker applies image layers, in order, to a root file system: later
// layers replace earlier entries and whiteouts remove them, the way overlay
// stacking shows them to a container.
//
// Every path is resolved inside root as the container will see it: symbolic
// links are followed with absolute targets taken from the image root, and a
// path that climbs out of the root is an error naming the tar entry. The
// resolved parent directory is opened through os.Root, which the kernel keeps
// beneath the root, and the entry is made relative to that directory's file
// descriptor without following a final symlink.
type unpacker struct {
	root  *os.Root
	chown bool // apply uid/gid and device nodes; needs root
	buf   []byte

	dirTimes map[string]time.Time // applied at the end: children change them

	// The current layer's own entries, which its whiteouts leave alone.
	written map[string]bool // resolved paths of the layer's entries
	parents map[string]bool // their ancestors
}

func newUnpacker(root *os.Root, chown bool) *unpacker {
	return &unpacker{
		root:     root,
		chown:    chown,
		buf:      make([]byte, 1<<20),
		dirTimes: make(map[string]time.Time),
	}
}

// apply unpacks one layer, an uncompressed tar stream.
func (u *unpacker) apply(r io.Reader) error {
	u.written = make(map[string]bool)
	u.parents = make(map[string]bool)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
}

// finish sets directory times, which writing into a directory changes.
func (u *unpacker) finish() error {
	for p, mtime := range u.dirTimes {
		fi, err := u.root.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue // removed or replaced by a later layer
		}
		if err := u.root.Chtimes(p, mtime, mtime); err != nil {
			return fmt.Errorf("setting times of %q: %w", p, err)
		}
	}
	return nil
}

// cleanName makes a tar entry name relative to the root: "/etc" is "etc",
// as tar extracts it, and "" is the root itself.
func cleanName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	switch {
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", errEscapes
	case c == ".":
		return "", nil
	}
	return c, nil
}

func (u *unpacker) entry(hdr *tar.Header, body io.Reader) error {
	p, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if p == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the image root must be a directory")
		}
		return u.meta(hdr, ".")
	}
	dir, base := path.Split(p)

	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(dir, base)
	}

	pdir, err := u.resolve(dir)
	if err != nil {
		return err
	}
	if err := u.mkdirAll(pdir); err != nil {
		return fmt.Errorf("creating parent directory: %w", err)
	}
	full := path.Join(pdir, base)
	parent, err := u.root.Open(pdir)
	if err != nil {
		return fmt.Errorf("opening parent directory: %w", err)
	}
	defer parent.Close()
	fd := int(parent.Fd())

	// Replace what lower layers put there, except that a directory over a
	// directory keeps the contents.
	var st unix.Stat_t
	isDir := false
	switch err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		isDir = true
		if hdr.Typeflag != tar.TypeDir {
			if err := u.root.RemoveAll(full); err != nil {
				return fmt.Errorf("replacing directory: %w", err)
			}
			isDir = false
		}
	case err == nil:
		if err := unix.Unlinkat(fd, base, 0); err != nil {
			return fmt.Errorf("replacing file: %w", err)
		}
	case !errors.Is(err, unix.ENOENT):
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if !isDir {
			if err := unix.Mkdirat(fd, base, 0o700); err != nil {
				return fmt.Errorf("creating directory: %w", err)
			}
		}
		if err := u.meta(hdr, full); err != nil {
			return err
		}
		u.dirTimes[full] = hdr.ModTime
	case tar.TypeReg:
		if err := u.file(fd, base, full, hdr, body); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, fd, base); err != nil {
			return fmt.Errorf("creating symlink: %w", err)
		}
		if u.chown {
			if err := unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("setting owner: %w", err)
			}
		}
		if err := setTimes(fd, base, hdr); err != nil {
			return err
		}
	case tar.TypeLink:
		if err := u.link(fd, base, hdr.Linkname); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Typeflag != tar.TypeFifo && !u.chown {
			return nil // only root makes device nodes; the container's /dev is its own anyway
		}
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(fd, base, mode, int(dev)); err != nil {
			return fmt.Errorf("creating device node: %w", err)
		}
		if err := u.meta(hdr, full); err != nil {
			return err
		}
		if err := setTimes(fd, base, hdr); err != nil {
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	u.mark(full)
	return nil
}

// file writes a regular file, then its owner before its mode, since chown
// clears the set-user-ID bit.
func (u *unpacker) file(dirfd int, base, full string, hdr *tar.Header, body io.Reader) error {
	fd, err := unix.Openat(dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	if _, err := io.CopyBuffer(f, body, u.buf); err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		err := unix.Fsetxattr(fd, attr, []byte(v), 0)
		if err != nil && u.chown && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting extended attribute %s: %w", attr, err)
		}
	}
	if u.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("setting owner: %w", err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	return setTimes(dirfd, base, hdr)
}

// link makes base in dirfd a hard link to target, a path from the image root.
func (u *unpacker) link(dirfd int, base, target string) error {
	t, err := cleanName(target)
	if err != nil {
		return fmt.Errorf("hard link target %q %w", target, errEscapes)
	}
	if t == "" {
		return errors.New("hard link to the image root")
	}
	tdir, tbase := path.Split(t)
	rdir, err := u.resolve(tdir)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", target, err)
	}
	d, err := u.root.Open(rdir)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", target, err)
	}
	defer d.Close()
	if err := unix.Linkat(int(d.Fd()), tbase, dirfd, base, 0); err != nil {
		return fmt.Errorf("linking to %q: %w", target, err)
	}
	return nil
}

// mkdirAll creates the resolved directory p and its missing parents with
// mode 0755 whatever the umask, as tar does for parents a layer leaves out.
func (u *unpacker) mkdirAll(p string) error {
	if p == "." {
		return nil
	}
	fi, err := u.root.Lstat(p)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%q is not a directory", p)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := u.mkdirAll(path.Dir(p)); err != nil {
		return err
	}
	if err := u.root.Mkdir(p, 0o755); err != nil {
		return err
	}
	return u.root.Chmod(p, 0o755)
}

// meta sets the owner and mode of the resolved path p, which is not a
// symlink.
func (u *unpacker) meta(hdr *tar.Header, p string) error {
	if u.chown {
		if err := u.root.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("setting owner: %w", err)
		}
	}
	if err := u.root.Chmod(p, fileMode(hdr.Mode)); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	return nil
}

// fileMode converts tar mode bits, including set-ID and sticky bits.
func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

func setTimes(dirfd int, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// whiteout removes from lower layers what ".wh.<name>" in dir names, or for
// ".wh..wh..opq" everything in dir.
func (u *unpacker) whiteout(dir, base string) error {
	pdir, err := u.resolve(dir)
	if err != nil {
		return err
	}
	switch {
	case base == opaqueWhiteout:
		return u.opaque(pdir)
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		return nil // other aufs metadata
	}
	target := path.Join(pdir, strings.TrimPrefix(base, whiteoutPrefix))
	if u.written[target] {
		return nil
	}
	if err := u.root.RemoveAll(target); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("removing %q: %w", target, err)
	}
	return nil
}

// opaque removes everything in dir that the current layer did not write.
func (u *unpacker) opaque(dir string) error {
	d, err := u.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("reading %q: %w", dir, err)
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if !u.written[p] && !u.parents[p] {
			if err := u.root.RemoveAll(p); err != nil {
				return fmt.Errorf("removing %q: %w", p, err)
			}
			continue
		}
		if e.IsDir() {
			if err := u.opaque(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// mark records that the current layer wrote p.
func (u *unpacker) mark(p string) {
	u.written[p] = true
	for d := path.Dir(p); d != "." && !u.parents[d]; d = path.Dir(d) {
		u.parents[d] = true
	}
}

// resolve follows the symlinks in dir, a clean path relative to the root,
// the way the container will: absolute targets start again from the image
// root, and climbing above the root is an error. The result is relative to
// the root, "." for the root itself; its existing components are not
// symlinks, and missing ones are left for the caller to create.
func (u *unpacker) resolve(dir string) (string, error) {
	todo := strings.Split(strings.Trim(dir, "/"), "/")
	cur := "" // resolved so far; "" is the root
	via := "" // the last symlink followed, for errors
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				if via == "" {
					return "", errEscapes
				}
				return "", fmt.Errorf("symlink %q %w", via, errEscapes)
			}
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, c)
		fi, err := u.root.Lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				cur = next // to be created, or a clear error then
				continue
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("too many levels of symlinks at %q", next)
		}
		target, err := u.root.Readlink(next)
		if err != nil {
			return "", err
		}
		via = next
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if cur == "" {
		return ".", nil
	}
	return cur, nil
}
