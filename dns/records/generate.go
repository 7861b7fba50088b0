package records

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"corral/mesos"
)

// ErrNoLeader is returned for a state that names no leading master (a
// standby's). Mesos-DNS keeps its previous records then, and so should the
// caller.
var ErrNoLeader = errors.New("state names no leading master")

// Task labels that carry a container's address for the "mesos" and "docker"
// IP sources.
const (
	MesosIPLabel  = "MesosContainerizer.NetworkSettings.IPAddress"
	DockerIPLabel = "Docker.NetworkSettings.IPAddress"
)

// Generate builds the records Mesos-DNS would serve for st. The caller
// validates cfg. Names are built as Mesos-DNS builds them; a name that would
// not be a valid host name (a label over 63 bytes, say) gets no record.
func Generate(st mesos.MasterState, cfg Config) (RecordSet, error) {
	leader := st.Leader
	if leader == "" && st.LeaderInfo != nil {
		leader = st.LeaderInfo.PID
	}
	if leader == "" {
		return RecordSet{}, ErrNoLeader
	}
	domain := fqdn(cfg.Domain)
	g := &gen{
		cfg:    cfg,
		tail:   "." + domain,
		label:  RFC1123,
		names:  map[string][]Record{},
		seen:   map[string]struct{}{},
		agents: map[string][]netip.Addr{},
	}
	if cfg.EnforceRFC952 {
		g.label = RFC952
	}
	g.frameworkRecords(st.Frameworks)
	g.agentRecords(st.Slaves)
	for _, a := range cfg.NSAddrs {
		g.addAddr(fqdn(cfg.SOAMname), a.Unmap())
	}
	g.masterRecords(leader)
	g.taskRecords(st.Frameworks)
	return RecordSet{&set{
		domain: domain,
		ttl:    cfg.TTL,
		soa: SOA{
			Mname:   fqdn(cfg.SOAMname),
			Rname:   fqdn(strings.ReplaceAll(cfg.SOARname, "@", ".")),
			Refresh: cfg.SOARefresh, Retry: cfg.SOARetry, Expire: cfg.SOAExpire, Minttl: cfg.SOAMinttl,
		},
		names: g.names,
		enum:  g.enum,
	}}, nil
}

type gen struct {
	cfg    Config
	tail   string // "." + domain + "."
	label  labelFunc
	names  map[string][]Record
	seen   map[string]struct{}     // name, type and data of every record added
	agents map[string][]netip.Addr // agent ID → at most one IPv4 and one IPv6
	enum   []Framework
}

// add inserts r unless its name or target is invalid or it is there
// already, and reports whether it did (Mesos-DNS's insertRR).
func (g *gen) add(r Record) bool {
	if !validName(r.Name) || r.Type == TypeSRV && !validName(r.SRV.Target) {
		return false
	}
	key := r.Name + " " + r.Type.String() + " " + r.Host()
	if _, ok := g.seen[key]; ok {
		return false
	}
	g.seen[key] = struct{}{}
	g.names[r.Name] = append(g.names[r.Name], r)
	return true
}

func (g *gen) addAddr(name string, a netip.Addr) bool {
	t := TypeA
	if a.Is6() {
		t = TypeAAAA
	}
	return g.add(Record{Name: name, Type: t, Addr: a})
}

func (g *gen) addSRV(name, target string, port uint16) bool {
	return g.add(Record{Name: name, Type: TypeSRV, SRV: SRV{Weight: g.cfg.SRVWeight, Port: port, Target: target}})
}

// frameworkRecords adds <framework>.<domain> for each framework's scheduler
// address and _framework._tcp.<framework>.<domain> where its PID has a port.
func (g *gen) frameworkRecords(fws []mesos.StateFramework) {
	for _, f := range fws {
		host, port, ok := splitPID(f.PID)
		if !ok {
			host, port = f.Hostname, ""
		}
		ips := g.hostIPs(host)
		if len(ips) == 0 {
			continue
		}
		a := domainFrag(f.Name, g.label) + g.tail
		for _, ip := range ips {
			g.addAddr(a, ip)
		}
		if p, ok := parsePort(port); ok {
			g.addSRV("_framework._tcp."+a, a, p)
		}
	}
}

// agentRecords adds slave.<domain> and _slave._tcp.<domain> from each
// agent's PID and remembers the agents' addresses for their tasks.
func (g *gen) agentRecords(agents []mesos.StateAgent) {
	a := "slave" + g.tail
	for _, s := range agents {
		host, port, ok := splitPID(s.PID)
		if !ok {
			host, port = s.Hostname, strconv.Itoa(s.Port)
		}
		ips := g.hostIPs(host)
		for _, ip := range ips {
			g.addAddr(a, ip)
		}
		if p, ok := parsePort(port); ok && len(ips) > 0 {
			g.addSRV("_slave._tcp"+g.tail, a, p)
		}
		g.agents[s.ID] = ips
	}
}

// masterRecords adds leader.<domain>, master.<domain>, master<N>.<domain>
// and _leader._tcp|_udp.<domain> as Mesos-DNS's masterRecord: configured
// masters are numbered in order, and a leader missing from that list gets
// the next number. Masters given by host name are resolved with LookupHost.
func (g *gen) masterRecords(leader string) {
	_, leaderAddr, ok := strings.Cut(leader, "@")
	if !ok {
		return
	}
	ip, port, err := splitIPPort(leaderAddr)
	if err != nil {
		return
	}
	leaderAP := net.JoinHostPort(ip.String(), port)
	g.addAddr("leader"+g.tail, ip)
	all := "master" + g.tail
	g.addAddr(all, ip)
	if p, ok := parsePort(port); ok {
		g.addSRV("_leader._tcp"+g.tail, "leader"+g.tail, p)
		g.addSRV("_leader._udp"+g.tail, "leader"+g.tail, p)
	}
	leaderNumbered := false
	idx := 0
	for _, m := range g.cfg.Masters {
		host, mport, err := net.SplitHostPort(m)
		if err != nil {
			continue
		}
		ips := g.hostIPs(host)
		if len(ips) == 0 {
			continue
		}
		mip := ips[0]
		isLeader := net.JoinHostPort(mip.String(), mport) == leaderAP
		if !isLeader && !g.addAddr(all, mip) {
			continue // a duplicate
		}
		if isLeader && leaderNumbered {
			continue
		}
		g.addAddr("master"+strconv.Itoa(idx)+g.tail, mip)
		idx++
		if isLeader {
			leaderNumbered = true
		}
	}
	if !leaderNumbered {
		g.addAddr("master"+strconv.Itoa(idx)+g.tail, ip)
	}
}

// taskRecords adds the records of every running task on a known agent.
func (g *gen) taskRecords(fws []mesos.StateFramework) {
	for _, f := range fws {
		ef := Framework{Name: f.Name, Tasks: []Task{}}
		for i := range f.Tasks {
			t := &f.Tasks[i]
			agentIPs, ok := g.agents[t.SlaveID]
			if !ok || t.State != mesos.TaskRunning {
				continue
			}
			if g.cfg.HealthyOnly && unhealthy(t) {
				continue
			}
			ef.Tasks = append(ef.Tasks, g.taskRecord(t, f.Name, agentIPs))
		}
		g.enum = append(g.enum, ef)
	}
}

// taskRecord adds one task's records, as Mesos-DNS's taskContextRecord:
//
//	<task>.<fw>.<domain>, <task>-<hash>-<agent>.<fw>.<domain>  task address
//	<task>.<fw>.slave.<domain>, <canonical>.slave.<domain>      agent address
//	_<task>._tcp|_udp.<fw>.slave.<domain> → <canonical>.slave:<host port>
//	_<task>._tcp|_udp.<fw>.<domain> → the same, without DiscoveryInfo
//	_[<port name>.]_<task>._<proto>.<fw>.<domain> → <canonical>:<DiscoveryInfo port>
func (g *gen) taskRecord(t *mesos.StateTask, fwName string, agentIPs []netip.Addr) Task {
	et := Task{Name: t.Name, ID: t.ID, Records: []EnumRecord{}}
	add := func(r Record) {
		if g.add(r) {
			et.Records = append(et.Records, EnumRecord{Name: r.Name, Host: r.Host(), Rtype: r.Type.String()})
		}
	}
	addAddr := func(name string, a netip.Addr) {
		t := TypeA
		if a.Is6() {
			t = TypeAAAA
		}
		add(Record{Name: name, Type: t, Addr: a})
	}
	addSRV := func(name, target string, port uint16) {
		add(Record{Name: name, Type: TypeSRV, SRV: SRV{Weight: g.cfg.SRVWeight, Port: port, Target: target}})
	}

	di := t.Discovery
	hasDI := di != nil && di.Name != ""
	name := t.Name
	if hasDI {
		name = di.Name
	}
	tname := g.label(name)
	fname := domainFrag(fwName, g.label)
	canonical := tname + "-" + hashString(t.ID) + "-" + agentIDTail(t.SlaveID) + "." + fname
	arec := tname + "." + fname

	for _, ip := range ipsTo4And6(g.taskIPs(t, agentIPs)) {
		addAddr(arec+g.tail, ip)
		addAddr(canonical+g.tail, ip)
	}
	for _, ip := range agentIPs {
		addAddr(arec+".slave"+g.tail, ip)
		addAddr(canonical+".slave"+g.tail, ip)
	}

	slaveHost := canonical + ".slave" + g.tail
	for _, port := range taskPorts(t) {
		for _, proto := range []string{"_tcp", "_udp"} {
			addSRV("_"+tname+"."+proto+"."+fname+".slave"+g.tail, slaveHost, port)
		}
		if !hasDI {
			for _, proto := range []string{"_tcp", "_udp"} {
				addSRV("_"+tname+"."+proto+"."+fname+g.tail, slaveHost, port)
			}
		}
	}
	if !hasDI || di.Ports == nil {
		return et
	}
	for _, p := range di.Ports.Ports {
		if p.Number > 65535 {
			continue
		}
		target := canonical + g.tail
		protos := []string{"tcp", "udp"}
		if proto := g.label(p.Protocol); proto != "" {
			protos = []string{proto}
		}
		var names []string
		for _, proto := range protos {
			names = append(names, "_"+tname+"._"+proto+"."+fname+g.tail)
		}
		if pn := g.label(p.Name); pn != "" {
			for _, n := range names[:len(names):len(names)] {
				names = append(names, "_"+pn+"."+n)
			}
		}
		for _, n := range names {
			addSRV(n, target, uint16(p.Number))
		}
	}
	return et
}

// taskIPs lists a task's addresses from the configured sources in order.
func (g *gen) taskIPs(t *mesos.StateTask, agentIPs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, src := range g.cfg.IPSources {
		switch src {
		case "host":
			out = append(out, agentIPs...)
		case "netinfo":
			if s := latestRunning(t.Statuses); s != nil && s.ContainerStatus != nil {
				for _, ni := range s.ContainerStatus.NetworkInfos {
					for _, ip := range ni.IPAddresses {
						if a, ok := parseIP(ip.IPAddress); ok {
							out = append(out, a)
						}
					}
				}
			}
		case "mesos", "docker":
			key := MesosIPLabel
			if src == "docker" {
				key = DockerIPLabel
			}
			for _, l := range t.Labels {
				if a, ok := parseIP(l.Value); ok && l.Key == key {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// latestRunning is the TASK_RUNNING status with the greatest timestamp (the
// first of equals), as Mesos-DNS's statusIPs: state order is not promised.
func latestRunning(st []mesos.TaskStatus) *mesos.TaskStatus {
	ts, j := -1.0, -1
	for i := range st {
		if st[i].State == mesos.TaskRunning && st[i].Timestamp > ts {
			ts, j = st[i].Timestamp, i
		}
	}
	if j < 0 {
		return nil
	}
	return &st[j]
}

// unhealthy reports whether the task's latest status says healthy: false.
func unhealthy(t *mesos.StateTask) bool {
	var latest *mesos.TaskStatus
	for i := range t.Statuses {
		if latest == nil || t.Statuses[i].Timestamp >= latest.Timestamp {
			latest = &t.Statuses[i]
		}
	}
	return latest != nil && latest.Healthy != nil && !*latest.Healthy
}

// taskPorts expands the task's "ports" resource, "[31000-31001]".
func taskPorts(t *mesos.StateTask) []uint16 {
	s, _ := t.Resources["ports"].(string)
	if s == "" {
		return nil
	}
	rs, err := mesos.ParseRanges(s)
	if err != nil {
		return nil
	}
	var out []uint16
	for _, r := range rs {
		for v := r.Begin; v <= r.End && v <= 65535; v++ {
			out = append(out, uint16(v))
		}
	}
	return out
}

// hostIPs is the address of an agent, framework or master host: the host
// itself if it is an IP literal, else what LookupHost finds, cut to one IPv4
// and one IPv6 address.
func (g *gen) hostIPs(host string) []netip.Addr {
	if a, ok := parseIP(host); ok {
		return []netip.Addr{a}
	}
	if host == "" || g.cfg.LookupHost == nil {
		return nil
	}
	return ipsTo4And6(g.cfg.LookupHost(host))
}

// ipsTo4And6 keeps the first IPv4 and the first IPv6 address, in that order.
func ipsTo4And6(ips []netip.Addr) []netip.Addr {
	var v4, v6 netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		switch {
		case ip.Is4() && !v4.IsValid():
			v4 = ip
		case ip.Is6() && !v6.IsValid():
			v6 = ip
		}
	}
	var out []netip.Addr
	if v4.IsValid() {
		out = append(out, v4)
	}
	if v6.IsValid() {
		out = append(out, v6)
	}
	return out
}

func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// splitPID splits a libprocess PID, "name@host:port".
func splitPID(pid string) (host, port string, ok bool) {
	_, hp, ok := strings.Cut(pid, "@")
	if !ok {
		return "", "", false
	}
	host, port, err := net.SplitHostPort(hp)
	return host, port, err == nil
}

func parsePort(s string) (uint16, bool) {
	p, err := strconv.ParseUint(s, 10, 16)
	return uint16(p), err == nil
}
