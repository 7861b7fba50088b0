package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vethPrefix starts the host ends of tasks' veth pairs.
const vethPrefix = "cor"

// vethName is the host end of a task's veth pair: cor + 12 hex digits of
// a hash of the task's ID (link names have at most 15 bytes).
func vethName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return vethPrefix + hex.EncodeToString(sum[:6])
}

// ensureBridge makes sure the bridge exists, holds the gateway address and
// is up.
func ensureBridge(h *netlink.Handle, name string, subnet netip.Prefix, gateway netip.Addr) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("finding bridge %s: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("finding bridge %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("link %s exists and is a %s, not a bridge", name, l.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gateway.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := h.AddrReplace(l, addr); err != nil {
		return nil, fmt.Errorf("giving bridge %s the gateway address %s: %w", name, addr.IPNet, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("bringing up bridge %s: %w", name, err)
	}
	return l, nil
}

// checkBridgeSubnet fails when another link than the bridge holds an
// address in its subnet: the bridge's route would hijack that network.
func checkBridgeSubnet(h *netlink.Handle, bridge string, subnet netip.Prefix) error {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing the host's addresses: %w", err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), ones).Masked()
		if !p.Overlaps(subnet) {
			continue
		}
		l, err := h.LinkByIndex(a.LinkIndex)
		if err == nil && l.Attrs().Name == bridge {
			continue
		}
		name := fmt.Sprint(a.LinkIndex)
		if err == nil {
			name = l.Attrs().Name
		}
		return fmt.Errorf("invalid --bridge-subnet %s, overlaps %s of link %s: choose a subnet this host does not use", subnet, p, name)
	}
	return nil
}

// addVeth connects the container namespace ns to the bridge: a veth pair
// whose host end, in hairpin mode, is a port of the bridge and whose other
// end is the container's eth0 with ip, its loopback up and a default route
// through the gateway.
func addVeth(host *netlink.Handle, bridge netlink.Link, name string, ns netns.NsHandle, cont *netlink.Handle, ip netip.Addr, subnet netip.Prefix, gateway netip.Addr) error {
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: name, MTU: bridge.Attrs().MTU, MasterIndex: bridge.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns),
	}
	if err := host.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", name, err)
	}
	l, err := host.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", name, err)
	}
	// Hairpin: with br_netfilter loaded, a container's connection to its
	// own host port is bridged back out of the port it came in on.
	if err := host.LinkSetHairpin(l, true); err != nil {
		return fmt.Errorf("setting hairpin mode on %s: %w", name, err)
	}
	if err := host.LinkSetUp(l); err != nil {
		return fmt.Errorf("bringing up veth %s: %w", name, err)
	}
	eth, err := cont.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("finding the container's eth0: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := cont.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("giving the container %s: %w", addr.IPNet, err)
	}
	if err := cont.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bringing up the container's eth0: %w", err)
	}
	if err := cont.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gateway.AsSlice()}); err != nil {
		return fmt.Errorf("adding the container's default route via %s: %w", gateway, err)
	}
	return nil
}

// loopbackUp brings up lo in a new namespace.
func loopbackUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding the container's lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing up the container's lo: %w", err)
	}
	return nil
}

// delLink deletes a link by name; a missing one is no error.
func delLink(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding link %s: %w", name, err)
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting link %s: %w", name, err)
	}
	return nil
}
