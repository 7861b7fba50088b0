package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	// errNetnsGone means CNI_NETNS names nothing: the namespace was deleted.
	errNetnsGone = errors.New("network namespace does not exist")
	// errNotNetns means CNI_NETNS names a file that is not a network
	// namespace, such as the mount point a deleted namespace leaves behind.
	errNotNetns = errors.New("not a network namespace")
)

// containerNS is the container's network namespace, held open by a file
// descriptor so that every step works on the same namespace, with a netlink
// handle bound to it: link, address and route work needs no setns.
type containerNS struct {
	path string
	ns   netns.NsHandle
	nl   *netlink.Handle
}

// openContainerNS opens the namespace at path. It fails with errNetnsGone or
// errNotNetns (wrapped) when there is no network namespace there.
func openContainerNS(path string) (*containerNS, error) {
	h, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening %q: %w", path, errNetnsGone)
		}
		return nil, fmt.Errorf("opening network namespace %q: %w", path, err)
	}
	// NS_GET_NSTYPE fails on anything but a namespace file (ENOTTY) and
	// tells a network namespace from the others.
	if t, err := unix.IoctlRetInt(int(h), unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		h.Close()
		return nil, fmt.Errorf("%q: %w", path, errNotNetns)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening netlink in network namespace %q: %w", path, err)
	}
	return &containerNS{path: path, ns: h, nl: nl}, nil
}

// Close releases the handle and the namespace's descriptor.
func (c *containerNS) Close() {
	c.nl.Close()
	c.ns.Close()
}

// isPluginNS reports whether the container's namespace is the plugin's own,
// which a runtime must never ask for (skel checks it only after ADD ran).
func (c *containerNS) isPluginNS() (bool, error) {
	self, err := netns.Get()
	if err != nil {
		return false, fmt.Errorf("opening the plugin's network namespace: %w", err)
	}
	defer self.Close()
	return self.Equal(c.ns), nil
}

// sysctl is a per-namespace setting: a path under /proc/sys/net and a value.
type sysctl struct{ key, value string }

// writeSysctls sets per-namespace sysctls, in order. /proc/sys/net shows the namespace of the thread that opens
// it, so this is the one step that enters the container's namespace: on a
// goroutine locked to its thread, which switches back before unlocking or,
// if it cannot, exits locked so the runtime discards the thread.
func (c *containerNS) writeSysctls(values []sysctl) error {
	if len(values) == 0 {
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening the plugin's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(c.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %q: %w", c.path, err)
			return
		}
		err = writeProcSysNet(values)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func writeProcSysNet(values []sysctl) error {
	for _, v := range values {
		name := filepath.Join("/proc/sys/net", v.key)
		if err := os.WriteFile(name, []byte(v.value), 0o644); err != nil {
			return fmt.Errorf("setting %s to %s: %w", name, v.value, err)
		}
	}
	return nil
}

// retryDump runs a netlink dump again when the kernel reports that the
// table changed under it (vishvananda/netlink returns partial results with
// ErrDumpInterrupted since v1.2).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range 5 {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// watchLinkGone returns a channel that is closed when the kernel announces
// (RTM_DELLINK on RTNLGRP_LINK) that the link with index left the
// container's namespace, and a function that stops watching. The
// subscription is in place when it returns. If it cannot subscribe, or
// loses the subscription's messages (ENOBUFS), the channel is never closed:
// a caller must also wait on whatever else ends its wait.
func (c *containerNS) watchLinkGone(index int) (gone <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	s, err := nl.SubscribeAt(c.ns, netns.None(), unix.NETLINK_ROUTE, unix.RTNLGRP_LINK)
	if err != nil {
		return ch, func() {}
	}
	go func() {
		for {
			msgs, _, err := s.Receive()
			if err != nil {
				return // stopped, or messages lost
			}
			for _, m := range msgs {
				if m.Header.Type == unix.RTM_DELLINK && len(m.Data) >= unix.SizeofIfInfomsg &&
					int(nl.DeserializeIfInfomsg(m.Data).Index) == index {
					close(ch)
					return
				}
			}
		}
	}()
	return ch, s.Close
}
