package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// cmdCheck verifies that the attachment is still what prevResult says: the
// parent exists, the interface is an up macvlan on it with the configured
// mode, MTU and prevResult's MAC, and carries prevResult's addresses and
// routes; then it runs the IPAM plugin's CHECK. A configuration or
// prevResult that is unusable is code 7, a namespace that is gone code 3, a
// difference code 100 (codeCheckFailed).
func cmdCheck(args *skel.CmdArgs) error {
	c, err := parseConf(args.StdinData, args.Args)
	if err != nil {
		return err
	}
	if c.RawPrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "missing prevResult, CHECK needs the result of the ADD it checks", "")
	}
	prev, err := prevResult(c)
	if err != nil {
		return err
	}
	ifIndex := -1
	for i, intf := range prev.Interfaces {
		if intf.Name == args.IfName && intf.Sandbox == args.Netns {
			ifIndex = i
		}
	}
	if ifIndex < 0 {
		return types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("invalid prevResult, must list interface %q in sandbox %q", args.IfName, args.Netns), "")
	}
	want := prev.Interfaces[ifIndex]

	cont, err := openContainerNS(args.Netns)
	if errors.Is(err, errNetnsGone) || errors.Is(err, errNotNetns) {
		return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("container network namespace %q does not exist", args.Netns), "")
	}
	if err != nil {
		return err
	}
	defer cont.Close()

	parent, err := c.parent(cont.nl)
	if err != nil {
		var te *types.Error
		if errors.As(err, &te) && te.Code == types.ErrInvalidNetworkConfig {
			return checkFailed("master %q is gone", c.Master)
		}
		return err
	}
	link, err := cont.nl.LinkByName(args.IfName)
	if isLinkNotFound(err) {
		return checkFailed("interface %q not found in %q", args.IfName, args.Netns)
	}
	if err != nil {
		return fmt.Errorf("looking up %q in %q: %w", args.IfName, args.Netns, err)
	}
	if err := checkLink(c, parent, link, want); err != nil {
		return err
	}
	if err := checkAddrs(cont.nl, link, prev.IPs, ifIndex); err != nil {
		return err
	}
	if err := checkRoutes(cont.nl, prev.Routes); err != nil {
		return err
	}

	if c.IPAM.Type != "" {
		if err := invoke.DelegateCheck(context.Background(), c.IPAM.Type, args.StdinData, nil); err != nil {
			return delegateError(c.IPAM.Type, "CHECK", err)
		}
	}
	return nil
}

func checkLink(c *conf, parent, link netlink.Link, want *current.Interface) error {
	name := link.Attrs().Name
	mv, ok := link.(*netlink.Macvlan)
	if !ok {
		return checkFailed("interface %q is a %s link, not a macvlan", name, link.Type())
	}
	if mv.ParentIndex != parent.Attrs().Index {
		return checkFailed("macvlan %q has parent index %d, not master %q's %d", name, mv.ParentIndex, c.Master, parent.Attrs().Index)
	}
	if mv.Mode != c.mode {
		return checkFailed("macvlan %q is in mode %s, not %s", name, modeName(mv.Mode), modeName(c.mode))
	}
	if c.MTU != 0 && mv.MTU != c.MTU {
		return checkFailed("macvlan %q has MTU %d, not %d", name, mv.MTU, c.MTU)
	}
	if want.Mac != "" && mv.HardwareAddr.String() != want.Mac {
		return checkFailed("macvlan %q has MAC %s, not %s", name, mv.HardwareAddr, want.Mac)
	}
	if mv.Flags&net.FlagUp == 0 {
		return checkFailed("macvlan %q is down", name)
	}
	return nil
}

// checkAddrs verifies that link carries every address prevResult gives the
// interface at ifIndex.
func checkAddrs(h *netlink.Handle, link netlink.Link, ips []*current.IPConfig, ifIndex int) error {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("listing addresses of %q: %w", link.Attrs().Name, err)
	}
	for _, ipc := range ips {
		if ipc.Interface == nil || *ipc.Interface != ifIndex {
			continue
		}
		found := false
		for _, a := range addrs {
			if a.IP.Equal(ipc.Address.IP) && a.Mask.String() == ipc.Address.Mask.String() {
				found = true
				break
			}
		}
		if !found {
			return checkFailed("interface %q lacks address %s", link.Attrs().Name, ipc.Address.String())
		}
	}
	return nil
}

// checkRoutes verifies that each of prevResult's routes is in its table. It
// matches destination and, where prevResult names one, next hop, so routes
// that a later plugin in the chain changed in other ways still pass, as the
// spec asks.
func checkRoutes(h *netlink.Handle, routes []*types.Route) error {
	for _, r := range routes {
		filter := &netlink.Route{Dst: &net.IPNet{IP: r.Dst.IP, Mask: r.Dst.Mask}, Table: unix.RT_TABLE_MAIN}
		mask := netlink.RT_FILTER_DST | netlink.RT_FILTER_TABLE
		if r.Table != nil {
			filter.Table = *r.Table
		}
		if r.GW != nil {
			filter.Gw = r.GW
			mask |= netlink.RT_FILTER_GW
		}
		family := netlink.FAMILY_V6
		if r.Dst.IP.To4() != nil {
			family = netlink.FAMILY_V4
		}
		found, err := retryDump(func() ([]netlink.Route, error) { return h.RouteListFiltered(family, filter, mask) })
		if err != nil {
			return fmt.Errorf("listing routes to %s: %w", r.Dst.String(), err)
		}
		if len(found) == 0 {
			return checkFailed("route to %s%s is missing", r.Dst.String(), via(r.GW))
		}
	}
	return nil
}

func via(gw net.IP) string {
	if gw == nil {
		return ""
	}
	return " via " + gw.String()
}

// cmdStatus reports whether the plugin can serve ADD: the configuration is
// valid, the parent exists (unless it lives in a container, which STATUS
// does not name) and the IPAM plugin, asked in turn, is ready. A missing
// parent or IPAM plugin is code 50 (not available); a delegate's own error
// keeps its code.
func cmdStatus(args *skel.CmdArgs) error {
	c, err := parseConf(args.StdinData, "")
	if err != nil {
		return err
	}
	if !c.LinkInContainer {
		parent, err := netlink.LinkByName(c.Master)
		if isLinkNotFound(err) {
			return types.NewError(codeNotAvailable, fmt.Sprintf("master %q not found in the plugin's network namespace", c.Master), "")
		}
		if err != nil {
			return fmt.Errorf("looking up master %q: %w", c.Master, err)
		}
		if err := c.checkMTU(parent); err != nil {
			return err
		}
	}
	if c.IPAM.Type == "" {
		return nil
	}
	if _, err := invoke.FindInPath(c.IPAM.Type, filepath.SplitList(args.Path)); err != nil {
		return types.NewError(codeNotAvailable, fmt.Sprintf("IPAM plugin %q not found in CNI_PATH %q", c.IPAM.Type, args.Path), "")
	}
	if err := invoke.DelegateStatus(context.Background(), c.IPAM.Type, args.StdinData, nil); err != nil {
		var te *types.Error
		if errors.As(err, &te) {
			return delegateError(c.IPAM.Type, "STATUS", err)
		}
		return types.NewError(codeNotAvailable, fmt.Sprintf("IPAM plugin %q STATUS: %v", c.IPAM.Type, err), "")
	}
	return nil
}
