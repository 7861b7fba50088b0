package framework

import (
	"context"
	"sort"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/match"
	"corral/mesos"
)

// offers launches what the apps need on the offers and declines the rest.
// Callers hold changeMu.
func (f *Framework) offers(ctx context.Context, offers []mesos.Offer) {
	f.mu.Lock()
	now := f.now()
	needs := f.launchNeeds(now)
	order := make([]string, 0, len(needs))
	for id := range needs {
		order = append(order, id)
	}
	sort.Strings(order)
	b := batch{r: f.rec}
	type accept struct {
		offer mesos.Offer
		infos []mesos.TaskInfo
	}
	var accepts []accept
	var declines []string
	var launched []*instance
	for _, o := range offers {
		remaining := o.Resources
		var infos []mesos.TaskInfo
		for _, appID := range order {
			n := needs[appID]
			if n <= 0 || len(infos) >= f.cfg.MaxInstancesPerOffer {
				continue
			}
			app := f.root.Apps[appID]
			rt := f.runtime(appID)
			if rt.since.IsZero() {
				rt.since = now
			}
			rt.offers++
			req := request(&app)
			cs := constraints(&app)
			avail := o
			avail.Resources = remaining
			ms := match.Fill(req, cs, avail, f.placed(appID), min(n, f.cfg.MaxInstancesPerOffer-len(infos)), f.rnd)
			if len(ms) == 0 {
				rt.unused++
				rt.lastReason = declineReason(req, cs, avail, f.placed(appID))
				continue
			}
			for _, m := range ms {
				in := f.newInstance(&app, o, m, now)
				f.addInstance(in)
				launched = append(launched, in)
				b.put(f.rec.instances.PutOp(in.TaskID, *in))
				infos = append(infos, f.taskInfo(&app, in, m, o.AgentID))
				remaining = remaining.Sub(m.Resources)
				needs[appID]--
			}
			if needs[appID] == 0 {
				rt.since = time.Time{}
			}
		}
		if len(infos) > 0 {
			accepts = append(accepts, accept{o, infos})
		} else {
			declines = append(declines, o.ID)
		}
	}
	// The instances are written with mu released: readers and readiness
	// checks go on meanwhile; changeMu keeps other changes out.
	f.mu.Unlock()
	err := b.commitInBatches(ctx)
	f.mu.Lock()
	if err != nil {
		// Nothing launches that is not stored: a new leader must know it.
		f.log.Warn("storing instances failed, declining offers", "err", err)
		for _, in := range launched {
			f.removeInstance(in)
		}
		for _, a := range accepts {
			declines = append(declines, a.offer.ID)
		}
		accepts = nil
	}
	if len(launched) > 0 {
		f.changed()
	}
	refuse := f.cfg.DeclineRefuse.Seconds()
	for _, n := range needs {
		if n > 0 {
			refuse = 0 // someone still waits: let the offer come back soon
			break
		}
	}
	for _, a := range accepts {
		f.queueCall(mesos.Call{Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
			OfferIDs:   []string{a.offer.ID},
			Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: a.infos}}},
			Filters:    &mesos.Filters{RefuseSeconds: 0},
		}})
	}
	if len(declines) > 0 {
		f.filtered = f.filtered || refuse > 0
		f.queueCall(mesos.Call{Type: mesos.CallDecline, Decline: &mesos.CallDeclineArgs{
			OfferIDs: declines, Filters: &mesos.Filters{RefuseSeconds: refuse}}})
	}
	f.mu.Unlock()
	f.flush(ctx)
}

// placed lists where an app's alive instances are, oldest first, for the
// constraints. Callers hold mu.
func (f *Framework) placed(appID string) []match.Placed {
	var ins []*instance
	for _, in := range f.byApp[appID] {
		if in.alive() && !in.Killing {
			ins = append(ins, in)
		}
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].StagedAt.Before(ins[j].StagedAt) })
	out := make([]match.Placed, len(ins))
	for i, in := range ins {
		out[i] = match.Placed{AgentID: in.AgentID, Hostname: in.Host, Attributes: in.Attributes}
	}
	return out
}

// declineReason says why an offer could not take one instance.
func declineReason(req match.Request, cs []match.Constraint, o mesos.Offer, placed []match.Placed) string {
	if ok, reason := match.Satisfies(cs, o, placed); !ok {
		return reason
	}
	if _, ok, reason := match.MatchOffer(req, o.Resources); !ok {
		return reason
	}
	return "instance limit per offer"
}

// request is what one instance of app needs from an offer.
func request(app *marathon.App) match.Request {
	req := match.Request{CPUs: app.Cpus, Mem: app.Mem, Disk: app.Disk, GPUs: float64(app.Gpus),
		RequirePorts: app.RequirePorts, AcceptedRoles: app.AcceptedResourceRoles}
	if app.HasNonHostNetworks() {
		if app.Container != nil {
			for _, pm := range app.Container.PortMappings {
				if pm.HostPort != nil {
					req.HostPorts = append(req.HostPorts, uint32(*pm.HostPort))
				}
			}
		}
		return req
	}
	for _, pd := range app.PortDefinitions {
		if app.RequirePorts {
			req.HostPorts = append(req.HostPorts, uint32(pd.Port))
		} else {
			req.HostPorts = append(req.HostPorts, 0)
		}
	}
	return req
}

// constraints parses the app's constraints; validation already refused
// invalid ones, which are skipped here.
func constraints(app *marathon.App) []match.Constraint {
	var cs []match.Constraint
	for _, c := range app.Constraints {
		if p, err := match.ParseConstraint(c); err == nil {
			cs = append(cs, p)
		}
	}
	return cs
}

// newInstance records one instance launched from offer o.
func (f *Framework) newInstance(app *marathon.App, o mesos.Offer, m match.Match, now time.Time) *instance {
	in := &instance{
		TaskID:     marathon.SafeID(app.ID) + "." + mesos.NewUUID(),
		AppID:      app.ID,
		Version:    app.Version,
		Config:     configVersion(app),
		AgentID:    o.AgentID,
		Host:       o.Hostname,
		Attributes: o.Attributes,
		StagedAt:   now,
		State:      mesos.TaskStaging,
	}
	for _, p := range m.Ports {
		in.Ports = append(in.Ports, int(p))
	}
	in.Service = app.ServicePorts()
	return in
}
