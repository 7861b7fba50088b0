package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// newNetNS creates a network namespace and pins it with a bind mount at
// path, as `ip netns add` does, so that the container joins it by path and
// it outlives both the task's processes and agentd.
func newNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating the namespace's mount point: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// unshare moves this thread into the new namespace for good: it
		// stays locked, so the runtime ends it with this goroutine rather
		// than hand it to other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("pinning the namespace at %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// removeNetNS unpins a namespace made by newNetNS; the kernel frees it, and
// the links in it, once no process is left in it. Unlinking the mount point
// also detaches copies of the pin in other mount namespaces (containers
// started while it existed). A missing pin is not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// isNetNS reports whether path is a pinned network namespace.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// inNetNS runs f on a fresh OS thread inside the namespace ns and throws the
// thread away afterwards, so no other goroutine ever runs in a foreign
// namespace. Processes f starts are born in ns; sockets it opens stay there.
func inNetNS(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see newNetNS
		if err := unix.Setns(int(ns), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// setSysctls writes net sysctls (keys under /proc/sys/net, e.g.
// "ipv4/ip_forward") in the namespace ns, skipping those already set.
// /proc/sys/net shows the namespace of the thread that opens it.
func setSysctls(ns netns.NsHandle, kv map[string]string) error {
	return inNetNS(ns, func() error {
		for k, v := range kv {
			p := filepath.Join("/proc/sys/net", k)
			if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == v {
				continue
			}
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				return fmt.Errorf("setting net.%s=%s: %w", strings.ReplaceAll(k, "/", "."), v, err)
			}
		}
		return nil
	})
}

// handleAt opens netlink in the namespace pinned at path.
func handleAt(path string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, 0, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, 0, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return h, ns, nil
}
