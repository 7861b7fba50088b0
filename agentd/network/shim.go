package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol tags the host routes agentd adds to its containers (through
// the macvlan shim), so that leftovers can be found (`ip route show proto
// 203`).
const routeProtocol netlink.RouteProtocol = 203

// shimName is the host's macvlan shim on parent: corral-<parent>, or a hash
// when that is longer than a link name may be.
func shimName(parent string) string {
	if n := "corral-" + parent; len(n) <= 15 {
		return n
	}
	sum := sha256.Sum256([]byte(parent))
	return "corral-" + hex.EncodeToString(sum[:4])
}

// ensureShim makes sure the host has a macvlan in bridge mode on parent, up:
// a macvlan parent never delivers frames between itself and its children,
// but sibling macvlans in bridge mode reach each other, so the host reaches
// its own macvlan containers through this one. It has no address: replies
// come back to the host's address on the parent, which the shim answers ARP
// for.
func ensureShim(h *netlink.Handle, parent string) (string, error) {
	name := shimName(parent)
	if l, err := h.LinkByName(name); err == nil {
		if _, ok := l.(*netlink.Macvlan); !ok {
			return "", fmt.Errorf("link %s exists and is a %s, not agentd's macvlan shim", name, l.Type())
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			if err := h.LinkSetUp(l); err != nil {
				return "", fmt.Errorf("bringing up the macvlan shim %s: %w", name, err)
			}
		}
		return name, nil
	}
	p, err := h.LinkByName(parent)
	if err != nil {
		return "", fmt.Errorf("finding the macvlan parent %s: %w", parent, err)
	}
	mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: p.Attrs().Index}, Mode: netlink.MACVLAN_MODE_BRIDGE}
	if err := h.LinkAdd(mv); err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("creating the macvlan shim %s on %s: %w", name, parent, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return "", fmt.Errorf("finding the macvlan shim %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return "", fmt.Errorf("bringing up the macvlan shim %s: %w", name, err)
	}
	return name, nil
}

// shimRoute is the host route to one container address through the shim.
func shimRoute(h *netlink.Handle, shim string, ip netip.Addr) (*netlink.Route, error) {
	l, err := h.LinkByName(shim)
	if err != nil {
		return nil, fmt.Errorf("finding the macvlan shim %s: %w", shim, err)
	}
	bits := 32
	if ip.Is6() {
		bits = 128
	}
	return &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, bits)},
		Scope:     netlink.SCOPE_LINK,
		Protocol:  routeProtocol,
	}, nil
}

func addShimRoutes(h *netlink.Handle, shim string, ips []netip.Addr) error {
	for _, ip := range ips {
		r, err := shimRoute(h, shim, ip)
		if err != nil {
			return err
		}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("routing %s through the macvlan shim %s: %w", ip, shim, err)
		}
	}
	return nil
}

// delShimRoutes deletes agentd's routes to ips (through any link).
func delShimRoutes(h *netlink.Handle, ips []netip.Addr) error {
	routes, err := shimRoutes(h)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range routes {
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		for _, ip := range ips {
			if dst.Unmap() == ip {
				if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("deleting the route to %s: %w", ip, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// shimRoutes lists the host routes agentd added.
func shimRoutes(h *netlink.Handle) ([]netlink.Route, error) {
	var out []netlink.Route
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteListFiltered(family, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst != nil {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
