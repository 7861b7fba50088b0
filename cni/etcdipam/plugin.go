// Package etcdipam is the CNI IPAM plugin corral-ipam: one subnet shared by
// the containers of every host, cut into blocks that hosts claim in etcd.
//
// Each host claims aligned blocks of the subnet (a /26 by default) with an
// etcd transaction that fails if any claimed block overlaps, so no two
// hosts ever own one address; it then allocates and releases the
// addresses of its blocks on its own disk, durably and without asking
// etcd (block affinity, as in Calico). etcd is asked again only for a new
// block, for GC, which gives the host's empty blocks back, and by CHECK
// and STATUS. Allocations are idempotent per (host, container ID,
// interface), DEL releases them, and GC releases the host's attachments
// that the runtime no longer lists. The commands follow the CNI spec
// 1.1.0; Plugin adapts them to skel for the binary in cni/ipam.
package etcdipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"

	"corral/cni/etcdrpc"
)

// Error codes the commands use besides the spec's well-known ones
// (types.ErrInvalidNetworkConfig 7, types.ErrTryAgainLater 11, …).
const (
	// CodeNotAvailable is the spec's STATUS code 50: the plugin cannot
	// service ADD requests (etcd unreachable, or no free address).
	CodeNotAvailable uint = 50
	// CodeExhausted (plugin-specific): ADD found no free address. Corral's
	// plugins keep apart codes of their own (corral-macvlan's start at 100)
	// because a plugin passes its IPAM delegate's errors on unchanged.
	CodeExhausted uint = 110
	// CodeNoReservation (plugin-specific): CHECK found no reservation for
	// the attachment, or one that does not match.
	CodeNoReservation uint = 111
)

// Add reserves the attachment's addresses, or returns those it holds, as a
// result of the newest spec version.
func Add(ctx context.Context, dial Dial, args *skel.CmdArgs) (*current.Result, error) {
	n, a, err := prepare(args)
	if err != nil {
		return nil, err
	}
	var ips []Address
	err = n.withStore(ctx, dial, func(ctx context.Context, s *Store) (err error) {
		ips, err = s.Allocate(ctx, a)
		return err
	})
	if err != nil {
		return nil, cniError(err)
	}
	return n.result(ips), nil
}

// Del releases the attachment's addresses; it succeeds when there are none.
func Del(ctx context.Context, dial Dial, args *skel.CmdArgs) error {
	n, a, err := prepare(args)
	if err != nil {
		return err
	}
	return cniError(n.withStore(ctx, dial, func(ctx context.Context, s *Store) error {
		return s.Release(ctx, a)
	}))
}

// Check verifies that the attachment's reservation exists and, when the
// netconf carries a prevResult, that its addresses are listed there.
func Check(ctx context.Context, dial Dial, args *skel.CmdArgs) error {
	n, a, err := prepare(args)
	if err != nil {
		return err
	}
	var ips []Address
	err = n.withStore(ctx, dial, func(ctx context.Context, s *Store) (err error) {
		ips, err = s.Check(ctx, a)
		return err
	})
	if err != nil {
		return cniError(err)
	}
	if n.RawPrevResult == nil {
		return nil
	}
	if err := version.ParsePrevResult(&n.PluginConf); err != nil {
		return types.NewError(types.ErrDecodingFailure, "cannot decode prevResult", err.Error())
	}
	prev, err := current.NewResultFromResult(n.PrevResult)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, "cannot convert prevResult", err.Error())
	}
	for _, ip := range ips {
		found := false
		for _, p := range prev.IPs {
			if pa, ok := netip.AddrFromSlice(p.Address.IP); ok && pa.Unmap() == ip.Address.Addr() {
				found = true
			}
		}
		if !found {
			return types.NewError(CodeNoReservation, "reservation not in prevResult",
				fmt.Sprintf("address %s reserved for container %s interface %s is missing from prevResult", ip.Address, a.ContainerID, a.IfName))
		}
	}
	return nil
}

// GC releases this host's attachments on the network that are not among
// the netconf's cni.dev/valid-attachments. Other hosts' attachments are
// theirs to collect: a runtime only knows its own containers.
func GC(ctx context.Context, dial Dial, args *skel.CmdArgs) error {
	n, err := loadNetwork(args.StdinData)
	if err != nil {
		return err
	}
	keep := make(map[Attachment]bool, len(n.ValidAttachments))
	for _, v := range n.ValidAttachments {
		keep[Attachment{ContainerID: v.ContainerID, IfName: v.IfName}] = true
	}
	return cniError(n.withStore(ctx, dial, func(ctx context.Context, s *Store) error {
		return s.GC(ctx, keep)
	}))
}

// Status fails with code 50 when etcd does not answer or a range set has no
// free address.
func Status(ctx context.Context, dial Dial, args *skel.CmdArgs) error {
	n, err := loadNetwork(args.StdinData)
	if err != nil {
		return err
	}
	err = n.withStore(ctx, dial, func(ctx context.Context, s *Store) error { return s.Status(ctx) })
	var te *types.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Code == types.ErrInvalidNetworkConfig:
		return te
	case errors.Is(err, ErrExhausted):
		return types.NewError(CodeNotAvailable, "plugin not available: no free address", err.Error())
	default:
		return types.NewError(CodeNotAvailable, "plugin not available: etcd unreachable", err.Error())
	}
}

// prepare loads the netconf and checks the attachment's identity, which
// keys are made of (skel checks it too; direct callers may not).
func prepare(args *skel.CmdArgs) (*network, Attachment, error) {
	n, err := loadNetwork(args.StdinData)
	if err != nil {
		return nil, Attachment{}, err
	}
	if err := utils.ValidateContainerID(args.ContainerID); err != nil {
		return nil, Attachment{}, err
	}
	if err := utils.ValidateInterfaceName(args.IfName); err != nil {
		return nil, Attachment{}, err
	}
	return n, Attachment{ContainerID: args.ContainerID, IfName: args.IfName}, nil
}

// Dial makes the etcdrpc.Caller of one command: in corral-ipam, an
// etcdrpc.Helper; in a test, etcdgw.Dial, in the test's process.
type Dial func(etcdrpc.Config) (etcdrpc.Caller, error)

// HelperDial is the Dial of the corral-ipam binary: its etcd requests go
// through the helper process, started by the first of them.
func HelperDial(cfg etcdrpc.Config) (etcdrpc.Caller, error) { return etcdrpc.NewHelper(cfg), nil }

// withStore runs f under the netconf's timeout with a Store of this host.
// Nothing reaches etcd until the Store asks it something.
func (n *network) withStore(ctx context.Context, dial Dial, f func(context.Context, *Store) error) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	c := n.IPAM
	cli, err := dial(etcdrpc.Config{Endpoints: c.EtcdEndpoints, CAFile: c.EtcdCAFile, CertFile: c.EtcdCertFile, KeyFile: c.EtcdKeyFile, Timeout: n.timeout})
	if err != nil {
		return invalidConfig(err)
	}
	defer cli.Close()
	return f(ctx, newStore(&etcdClient{cli}, n.prefix, c.Host, n.sets, n.dir))
}

// result renders reserved addresses with the netconf's routes.
func (n *network) result(ips []Address) *current.Result {
	r := &current.Result{CNIVersion: current.ImplementedSpecVersion, Routes: n.IPAM.Routes}
	for _, ip := range ips {
		a := ip.Address.Addr()
		r.IPs = append(r.IPs, &current.IPConfig{
			Address: net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(ip.Address.Bits(), a.BitLen())},
			Gateway: ip.Gateway.AsSlice(),
		})
	}
	return r
}

// cniError gives err the CNI error code callers can act on.
func cniError(err error) error {
	var te *types.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return te
	case errors.Is(err, ErrExhausted):
		return types.NewError(CodeExhausted, "no free address", err.Error())
	case errors.Is(err, ErrNoReservation):
		return types.NewError(CodeNoReservation, "no reservation", err.Error())
	case errors.Is(err, ErrContention):
		return types.NewError(types.ErrTryAgainLater, "allocation contended, try again later", err.Error())
	case errors.Is(err, etcdrpc.ErrConfig):
		return invalidConfig(err)
	case etcdrpc.Transient(err):
		return types.NewError(types.ErrTryAgainLater, "etcd unavailable, try again later", err.Error())
	default:
		return types.NewError(types.ErrInternal, err.Error(), "")
	}
}

// Plugin adapts the commands to skel for the corral-ipam binary: it prints
// ADD results in the netconf's cniVersion and errors as the spec's error
// object, which carries cniVersion (types.Error has no such field).
type Plugin struct {
	Stdout  io.Writer
	Etcd    Dial   // how commands reach etcd
	version string // cniVersion of the netconf, once a command has read it
}

// Funcs returns the commands for skel.PluginMainFuncsWithError.
func (p *Plugin) Funcs(ctx context.Context) skel.CNIFuncs {
	run := func(cmd func(context.Context, Dial, *skel.CmdArgs) error) func(*skel.CmdArgs) error {
		return func(args *skel.CmdArgs) error {
			p.noteVersion(args.StdinData)
			return cmd(ctx, p.Etcd, args)
		}
	}
	return skel.CNIFuncs{
		Add: func(args *skel.CmdArgs) error {
			p.noteVersion(args.StdinData)
			r, err := Add(ctx, p.Etcd, args)
			if err != nil {
				return err
			}
			out, err := r.GetAsVersion(p.version)
			if err != nil {
				return types.NewError(types.ErrIncompatibleCNIVersion, "cannot convert result", err.Error())
			}
			return out.PrintTo(p.Stdout)
		},
		Del:    run(Del),
		Check:  run(Check),
		GC:     run(GC),
		Status: run(Status),
	}
}

func (p *Plugin) noteVersion(stdin []byte) {
	var v struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &v) // skel has decoded it already
	p.version = v.CNIVersion
	if p.version == "" {
		p.version = "0.1.0" // what skel assumes of a netconf without one
	}
}

// Version answers VERSION with the supported versions and the caller's
// cniVersion, as the spec asks; skel would answer with its own. A terminal
// on stdin is not read, so that a person can ask too.
func (p *Plugin) Version(stdin *os.File, info version.PluginInfo) *types.Error {
	var in struct {
		CNIVersion string `json:"cniVersion"`
	}
	if fi, err := stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		_ = json.NewDecoder(stdin).Decode(&in) // skel ignores this input; so do we when it is not JSON
	}
	if in.CNIVersion == "" {
		in.CNIVersion = version.Current()
	}
	p.version = in.CNIVersion
	err := json.NewEncoder(p.Stdout).Encode(struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{in.CNIVersion, info.SupportedVersions()})
	if err != nil {
		return types.NewError(types.ErrIOFailure, "writing version", err.Error())
	}
	return nil
}

// PrintError writes e as the spec's error object.
func (p *Plugin) PrintError(e *types.Error) error {
	v := p.version
	if v == "" {
		v = current.ImplementedSpecVersion
	}
	out, err := json.MarshalIndent(struct {
		CNIVersion string `json:"cniVersion"`
		*types.Error
	}{v, e}, "", "    ")
	if err != nil {
		return err
	}
	_, err = p.Stdout.Write(append(out, '\n'))
	return err
}
