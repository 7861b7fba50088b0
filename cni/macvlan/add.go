package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"corral/cni/netconf"
)

// dadTimeout bounds the wait for IPv6 duplicate address detection, which
// must finish before routes through an IPv6 gateway can be added.
const dadTimeout = 5 * time.Second

// cmdAdd creates the macvlan in the container, has IPAM assign its addresses
// and configures them. Each step records its undo; when a later step fails,
// the deferred rollback undoes the earlier ones (releasing the address
// through IPAM DEL, deleting the link), so a failed ADD leaves nothing.
func cmdAdd(args *skel.CmdArgs) (retErr error) {
	c, err := parseConf(args.StdinData, args.Args)
	if err != nil {
		return err
	}
	if c.IPAM.Type != "" {
		if _, err := invoke.FindInPath(c.IPAM.Type, filepath.SplitList(args.Path)); err != nil {
			return netconf.Invalid("ipam.type", c.IPAM.Type, fmt.Sprintf("a plugin in CNI_PATH %q", args.Path))
		}
	}
	prev, err := prevResult(c)
	if err != nil {
		return err
	}

	cont, err := openContainerNS(args.Netns)
	switch {
	case errors.Is(err, errNetnsGone):
		return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("container network namespace %q does not exist", args.Netns), "")
	case errors.Is(err, errNotNetns):
		return types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("invalid CNI_NETNS %q, must name a network namespace", args.Netns), "")
	case err != nil:
		return err
	}
	defer cont.Close()
	if own, err := cont.isPluginNS(); err != nil {
		return err
	} else if own {
		return types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("invalid CNI_NETNS %q, must not be the plugin's own network namespace", args.Netns), "")
	}

	parent, err := c.parent(cont.nl)
	if err != nil {
		return err
	}
	if err := c.checkMTU(parent); err != nil {
		return err
	}
	if _, err := cont.nl.LinkByName(args.IfName); err == nil {
		return fmt.Errorf("interface %q already exists in %q", args.IfName, args.Netns)
	} else if !isLinkNotFound(err) {
		return fmt.Errorf("looking up %q in %q: %w", args.IfName, args.Netns, err)
	}

	var undo rollback
	defer func() {
		if retErr != nil {
			retErr = undo.run(retErr)
		}
	}()

	link, err := createMacvlan(c, parent, cont)
	if err != nil {
		return err
	}
	// The undo holds the index, which stays the link's through the rename.
	index := link.Attrs().Index
	undo.push("deleting the macvlan", func() error {
		return cont.nl.LinkDel(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Index: index}})
	})
	if err := cont.nl.LinkSetName(link, args.IfName); err != nil {
		return fmt.Errorf("renaming macvlan %q to %q: %w", link.Attrs().Name, args.IfName, err)
	}
	if link, err = cont.nl.LinkByIndex(index); err != nil {
		return fmt.Errorf("reading back macvlan %q: %w", args.IfName, err)
	}

	result := prev
	ifIndex := len(result.Interfaces)
	result.Interfaces = append(result.Interfaces, &current.Interface{
		Name:    args.IfName,
		Mac:     link.Attrs().HardwareAddr.String(),
		Mtu:     link.Attrs().MTU,
		Sandbox: args.Netns,
	})

	if c.IPAM.Type == "" {
		// Layer 2 only: the interface comes up without addresses.
		if err := cont.nl.LinkSetUp(link); err != nil {
			return fmt.Errorf("setting %q up: %w", args.IfName, err)
		}
		if !c.DNS.IsEmpty() {
			result.DNS = c.DNS
		}
		return types.PrintResult(result, c.CNIVersion)
	}

	// The spec has the caller run DEL on a delegate whose ADD failed, so
	// the release is recorded before the ADD, not after it succeeds.
	undo.push("releasing the addresses (IPAM DEL)", func() error {
		if err := invoke.DelegateDel(context.Background(), c.IPAM.Type, args.StdinData, nil); err != nil {
			return delegateError(c.IPAM.Type, "DEL", err)
		}
		return nil
	})
	r, err := invoke.DelegateAdd(context.Background(), c.IPAM.Type, args.StdinData, nil)
	if err != nil {
		return delegateError(c.IPAM.Type, "ADD", err)
	}
	ipamResult, err := current.NewResultFromResult(r)
	if err != nil {
		return fmt.Errorf("converting the result of IPAM plugin %q: %w", c.IPAM.Type, err)
	}
	if len(ipamResult.IPs) == 0 {
		return fmt.Errorf("IPAM plugin %q returned no addresses", c.IPAM.Type)
	}
	for _, ipc := range ipamResult.IPs {
		ipc.Interface = current.Int(ifIndex)
	}
	if err := configure(cont, link, ipamResult); err != nil {
		return err
	}

	result.IPs = append(result.IPs, ipamResult.IPs...)
	result.Routes = append(result.Routes, ipamResult.Routes...)
	// DNS: the configuration's, else what IPAM returned, else prevResult's.
	switch {
	case !c.DNS.IsEmpty():
		result.DNS = c.DNS
	case !ipamResult.DNS.IsEmpty():
		result.DNS = ipamResult.DNS
	}
	return types.PrintResult(result, c.CNIVersion)
}

// prevResult returns the result ADD builds on: the prevResult of a chain,
// converted to the current types, or an empty one.
func prevResult(c *conf) (*current.Result, error) {
	if c.RawPrevResult == nil {
		return &current.Result{CNIVersion: current.ImplementedSpecVersion}, nil
	}
	if err := version.ParsePrevResult(&c.NetConf.NetConf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("decoding prevResult: %v", err), "")
	}
	r, err := current.NewResultFromResult(c.PrevResult)
	if err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("converting prevResult: %v", err), "")
	}
	return r, nil
}

// createMacvlan creates the macvlan on parent inside the container's
// namespace, under a temporary name: on older kernels a link created for
// another namespace is named in the plugin's first, where CNI_IFNAME (eth0)
// often exists already. The caller renames it.
func createMacvlan(c *conf, parent netlink.Link, cont *containerNS) (netlink.Link, error) {
	tmp, err := tempLinkName()
	if err != nil {
		return nil, err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = tmp
	attrs.ParentIndex = parent.Attrs().Index
	attrs.MTU = c.MTU
	attrs.HardwareAddr = c.mac
	add := cont.nl.LinkAdd
	if !c.LinkInContainer {
		// Created from the plugin's namespace, where the parent is,
		// directly into the container's (IFLA_NET_NS_FD).
		attrs.Namespace = netlink.NsFd(int(cont.ns))
		add = netlink.LinkAdd
	}
	if err := add(&netlink.Macvlan{LinkAttrs: attrs, Mode: c.mode}); err != nil {
		return nil, fmt.Errorf("creating a %s macvlan on %q: %w", modeName(c.mode), c.Master, err)
	}
	link, err := cont.nl.LinkByName(tmp)
	if err != nil {
		// Without its index the caller cannot undo the link; delete it
		// by name here.
		err = fmt.Errorf("finding the new macvlan %q: %w", tmp, err)
		if derr := cont.nl.LinkDel(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: tmp}}); derr != nil {
			return nil, join(err, fmt.Errorf("rolling back: deleting %q: %w", tmp, derr))
		}
		return nil, err
	}
	return link, nil
}

// tempLinkName is "cmv" and 12 random hex digits: 15 bytes, the kernel's limit.
func tempLinkName() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("naming the macvlan: %w", err)
	}
	return "cmv" + hex.EncodeToString(b), nil
}

// configure applies an IPAM result to the macvlan: sysctls, addresses, up,
// routes. Routes without a next hop use the gateway of the first address of
// their family, as the spec allows.
func configure(cont *containerNS, link netlink.Link, res *current.Result) error {
	name := link.Attrs().Name
	var v4, v6 bool
	var gw4, gw6 net.IP
	for _, ipc := range res.IPs {
		if ipc.Address.IP.To4() != nil {
			v4 = true
			if gw4 == nil {
				gw4 = ipc.Gateway
			}
		} else {
			v6 = true
			if gw6 == nil {
				gw6 = ipc.Gateway
			}
		}
	}

	// Announce the address on link up (gratuitous ARP, unsolicited NA): a
	// macvlan address moves between MACs as containers come and go, and
	// neighbours on the segment must not keep the old one.
	var sysctls []sysctl
	if v4 {
		sysctls = append(sysctls, sysctl{"ipv4/conf/" + name + "/arp_notify", "1"})
	}
	if v6 {
		sysctls = append(sysctls,
			sysctl{"ipv6/conf/" + name + "/disable_ipv6", "0"},
			sysctl{"ipv6/conf/" + name + "/ndisc_notify", "1"})
	}
	if err := cont.writeSysctls(sysctls); err != nil {
		return err
	}

	for _, ipc := range res.IPs {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ipc.Address.IP, Mask: ipc.Address.Mask}}
		if err := cont.nl.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("adding address %s to %q: %w", ipc.Address.String(), name, err)
		}
	}
	if err := cont.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %q up: %w", name, err)
	}
	if v6 {
		if err := settleDAD(cont.nl, link); err != nil {
			return err
		}
	}

	for _, r := range res.Routes {
		route := netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       &net.IPNet{IP: r.Dst.IP, Mask: r.Dst.Mask},
			Gw:        r.GW,
			MTU:       r.MTU,
			AdvMSS:    r.AdvMSS,
			Priority:  r.Priority,
		}
		if route.Gw == nil {
			route.Gw = gw6
			if r.Dst.IP.To4() != nil {
				route.Gw = gw4
			}
		}
		if r.Table != nil {
			route.Table = *r.Table
		}
		if r.Scope != nil {
			route.Scope = netlink.Scope(*r.Scope)
		}
		if err := cont.nl.RouteAdd(&route); err != nil {
			return fmt.Errorf("adding route %s via %v on %q: %w", r.Dst.String(), route.Gw, name, err)
		}
	}
	return nil
}

// settleDAD waits until no IPv6 address on link is tentative, and fails if
// duplicate address detection found one in use on the segment.
func settleDAD(h *netlink.Handle, link netlink.Link) error {
	deadline := time.Now().Add(dadTimeout)
	for {
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V6) })
		if err != nil {
			return fmt.Errorf("listing addresses of %q: %w", link.Attrs().Name, err)
		}
		tentative := false
		for _, a := range addrs {
			if a.Flags&unix.IFA_F_DADFAILED != 0 {
				return fmt.Errorf("address %s on %q is in use on the segment (duplicate address detection failed)", a.IPNet, link.Attrs().Name)
			}
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				tentative = true
			}
		}
		if !tentative {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("IPv6 addresses on %q still tentative after %v", link.Attrs().Name, dadTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
