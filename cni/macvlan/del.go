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
// an address is never released while an interface still carries it. Both
// steps run even if one fails.
func cmdDel(args *skel.CmdArgs) error {
	var n NetConf
	if err := netconf.Decode(args.StdinData, &n); err != nil {
		return err
	}
	var linkErr, ipamErr error
	if args.Netns != "" {
		linkErr = deleteMacvlan(args.Netns, args.IfName)
	}
	if n.IPAM.Type != "" {
		if err := invoke.DelegateDel(context.Background(), n.IPAM.Type, args.StdinData, nil); err != nil {
			ipamErr = delegateError(n.IPAM.Type, "DEL", err)
		}
	}
	return join(linkErr, ipamErr)
}

// deleteMacvlan deletes the macvlan ifName in the namespace at path, if both
// are still there. An interface of that name that is not a macvlan was not
// created by this plugin (an ADD that failed because it existed is still
// followed by DEL), so it is left alone.
func deleteMacvlan(path, ifName string) error {
	cont, err := openContainerNS(path)
	if errors.Is(err, errNetnsGone) || errors.Is(err, errNotNetns) {
		return nil
	}
	if err != nil {
		return err
	}
	defer cont.Close()
	link, err := cont.nl.LinkByName(ifName)
	if isLinkNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up %q in %q: %w", ifName, path, err)
	}
	if _, ok := link.(*netlink.Macvlan); !ok {
		fmt.Fprintf(os.Stderr, "corral-macvlan: leaving %q in %q alone: a %s link, not a macvlan\n", ifName, path, link.Type())
		return nil
	}
	if err := cont.nl.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting %q in %q: %w", ifName, path, err)
	}
	return nil
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
