package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"corral/agentd/image"
	"corral/mesos"
)

// imageRoot pulls the task's image (once per digest, shared by its tasks)
// and gives the task a writable view of it: an overlay whose lower layer is
// the shared, untouched image and whose upper layer lives in the task's
// directory.
func (m *Manager) imageRoot(ctx context.Context, t *Task) (rootfs string, cfg image.ImageConfig, err error) {
	if m.cfg.Images == nil {
		return "", cfg, errors.New("this agent has no image store")
	}
	ref := t.Info.Container.Image
	lower, digest, err := m.cfg.Images.Get(ctx, ref)
	if err != nil {
		return "", cfg, err
	}
	if cfg, err = m.cfg.Images.ImageConfig(digest); err != nil {
		return "", cfg, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	root := filepath.Join(t.dir, "rootfs")
	upper, work := filepath.Join(t.dir, "rootfs-upper"), filepath.Join(t.dir, "rootfs-work")
	for _, d := range []string{root, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", cfg, err
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return "", cfg, fmt.Errorf("mounting the root file system of %s: %w", ref, err)
	}
	return root, cfg, nil
}

// releaseRoot unmounts an image task's root file system, if it has one.
func releaseRoot(t *Task) {
	root := filepath.Join(t.dir, "rootfs")
	if err := unix.Unmount(root, unix.MNT_DETACH); err == nil {
		os.RemoveAll(filepath.Join(t.dir, "rootfs-work"))
	}
}

// imageArgv decides what an image task runs, as Mesos does for container
// images: a shell command runs under the image's /bin/sh; otherwise the
// image's entrypoint runs with the task's arguments, or with the image's
// cmd when the task gives none.
func imageArgv(c *mesos.CommandInfo, cfg image.ImageConfig) ([]string, error) {
	if c != nil && (c.Shell == nil || *c.Shell) && c.Value != "" {
		return []string{"/bin/sh", "-c", c.Value}, nil
	}
	if c != nil && c.Value != "" && len(cfg.Entrypoint) == 0 {
		return Argv(c), nil
	}
	argv := append([]string(nil), cfg.Entrypoint...)
	switch {
	case c != nil && len(c.Arguments) > 0:
		argv = append(argv, c.Arguments...)
	default:
		argv = append(argv, cfg.Cmd...)
	}
	if len(argv) == 0 {
		return nil, errors.New("the task has no command and its image no entrypoint or cmd")
	}
	return argv, nil
}

// mergeEnv puts the image's environment under the task's: the task wins.
func mergeEnv(imageEnv, taskEnv []string) []string {
	seen := map[string]bool{}
	for _, kv := range taskEnv {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = true
	}
	out := make([]string, 0, len(imageEnv)+len(taskEnv))
	for _, kv := range imageEnv {
		if k, _, _ := strings.Cut(kv, "="); !seen[k] {
			out = append(out, kv)
		}
	}
	return append(out, taskEnv...)
}
