// Package network wires the networks of an agent's tasks, chosen by the
// NetworkInfos of a task's ContainerInfo (Marathon's networks):
//
//   - none: the host's network; nothing to do.
//   - the bridge network (Marathon's container/bridge, named mesos-bridge):
//     a veth pair from a namespace of the task's own to a per-agent Linux
//     bridge, an address from a per-agent allocator on disk, nftables DNAT
//     from the task's host ports to its container ports (from other hosts,
//     from the host itself, and hairpin), masquerade on egress.
//   - any other name: a CNI network, the conflist of that name run through
//     libcni (ADD at launch, DEL at every end, CHECK on recovery, GC at
//     start). For a macvlan network the host keeps a macvlan shim on the
//     parent with a route to each local container, so that the node's
//     router and health checks reach them.
//
// A task with a namespace of its own gets /etc/resolv.conf naming the node's
// resolver, and localhost:<servicePort> inside it reaches the node's
// router, as for tasks on the host network.
//
// Namespaces are pinned under the state directory, so they outlive agentd;
// each task's record there says what to undo. Teardown runs at every end of
// a task, Recover re-attaches after an agentd restart, and Collect removes
// what belongs to no live task when agentd starts. All work in other
// namespaces goes through handles (netlink, nftables) or short-lived
// threads that are thrown away.
package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"corral/atomicfile"
	"corral/mesos"
)

// Manager sets up and tears down the networks of an agent's tasks.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	hostNS  netns.NsHandle // the host side; owned
	foreign bool           // hostNS is not agentd's own namespace
	cni     *libcni.CNIConfig
	alloc   *allocator

	mu            sync.Mutex // guards tableReady and bridgeChecked, and serialises host-side setup
	tableReady    bool
	bridgeChecked bool
}

// Attachment is what a task's container needs of its network and what the
// agent reports of it. The zero Attachment is the host's network.
type Attachment struct {
	NetNS        string              // the namespace to join, by path
	ResolvConf   string              // the file to bind at /etc/resolv.conf
	NetworkInfos []mesos.NetworkInfo // for TASK_RUNNING's container status
}

// IP returns the task's first address, "" on the host network.
func (a Attachment) IP() string {
	for _, n := range a.NetworkInfos {
		for _, ip := range n.IPAddresses {
			return ip.IPAddress
		}
	}
	return ""
}

// New validates cfg, prepares the state directory and opens the host
// namespace.
func New(cfg Config, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.Dir, netnsDir(cfg), recordDir(cfg)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating the network state directory: %w", err)
		}
	}
	m := &Manager{cfg: cfg, log: log.With("component", "network"), alloc: newAllocator(filepath.Join(cfg.Dir, "bridge"), cfg.BridgeSubnet)}
	var err error
	if cfg.HostNetNS != "" {
		m.hostNS, err = netns.GetFromPath(cfg.HostNetNS)
		m.foreign = true
	} else {
		m.hostNS, err = netns.Get()
	}
	if err != nil {
		return nil, fmt.Errorf("opening the host network namespace: %w", err)
	}
	if r := cfg.resolver(); !r.IsValid() || r.IsLoopback() {
		m.log.Warn("containers with a network of their own get no usable nameserver: their loopback is their own; set --dns-resolver or --advertise-ip to a routable address", "resolver", r)
	}
	m.cni = newCNI(cfg, m.hostNS, m.foreign, io.Discard)
	if err := m.writeResolvConf(); err != nil {
		m.hostNS.Close()
		return nil, err
	}
	return m, nil
}

// Close releases the host namespace handle. Tasks' networks stay.
func (m *Manager) Close() error { return m.hostNS.Close() }

func netnsDir(cfg Config) string  { return filepath.Join(cfg.Dir, "netns") }
func recordDir(cfg Config) string { return filepath.Join(cfg.Dir, "tasks") }
func cacheDir(cfg Config) string  { return filepath.Join(cfg.Dir, "cni") }

func (m *Manager) nsPath(id string) string     { return filepath.Join(netnsDir(m.cfg), id) }
func (m *Manager) recordPath(id string) string { return filepath.Join(recordDir(m.cfg), id+".json") }
func (m *Manager) resolvPath() string          { return filepath.Join(m.cfg.Dir, "resolv.conf") }

// writeResolvConf writes the containers' resolv.conf: the node's resolver,
// with the host's search domains and options.
func (m *Manager) writeResolvConf() error {
	var b strings.Builder
	b.WriteString("# written by agentd: the node's resolver\n")
	if r := m.cfg.resolver(); r.IsValid() {
		fmt.Fprintf(&b, "nameserver %s\n", r)
	}
	if host, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, l := range strings.Split(string(host), "\n") {
			if f := strings.Fields(l); len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
				b.WriteString(strings.TrimSpace(l) + "\n")
			}
		}
	}
	if cur, err := os.ReadFile(m.resolvPath()); err == nil && string(cur) == b.String() {
		return nil
	}
	// A new file, not an overwrite: running containers keep the one they bound.
	if err := atomicfile.WriteFile(m.resolvPath(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the containers' resolv.conf: %w", err)
	}
	return nil
}

// cniID matches the container IDs the CNI specification allows.
var cniID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// Setup gives the task id its networks as info asks and returns what its
// container needs. On failure it undoes what it did. A task error (bad
// networks, ports it does not own) wraps ErrInvalid.
func (m *Manager) Setup(ctx context.Context, id string, info mesos.TaskInfo) (_ Attachment, retErr error) {
	p, err := makePlan(m.cfg.BridgeNetwork, info)
	if err != nil {
		return Attachment{}, err
	}
	if p.host() {
		return Attachment{}, nil
	}
	if !cniID.MatchString(id) {
		return Attachment{}, fmt.Errorf("invalid container ID %q for a network namespace, must match %s", id, cniID)
	}
	rec := record{ID: id, NetNS: m.nsPath(id)}
	lists := make([]*libcni.NetworkConfigList, len(p.cni))
	for i, c := range p.cni {
		list, err := loadConfList(m.cfg.CNIConfDir, c.network)
		if err != nil {
			return Attachment{}, err
		}
		lists[i] = list
		rec.CNI = append(rec.CNI, cniAttachment{Network: c.network, IfName: c.ifName, ConfList: list.Bytes,
			Ports: c.ports, Capable: capablePortMappings(list)})
	}
	if p.bridge != nil {
		rec.Bridge = &bridgeAttachment{Veth: vethName(id)}
	}
	if _, err := os.Stat(rec.NetNS); err == nil {
		return Attachment{}, fmt.Errorf("task %s already has a network namespace", id)
	}
	// The record goes first: whatever happens next, Teardown or Collect
	// knows what to undo.
	if err := m.writeRecord(rec); err != nil {
		return Attachment{}, err
	}
	defer func() {
		if retErr != nil {
			if err := m.teardown(context.WithoutCancel(ctx), rec); err != nil {
				m.log.Warn("undoing a failed network setup", "task", id, "err", err)
			}
		}
	}()
	if err := newNetNS(rec.NetNS); err != nil {
		return Attachment{}, err
	}
	cont, contNS, err := handleAt(rec.NetNS)
	if err != nil {
		return Attachment{}, err
	}
	defer contNS.Close()
	defer cont.Close()
	if err := loopbackUp(cont); err != nil {
		return Attachment{}, err
	}
	// localhost:<servicePort> leaves the container with a loopback source
	// until masqueraded: route_localnet lets it be routed.
	if err := setSysctls(contNS, map[string]string{"ipv4/conf/all/route_localnet": "1"}); err != nil {
		return Attachment{}, err
	}
	var fwds []forward
	var infos []mesos.NetworkInfo
	node := m.cfg.NodeIP
	if p.bridge != nil {
		ip, err := m.setupBridge(id, contNS, cont)
		rec.Bridge.IP = ip
		if err != nil {
			return Attachment{}, err
		}
		node = m.cfg.gateway()
		for _, pm := range p.bridge.ports {
			fwds = append(fwds, forward{portMapping: pm, IP: ip})
		}
		infos = append(infos, reported(info, m.cfg.BridgeNetwork, []netip.Addr{ip}))
	}
	for i, c := range p.cni {
		a := &rec.CNI[i]
		res, err := m.cni.AddNetworkList(ctx, lists[i], runtimeConf(id, rec.NetNS, a.IfName, a.Ports, a.Capable))
		if err != nil {
			return Attachment{}, fmt.Errorf("adding the task to CNI network %q: %w", c.network, err)
		}
		if a.IPs, err = resultIPs(res, a.IfName); err != nil {
			return Attachment{}, err
		}
		if err := m.writeRecord(rec); err != nil {
			return Attachment{}, err
		}
		if parent := macvlanParent(lists[i]); parent != "" {
			if a.Shim, err = m.routeThroughShim(parent, a.IPs); err != nil {
				return Attachment{}, err
			}
		}
		if !a.Capable {
			if ip, ok := firstIPv4(a.IPs); ok {
				for _, pm := range a.Ports {
					fwds = append(fwds, forward{portMapping: pm, IP: ip, Masquerade: true})
				}
			} else if len(a.Ports) > 0 {
				return Attachment{}, fmt.Errorf("CNI network %q gave the task no IPv4 address to forward its ports to", c.network)
			}
		}
		infos = append(infos, reported(info, c.network, a.IPs))
	}
	rec.Forwards, rec.Infos = fwds, infos
	if err := m.writeRecord(rec); err != nil {
		return Attachment{}, err
	}
	if len(fwds) > 0 {
		if err := m.installForwards(id, fwds); err != nil {
			return Attachment{}, err
		}
	}
	if node.IsValid() {
		if err := installContainerTable(int(contNS), node, m.cfg.ServicePorts); err != nil {
			return Attachment{}, err
		}
	}
	return Attachment{NetNS: rec.NetNS, ResolvConf: m.resolvPath(), NetworkInfos: infos}, nil
}

// setupBridge connects the container to the bridge and returns its address.
func (m *Manager) setupBridge(id string, contNS netns.NsHandle, cont *netlink.Handle) (netip.Addr, error) {
	host, err := netlink.NewHandleAt(m.hostNS)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netlink in the host namespace: %w", err)
	}
	defer host.Close()
	br, err := m.ensureBridge(host)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := m.ensureTable(); err != nil {
		return netip.Addr{}, err
	}
	ip, err := m.alloc.Allocate(id)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := addVeth(host, br, vethName(id), contNS, cont, ip, m.cfg.BridgeSubnet, m.cfg.gateway()); err != nil {
		return ip, err
	}
	return ip, nil
}

// ensureBridge makes sure the bridge is there and routes as it must.
func (m *Manager) ensureBridge(host *netlink.Handle) (netlink.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.bridgeChecked {
		if err := checkBridgeSubnet(host, m.cfg.BridgeName, m.cfg.BridgeSubnet); err != nil {
			return nil, err
		}
		m.bridgeChecked = true
	}
	br, err := ensureBridge(host, m.cfg.BridgeName, m.cfg.BridgeSubnet, m.cfg.gateway())
	if err != nil {
		return nil, err
	}
	// The host's own localhost:hostPort, and the service-port DNAT to
	// 127.0.0.1, route loopback addresses over the bridge.
	if err := setSysctls(m.hostNS, map[string]string{"ipv4/conf/" + m.cfg.BridgeName + "/route_localnet": "1"}); err != nil {
		return nil, err
	}
	return br, nil
}

// ensureTable turns on forwarding and installs the host's nftables table,
// rebuilding its base chains once per agentd run.
func (m *Manager) ensureTable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tableReady {
		return nil
	}
	if err := setSysctls(m.hostNS, map[string]string{"ipv4/ip_forward": "1"}); err != nil {
		return err
	}
	err := installHostTable(int(m.hostNS), hostRules{
		bridge: m.cfg.BridgeName, subnet: m.cfg.BridgeSubnet, gateway: m.cfg.gateway(), servicePorts: m.cfg.ServicePorts,
	})
	if err != nil {
		return err
	}
	m.tableReady = true
	return nil
}

// installForwards installs the task's port forwards (none: it only makes
// sure the host's table is there). If that fails, someone may have removed
// the table since it was installed: it is installed again, once.
func (m *Manager) installForwards(id string, fwds []forward) error {
	if err := m.ensureTable(); err != nil {
		return err
	}
	err := replaceTaskRules(int(m.hostNS), id, fwds)
	if err == nil {
		return nil
	}
	m.mu.Lock()
	m.tableReady = false
	m.mu.Unlock()
	if terr := m.ensureTable(); terr != nil {
		return errors.Join(err, terr)
	}
	return replaceTaskRules(int(m.hostNS), id, fwds)
}

// routeThroughShim routes the host to ips through the macvlan shim on
// parent and returns the shim's name.
func (m *Manager) routeThroughShim(parent string, ips []netip.Addr) (string, error) {
	host, err := netlink.NewHandleAt(m.hostNS)
	if err != nil {
		return "", fmt.Errorf("netlink in the host namespace: %w", err)
	}
	defer host.Close()
	m.mu.Lock()
	shim, err := ensureShim(host, parent)
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	var v4 []netip.Addr
	for _, ip := range ips {
		if ip.Is4() {
			v4 = append(v4, ip)
		}
	}
	return shim, addShimRoutes(host, shim, v4)
}

// Teardown releases everything of the task id's network: CNI DEL, routes,
// port forwards, veth, address, namespace. It is idempotent; a task on the
// host network has nothing to release. When a step fails (a CNI DEL with
// etcd away) the others still run and the task's record stays, so that
// Collect tries again when agentd next starts.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	rec, ok, err := m.readRecord(id)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := os.Stat(m.nsPath(id)); err != nil {
			return nil // host network, or already released
		}
		rec = record{ID: id, NetNS: m.nsPath(id)}
	}
	return m.teardown(ctx, rec)
}

func (m *Manager) teardown(ctx context.Context, rec record) error {
	ctx, cancel := context.WithTimeoutCause(ctx, m.cfg.TeardownTimeout,
		fmt.Errorf("network teardown of task %s took over %v", rec.ID, m.cfg.TeardownTimeout))
	defer cancel()
	var errs []error
	nsPath := ""
	if isNetNS(rec.NetNS) {
		nsPath = rec.NetNS
	}
	var routed []netip.Addr
	for i := len(rec.CNI) - 1; i >= 0; i-- {
		a := rec.CNI[i]
		if a.Shim != "" {
			routed = append(routed, a.IPs...)
		}
		list, err := libcni.NetworkConfFromBytes(a.ConfList)
		if err != nil {
			errs = append(errs, fmt.Errorf("decoding the recorded configuration of network %q: %w", a.Network, err))
			continue
		}
		err = m.cni.DelNetworkList(ctx, list, runtimeConf(rec.ID, nsPath, a.IfName, a.Ports, a.Capable))
		if err != nil && strings.Contains(err.Error(), "failed to find plugin") {
			// A plugin that is not installed never ran: nothing of it to undo.
			m.log.Warn("CNI DEL skipped: plugin not found", "task", rec.ID, "network", a.Network, "err", err)
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing the task from CNI network %q: %w", a.Network, err))
		}
	}
	host, err := netlink.NewHandleAt(m.hostNS)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("netlink in the host namespace: %w", err))...)
	}
	defer host.Close()
	if len(routed) > 0 {
		if err := delShimRoutes(host, routed); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteTaskRules(int(m.hostNS), rec.ID); err != nil {
		errs = append(errs, err)
	}
	if err := delLink(host, vethName(rec.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := m.alloc.Release(rec.ID); err != nil {
		errs = append(errs, err)
	}
	if err := removeNetNS(rec.NetNS); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		// Last, and only when all went: the record is how Collect finds
		// whatever is left.
		if err := os.Remove(m.recordPath(rec.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Recover re-attaches to the network of a task that kept running while
// agentd was away: it puts back its port forwards and shim routes (the
// host's table is rebuilt at each start), checks its CNI attachments, and
// returns what Setup returned. A task without a record is on the host
// network.
func (m *Manager) Recover(ctx context.Context, id string) (Attachment, error) {
	rec, ok, err := m.readRecord(id)
	if err != nil || !ok {
		return Attachment{}, err
	}
	if !isNetNS(rec.NetNS) {
		return Attachment{}, fmt.Errorf("the network namespace of task %s is gone", id)
	}
	if rec.Bridge != nil {
		host, err := netlink.NewHandleAt(m.hostNS)
		if err != nil {
			return Attachment{}, fmt.Errorf("netlink in the host namespace: %w", err)
		}
		_, err = m.ensureBridge(host)
		host.Close()
		if err != nil {
			return Attachment{}, err
		}
	}
	if rec.Bridge != nil || len(rec.Forwards) > 0 {
		if err := m.installForwards(id, rec.Forwards); err != nil {
			return Attachment{}, err
		}
	}
	for _, a := range rec.CNI {
		if a.Shim != "" {
			if parent := macvlanParentOf(a.ConfList); parent != "" {
				if _, err := m.routeThroughShim(parent, a.IPs); err != nil {
					return Attachment{}, err
				}
			}
		}
		list, err := libcni.NetworkConfFromBytes(a.ConfList)
		if err != nil {
			return Attachment{}, fmt.Errorf("decoding the recorded configuration of network %q: %w", a.Network, err)
		}
		if err := m.cni.CheckNetworkList(ctx, list, runtimeConf(id, rec.NetNS, a.IfName, a.Ports, a.Capable)); err != nil {
			m.log.Warn("CNI CHECK of a recovered task failed", "task", id, "network", a.Network, "err", err)
		}
	}
	return Attachment{NetNS: rec.NetNS, ResolvConf: m.resolvPath(), NetworkInfos: rec.Infos}, nil
}

func macvlanParentOf(conflist []byte) string {
	list, err := libcni.NetworkConfFromBytes(conflist)
	if err != nil {
		return ""
	}
	return macvlanParent(list)
}

func firstIPv4(ips []netip.Addr) (netip.Addr, bool) {
	for _, ip := range ips {
		if ip.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func ipAddresses(ips []netip.Addr) []mesos.IPAddress {
	var out []mesos.IPAddress
	for _, ip := range ips {
		proto := "IPv4"
		if ip.Is6() {
			proto = "IPv6"
		}
		out = append(out, mesos.IPAddress{Protocol: proto, IPAddress: ip.String()})
	}
	return out
}

// reported is the task's NetworkInfo for network as the agent reports it,
// the way Mesos does: as the task asked for it (labels, port mappings) with
// the addresses it got.
func reported(info mesos.TaskInfo, network string, ips []netip.Addr) mesos.NetworkInfo {
	out := mesos.NetworkInfo{Name: network}
	for _, n := range info.Container.NetworkInfos {
		if n.Name == network {
			out = n
			break
		}
	}
	out.IPAddresses = ipAddresses(ips)
	return out
}

// ContainerPort returns the container port that the task's hostPort is
// forwarded to (a health check given the host port reaches the container
// at its own address), or hostPort when none is.
func (a Attachment) ContainerPort(hostPort uint32) uint32 {
	for _, n := range a.NetworkInfos {
		for _, pm := range n.PortMappings {
			if pm.HostPort == hostPort {
				return pm.ContainerPort
			}
		}
	}
	return hostPort
}
