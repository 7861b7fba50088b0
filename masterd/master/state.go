package master

import (
	"net"
	"sort"
	"strconv"

	"corral/mesos"
)

// State renders the cluster as Mesos's /master/state. leader is this
// master's own info when it leads.
func (m *Master) State(leader *mesos.MasterInfo) mesos.MasterState {
	m.mu.Lock()
	defer m.mu.Unlock()
	pid := "master@" + net.JoinHostPort(m.cfg.IP, strconv.Itoa(m.cfg.Port))
	s := mesos.MasterState{
		Version:             m.cfg.Version,
		ID:                  m.cfg.ID,
		PID:                 pid,
		Hostname:            m.cfg.Hostname,
		StartTime:           since(m.start),
		ElectedTime:         since(m.start),
		Flags:               m.cfg.Flags,
		Slaves:              []mesos.StateAgent{},
		Frameworks:          []mesos.StateFramework{},
		CompletedFrameworks: []mesos.StateFramework{},
		OrphanTasks:         []mesos.StateTask{},
	}
	if s.Flags == nil {
		s.Flags = map[string]string{}
	}
	if leader != nil {
		s.Leader, s.LeaderInfo = leader.PID, leader
	}
	offered := map[string]mesos.Resources{}   // by agent
	fwOffered := map[string]mesos.Resources{} // by framework
	fwOffers := map[string][]mesos.StateOffer{}
	for fid := range m.frameworks {
		for _, o := range m.alloc.Offers(fid) {
			offered[o.AgentID] = offered[o.AgentID].Add(o.Resources)
			fwOffered[fid] = fwOffered[fid].Add(o.Resources)
			fwOffers[fid] = append(fwOffers[fid], mesos.StateOffer{ID: o.ID, FrameworkID: fid, SlaveID: o.AgentID, Resources: o.Resources.StateJSON()})
		}
	}
	for id, a := range m.agents {
		if !a.rec.Unreachable.IsZero() {
			s.UnreachableSlaves++
			continue
		}
		var used mesos.Resources
		for _, t := range a.tasks {
			used = used.Add(t.info.Resources)
		}
		info := a.rec.Info
		sa := mesos.StateAgent{
			ID:                  id,
			PID:                 "slave(1)@" + net.JoinHostPort(info.IP, strconv.Itoa(info.Port)),
			Hostname:            info.Hostname,
			Port:                info.Port,
			RegisteredTime:      since(a.rec.RegisteredTime),
			ReregisteredTime:    since(a.reregistered),
			Resources:           info.Resources.StateJSON(),
			UsedResources:       used.StateJSON(),
			OfferedResources:    offered[id].StateJSON(),
			UnreservedResources: info.Resources.StateJSON(),
			ReservedResources:   map[string]any{},
			Attributes:          info.Attributes.StateJSON(),
			Active:              a.active(),
			Version:             info.Version,
		}
		if sa.Active {
			s.ActivatedSlaves++
		} else {
			s.DeactivatedSlaves++
		}
		s.Slaves = append(s.Slaves, sa)
	}
	sort.Slice(s.Slaves, func(i, j int) bool { return s.Slaves[i].ID < s.Slaves[j].ID })
	for id, f := range m.frameworks {
		info := f.rec.Info
		sf := mesos.StateFramework{
			ID: id, Name: info.Name, Hostname: info.Hostname, User: info.User, Role: info.Role,
			Principal: info.Principal, WebuiURL: info.WebuiURL,
			Active: f.events != nil, Connected: f.events != nil, Recovered: f.recovered,
			Checkpoint: info.Checkpoint, FailoverTimeout: info.FailoverTimeout,
			RegisteredTime:   since(f.rec.RegisteredTime),
			OfferedResources: fwOffered[id].StateJSON(),
			Tasks:            []mesos.StateTask{}, UnreachableTasks: []mesos.StateTask{},
			CompletedTasks: []mesos.StateTask{}, Offers: fwOffers[id], Executors: []any{},
		}
		if sf.Offers == nil {
			sf.Offers = []mesos.StateOffer{}
		}
		var used mesos.Resources
		for _, t := range f.tasks {
			used = used.Add(t.info.Resources)
			sf.Tasks = append(sf.Tasks, stateTask(t))
		}
		sort.Slice(sf.Tasks, func(i, j int) bool { return sf.Tasks[i].ID < sf.Tasks[j].ID })
		for _, t := range f.completed {
			sf.CompletedTasks = append(sf.CompletedTasks, stateTask(t))
		}
		sf.UsedResources = used.StateJSON()
		sf.Resources = used.Add(fwOffered[id]).StateJSON()
		s.Frameworks = append(s.Frameworks, sf)
	}
	sort.Slice(s.Frameworks, func(i, j int) bool { return s.Frameworks[i].ID < s.Frameworks[j].ID })
	return s
}

func stateTask(t *task) mesos.StateTask {
	return mesos.NewStateTask(t.info, t.frameworkID, t.state, t.statuses)
}
