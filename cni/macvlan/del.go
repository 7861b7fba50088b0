package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"corral/cni/netconf"
)

// cmdDel deletes the macvlan, then has IPAM release the addresses. It
// succeeds when there is nothing left to delete: no CNI_NETNS, a namespace
// that is gone, no interface of that name. Only the decoding of the
// configuration is checked, not the host: DEL must work after the parent or
// the configuration's MTU stopped making sense. The link goes first so that
// an address is never released while an interface still carries it: IPAM
// DEL starts once the kernel has taken the link out of the namespace, and
// runs while the kernel finishes tearing it down (deleteMacvlan). Both
// steps run even if one fails.
func cmdDel(args *skel.CmdArgs) error {
	var n NetConf
	if err := netconf.Decode(args.StdinData, &n); err != nil {
		return err
	}
	var linkErr, ipamErr error
	finish := func() error { return nil }
	if args.Netns != "" {
		finish = deleteMacvlan(args.Netns, args.IfName)
	}
	if n.IPAM.Type != "" {
		if err := invoke.DelegateDel(context.Background(), n.IPAM.Type, args.StdinData, nil); err != nil {
			ipamErr = delegateError(n.IPAM.Type, "DEL", err)
		}
	}
	linkErr = finish()
	return join(linkErr, ipamErr)
}

// deleteMacvlan deletes the macvlan ifName in the namespace at path, if both
// are still there. An interface of that name that is not a macvlan was not
// created by this plugin (an ADD that failed because it existed is still
// followed by DEL), so it is left alone.
//
// It returns once the link is out of the namespace, and finish waits for the
// deletion to end and returns its error. The kernel answers RTM_DELLINK only
// after netdev_run_todo's rcu_barrier, a full RCU grace period (7-20 ms
// measured at HZ=250, most of a DEL's wall time, none of it CPU), but it
// takes the link out of the namespace, with its addresses and routes, and
// announces RTM_DELLINK to the namespace's RTNLGRP_LINK listeners before
// that wait: deleteMacvlan returns on that announcement, so that the
// caller's IPAM DEL overlaps the grace period. Without the announcement
// (the subscription failed, or its socket overflowed) it returns when the
// deletion ends.
func deleteMacvlan(path, ifName string) (finish func() error) {
	done := func(err error) func() error { return func() error { return err } }
	cont, err := openContainerNS(path)
	if errors.Is(err, errNetnsGone) || errors.Is(err, errNotNetns) {
		return done(nil)
	}
	if err != nil {
		return done(err)
	}
	link, err := cont.nl.LinkByName(ifName)
	if isLinkNotFound(err) {
		cont.Close()
		return done(nil)
	}
	if err != nil {
		cont.Close()
		return done(fmt.Errorf("looking up %q in %q: %w", ifName, path, err))
	}
	if _, ok := link.(*netlink.Macvlan); !ok {
		cont.Close()
		fmt.Fprintf(os.Stderr, "corral-macvlan: leaving %q in %q alone: a %s link, not a macvlan\n", ifName, path, link.Type())
		return done(nil)
	}

	gone, stop := cont.watchLinkGone(link.Attrs().Index)
	deleted := make(chan error, 1)
	go func() {
		err := cont.nl.LinkDel(link)
		if err != nil && !errors.Is(err, unix.ENODEV) {
			err = fmt.Errorf("deleting %q in %q: %w", ifName, path, err)
		} else {
			err = nil
		}
		deleted <- err
	}()
	finish = func() error {
		err := <-deleted
		stop()
		cont.Close()
		return err
	}
	select {
	case <-gone:
		return finish
	case err := <-deleted:
		stop()
		cont.Close()
		return done(err)
	}
}

// cmdGC forwards GC to the IPAM plugin, which frees the addresses of
// attachments missing from cni.dev/valid-attachments. The plugin keeps no
// state of its own: a macvlan lives and dies with its container's namespace.
func cmdGC(args *skel.CmdArgs) error {
	var n NetConf
	if err := netconf.Decode(args.StdinData, &n); err != nil {
		return err
	}
	if n.IPAM.Type == "" {
		return nil
	}
	if err := invoke.DelegateGC(context.Background(), n.IPAM.Type, args.StdinData, nil); err != nil {
		return delegateError(n.IPAM.Type, "GC", err)
	}
	return nil
}
