package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// pull downloads img (manifest digest h) and unpacks it into its image
// directory, which appears only once complete.
func (s *Store) pull(ctx context.Context, ref string, h v1.Hash, img v1.Image) (retErr error) {
	start := time.Now()
	s.log.Info("pulling image", "ref", ref, "digest", h.String())
	tmp, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "tmp"), dirName(h)+"-")
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			if err := os.RemoveAll(tmp); err != nil {
				s.log.Warn("cannot remove unfinished image", "dir", tmp, "err", err)
			}
		}
	}()

	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("pulling %s: reading image config: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("pulling %s: listing layers: %w", ref, err)
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	// Whatever the umask: the container's users walk "/"; a layer may
	// still set its mode with a "./" entry.
	if err := os.Chmod(rootfs, 0o755); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer root.Close()
	u := newUnpacker(root, s.chown)
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pulling %s: %w", ref, err)
		}
		if err := applyRemoteLayer(u, l); err != nil {
			d, _ := l.Digest()
			return fmt.Errorf("unpacking %s layer %d of %d (%s): %w", ref, i+1, len(layers), d, err)
		}
	}
	if err := u.finish(); err != nil {
		return fmt.Errorf("unpacking %s: %w", ref, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), config, 0o644); err != nil {
		return fmt.Errorf("pulling %s: writing image config: %w", ref, err)
	}

	// Everything reaches the disk before the rename makes it look complete.
	if err := syncFS(tmp); err != nil {
		return fmt.Errorf("pulling %s: syncing: %w", ref, err)
	}
	final := filepath.Join(s.cfg.Dir, dirName(h))
	if err := os.Rename(tmp, final); err != nil {
		if s.complete(h) { // another agent process sharing the directory won
			return nil
		}
		return fmt.Errorf("pulling %s: moving image into place: %w", ref, err)
	}
	renamed = true
	if err := syncFS(s.cfg.Dir); err != nil {
		return fmt.Errorf("pulling %s: syncing: %w", ref, err)
	}
	s.log.Info("image unpacked", "ref", ref, "digest", h.String(), "layers", len(layers),
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// applyRemoteLayer streams one layer through u. Reading the stream to its end
// is what makes go-containerregistry check the layer's digest, and a tar
// reader stops at the end-of-archive marker before that.
func applyRemoteLayer(u *unpacker, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	err = u.apply(rc)
	if err == nil {
		if _, err = io.Copy(io.Discard, rc); err != nil {
			err = fmt.Errorf("reading layer: %w", err)
		}
	}
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("reading layer: %w", cerr)
	}
	return err
}

// syncFS flushes the file system holding dir, which is one system call
// however many files an image has.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
