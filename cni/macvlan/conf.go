package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/vishvananda/netlink"

	"corral/cni/netconf"
)

// NetConf is corral-macvlan's network configuration, as read on stdin.
type NetConf struct {
	types.NetConf

	// Master names the parent link, in the plugin's network namespace or,
	// with LinkInContainer, in the container's.
	Master string `json:"master"`
	// Mode is bridge (the default), private, vepa or passthru.
	Mode string `json:"mode,omitempty"`
	// MTU of the macvlan; 0 inherits the parent's.
	MTU int `json:"mtu,omitempty"`
	// MAC fixes the macvlan's hardware address; CNI_ARGS MAC=… and
	// runtimeConfig.mac (the "mac" capability) override it, in that order.
	MAC string `json:"mac,omitempty"`
	// LinkInContainer says the parent lives in the container's namespace.
	LinkInContainer bool `json:"linkInContainer,omitempty"`

	RuntimeConfig struct {
		MAC string `json:"mac,omitempty"`
	} `json:"runtimeConfig,omitempty"`
}

// conf is a NetConf that passed validation, with its enums parsed.
type conf struct {
	NetConf
	mode netlink.MacvlanMode
	mac  net.HardwareAddr // nil lets the kernel pick one
}

// macArgs are the CNI_ARGS the plugin reads.
type macArgs struct {
	types.CommonArgs
	MAC types.UnmarshallableString `json:"mac,omitempty"`
}

// parseConf decodes the configuration on stdin and CNI_ARGS and validates
// everything that does not depend on the host. Errors carry CNI codes: 6 for
// bytes that do not decode, 7 for an invalid configuration, 4 for CNI_ARGS.
func parseConf(stdin []byte, cniArgs string) (*conf, error) {
	c := &conf{}
	if err := netconf.Decode(stdin, &c.NetConf); err != nil {
		return nil, err
	}
	if err := validLinkName(c.Master); err != nil {
		return nil, netconf.Invalid("master", c.Master, "the name of the parent link ("+err.Error()+")")
	}
	mode, err := parseMode(c.Mode)
	if err != nil {
		return nil, err
	}
	c.mode = mode
	if c.MTU < 0 {
		return nil, netconf.Invalid("mtu", c.MTU, "in [0, the parent's MTU]")
	}
	if t := c.IPAM.Type; strings.ContainsAny(t, `/\`) || t == "." || t == ".." {
		return nil, netconf.Invalid("ipam.type", t, "the file name of an IPAM plugin in CNI_PATH")
	}

	if c.MAC != "" {
		if c.mac, err = parseMAC(c.MAC); err != nil {
			return nil, netconf.Invalid("mac", c.MAC, err.Error())
		}
	}
	var args macArgs
	if err := types.LoadArgs(cniArgs, &args); err != nil {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("invalid CNI_ARGS %q: %v", cniArgs, err), "")
	}
	if args.MAC != "" {
		if c.mac, err = parseMAC(string(args.MAC)); err != nil {
			return nil, types.NewError(types.ErrInvalidEnvironmentVariables,
				fmt.Sprintf("invalid CNI_ARGS MAC %q, must be %v", string(args.MAC), err), "")
		}
	}
	if m := c.RuntimeConfig.MAC; m != "" {
		if c.mac, err = parseMAC(m); err != nil {
			return nil, netconf.Invalid("runtimeConfig.mac", m, err.Error())
		}
	}
	return c, nil
}

// parseMode maps the mode field to the kernel's macvlan mode.
func parseMode(s string) (netlink.MacvlanMode, error) {
	switch s {
	case "", "bridge":
		return netlink.MACVLAN_MODE_BRIDGE, nil
	case "private":
		return netlink.MACVLAN_MODE_PRIVATE, nil
	case "vepa":
		return netlink.MACVLAN_MODE_VEPA, nil
	case "passthru":
		return netlink.MACVLAN_MODE_PASSTHRU, nil
	default:
		return 0, netconf.Invalid("mode", s, `one of "bridge", "private", "vepa", "passthru"`)
	}
}

// modeName is parseMode's inverse, for messages.
func modeName(m netlink.MacvlanMode) string {
	switch m {
	case netlink.MACVLAN_MODE_BRIDGE:
		return "bridge"
	case netlink.MACVLAN_MODE_PRIVATE:
		return "private"
	case netlink.MACVLAN_MODE_VEPA:
		return "vepa"
	case netlink.MACVLAN_MODE_PASSTHRU:
		return "passthru"
	default:
		return fmt.Sprintf("mode(%d)", m)
	}
}

// parseMAC accepts what a macvlan can carry: a unicast 48-bit Ethernet
// address other than all zeros. The error is the rule, for netconf.Invalid.
func parseMAC(s string) (net.HardwareAddr, error) {
	const rule = "a unicast 48-bit Ethernet address such as 02:00:00:00:00:01"
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 || mac[0]&1 != 0 || mac.String() == "00:00:00:00:00:00" {
		return nil, fmt.Errorf("%s", rule)
	}
	return mac, nil
}

// validLinkName applies the kernel's rule for interface names (dev_valid_name).
func validLinkName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("required")
	case len(s) > 15:
		return fmt.Errorf("at most 15 bytes")
	case s == "." || s == "..":
		return fmt.Errorf("not %q", s)
	case strings.ContainsAny(s, "/: \t\n\v\f\r"):
		return fmt.Errorf("no '/', ':' or white space")
	}
	return nil
}

// checkMTU validates the MTU against the parent's, which only the host knows.
func (c *conf) checkMTU(parent netlink.Link) error {
	limit := parent.Attrs().MTU
	if c.MTU > limit {
		return netconf.Invalid("mtu", c.MTU, fmt.Sprintf("in [0, %d], the MTU of master %q", limit, c.Master))
	}
	return nil
}

// parent looks up the master link in the namespace the configuration puts it
// in: the plugin's own, or the container's (cont) with linkInContainer. A
// master that does not exist makes the configuration invalid for this host
// (code 7).
func (c *conf) parent(cont *netlink.Handle) (netlink.Link, error) {
	lookup, where := netlink.LinkByName, "the plugin's"
	if c.LinkInContainer {
		lookup, where = cont.LinkByName, "the container's"
	}
	link, err := lookup(c.Master)
	if err != nil {
		if isLinkNotFound(err) {
			return nil, netconf.Invalid("master", c.Master, "an existing link in "+where+" network namespace")
		}
		return nil, fmt.Errorf("looking up master %q: %w", c.Master, err)
	}
	return link, nil
}

func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return err != nil && errors.As(err, &nf)
}
