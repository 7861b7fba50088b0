package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The nftables table "corral" (family ip) in the host namespace:
//
//	chain prerouting  { type nat hook prerouting priority dstnat
//	    fib daddr type local jump ports
//	    iifname BRIDGE ip daddr GATEWAY tcp dport SERVICE-PORTS dnat to 127.0.0.1 }
//	chain output      { type nat hook output priority -100
//	    fib daddr type local jump ports }
//	chain postrouting { type nat hook postrouting priority srcnat
//	    jump masq
//	    ip saddr SUBNET oifname != BRIDGE masquerade                  # egress
//	    oifname BRIDGE ct status dnat ip saddr SUBNET masquerade      # hairpin
//	    oifname BRIDGE ip saddr 127.0.0.0/8 masquerade }              # the host's localhost:hostPort
//	chain input       { type filter hook input priority filter
//	    iifname BRIDGE ip daddr 127.0.0.0/8 ct status != dnat drop }
//	chain ports { per task: meta l4proto P th dport HOSTPORT dnat to IP:PORT  comment TASK }
//	chain masq  { per task on a CNI network: ip daddr IP ct status dnat masquerade  comment TASK }
//
// The base chains are rebuilt whole when agentd starts (in one transaction);
// ports and masq hold only tasks' rules, each tagged with its task's ID in
// the rule's comment, and are never flushed: rules of running tasks stay in
// force across agentd restarts. The service-port rule lets a router that
// listens on 127.0.0.1 serve bridged containers; route_localnet on the bridge
// makes that DNAT (and the host's own localhost:hostPort) routable, and the
// input rule keeps containers from reaching the host's loopback otherwise.
//
// Each container namespace has its own table "corral":
//
//	chain output      { type nat hook output priority -100
//	    ip daddr 127.0.0.1 tcp dport SERVICE-PORTS dnat to NODE }
//	chain postrouting { type nat hook postrouting priority srcnat
//	    oifname != "lo" ip saddr 127.0.0.0/8 masquerade }
//
// so that localhost:<servicePort> inside the container reaches the node's
// router, as it does for tasks on the host network.
const tableName = "corral"

const (
	chainPorts = "ports"
	chainMasq  = "masq"
)

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits.
const ipsDstNAT = 0x20

var loopback = netip.MustParsePrefix("127.0.0.0/8")

func table() *nftables.Table {
	return &nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4}
}

func baseChain(t *nftables.Table, name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}
}

// nftConn opens nftables in the namespace whose handle is fd.
func nftConn(fd int) (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return nil, fmt.Errorf("opening nftables: %w", err)
	}
	return c, nil
}

// hostRules are the parameters of the host table's base chains.
type hostRules struct {
	bridge       string
	subnet       netip.Prefix
	gateway      netip.Addr
	servicePorts PortRange
}

// installHostTable creates the host table if needed and rebuilds its base
// chains, leaving the tasks' rules in ports and masq alone.
func installHostTable(fd int, r hostRules) error {
	c, err := nftConn(fd)
	if err != nil {
		return err
	}
	t := c.AddTable(table())
	ports := c.AddChain(&nftables.Chain{Name: chainPorts, Table: t})
	masq := c.AddChain(&nftables.Chain{Name: chainMasq, Table: t})
	pre := c.AddChain(baseChain(t, "prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest))
	out := c.AddChain(baseChain(t, "output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest))
	post := c.AddChain(baseChain(t, "postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource))
	in := c.AddChain(baseChain(t, "input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter))
	for _, ch := range []*nftables.Chain{pre, out, post, in} {
		c.FlushChain(ch)
	}
	add := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(exprs...)})
	}
	add(pre, fibDaddrLocal(), jump(ports.Name))
	add(pre, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, r.bridge), ipAddr(16, r.gateway), tcpDportRange(r.servicePorts), dnat(netip.MustParseAddr("127.0.0.1"), 0))
	add(out, fibDaddrLocal(), jump(ports.Name))
	add(post, jump(masq.Name))
	add(post, ipPrefix(12, r.subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, r.bridge), masquerade())
	add(post, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, r.bridge), ctDNAT(expr.CmpOpNeq), ipPrefix(12, r.subnet), masquerade())
	add(post, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, r.bridge), ipPrefix(12, loopback), masquerade())
	add(in, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, r.bridge), ipPrefix(16, loopback), ctDNAT(expr.CmpOpEq), drop())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing the nftables table %s: %w", tableName, err)
	}
	return nil
}

// forward is one task's DNAT of a host port to its container.
type forward struct {
	portMapping
	IP         netip.Addr `json:"ip"`
	Masquerade bool       `json:"masquerade,omitempty"` // CNI networks: replies must come back through the host
}

// replaceTaskRules deletes the rules tagged id and adds fwds' in one
// transaction.
func replaceTaskRules(fd int, id string, fwds []forward) error {
	c, err := nftConn(fd)
	if err != nil {
		return err
	}
	t := table()
	ports := &nftables.Chain{Name: chainPorts, Table: t}
	masq := &nftables.Chain{Name: chainMasq, Table: t}
	if err := delTagged(c, id); err != nil {
		return err
	}
	tag := comment(id)
	masqueraded := map[netip.Addr]bool{}
	for _, f := range fwds {
		c.AddRule(&nftables.Rule{Table: t, Chain: ports, UserData: tag, Exprs: join(
			l4proto(f.Protocol), dport(f.HostPort), dnat(f.IP, f.ContainerPort))})
		if f.Masquerade && !masqueraded[f.IP] {
			masqueraded[f.IP] = true
			c.AddRule(&nftables.Rule{Table: t, Chain: masq, UserData: tag, Exprs: join(
				ipAddr(16, f.IP), ctDNAT(expr.CmpOpNeq), masquerade())})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing the port forwards of %s: %w", id, err)
	}
	return nil
}

// deleteTaskRules deletes the rules tagged id.
func deleteTaskRules(fd int, id string) error {
	c, err := nftConn(fd)
	if err != nil {
		return err
	}
	if err := delTagged(c, id); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("deleting the port forwards of %s: %w", id, err)
	}
	return nil
}

// delTagged queues the deletion of the rules tagged id. A missing table has
// no rules.
func delTagged(c *nftables.Conn, id string) error {
	t := table()
	if ok, err := hasTable(c); !ok {
		return err
	}
	for _, name := range []string{chainPorts, chainMasq} {
		ch := &nftables.Chain{Name: name, Table: t}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return fmt.Errorf("reading chain %s: %w", name, err)
		}
		for _, r := range rules {
			if tag, ok := tagOf(r.UserData); !ok || tag != comment0(id) {
				continue
			}
			if err := c.DelRule(&nftables.Rule{Table: t, Chain: ch, Handle: r.Handle}); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasTable reports whether the host table exists.
func hasTable(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("listing nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == tableName {
			return true, nil
		}
	}
	return false, nil
}

// installContainerTable makes localhost:<service port> inside a container
// reach the node at node.
func installContainerTable(fd int, node netip.Addr, servicePorts PortRange) error {
	c, err := nftConn(fd)
	if err != nil {
		return err
	}
	t := c.AddTable(table())
	out := c.AddChain(baseChain(t, "output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest))
	post := c.AddChain(baseChain(t, "postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource))
	c.FlushChain(out)
	c.FlushChain(post)
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: join(
		ipAddr(16, netip.MustParseAddr("127.0.0.1")), tcpDportRange(servicePorts), dnat(node, 0))})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: join(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, "lo"), ipPrefix(12, loopback), masquerade())})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing the container's nftables table: %w", err)
	}
	return nil
}

// The task's ID is the rule's comment, in libnftnl's user data format, so
// that `nft list ruleset` shows it; user data holds at most 255 bytes.
func comment(id string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, comment0(id))
}

func comment0(id string) string {
	if len(id) > 250 {
		return id[:250]
	}
	return id
}

func tagOf(ud []byte) (string, bool) {
	s, ok := userdata.GetString(ud, userdata.TypeComment)
	return s, ok && s != ""
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func masquerade() []expr.Any { return []expr.Any{&expr.Masq{}} }

// ifname matches the input or output interface's name.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: b},
	}
}

// ipAddr matches the IPv4 header's address at offset (12 source, 16
// destination).
func ipAddr(offset uint32, a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

func ipPrefix(offset uint32, p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	b := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// ctDNAT matches connections the kernel destination-NATed (op Neq) or not
// (op Eq).
func ctDNAT(op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

func l4proto(proto string) []expr.Any {
	p := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		p = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// dport matches the TCP or UDP destination port (the same offset in both).
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func tcpDportRange(r PortRange) []expr.Any {
	return join(l4proto("tcp"), []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.First)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Last)},
	})
}

// dnat rewrites the destination to ip, and to port unless it is 0.
func dnat(ip netip.Addr, port uint16) []expr.Any {
	b := ip.As4()
	out := []expr.Any{&expr.Immediate{Register: 1, Data: b[:]}}
	nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}
	if port != 0 {
		out = append(out, &expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)})
		nat.RegProtoMin = 2
	}
	return append(out, nat)
}
