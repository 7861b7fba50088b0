package master

import (
	"context"
	"testing"
	"time"

	"corral/mesos"
)

// TestOffersComeWithoutWaitingForTheInterval: with an allocation interval
// of an hour, offers still follow at once what makes resources offerable:
// a subscription, what a launch left of its offer, a task's end, a
// revive, a decline behind a filter (to another framework) and an agent
// registering. Before, each waited for the next tick (1 s as deployed).
func TestOffersComeWithoutWaitingForTheInterval(t *testing.T) {
	c := newCluster(t, func(cfg *Config) { cfg.AllocationInterval = time.Hour })
	whole := mesos.MustParseResources("cpus:2;mem:512;ports:[31000-31009]")
	a := c.startAgent("h1", "cpus:2;mem:512;ports:[31000-31009]")
	agentID := a.link.AgentID()
	call := func(call mesos.Call) {
		t.Helper()
		if err := c.master().Call(context.Background(), call); err != nil {
			t.Fatalf("%s: %v", call.Type, err)
		}
	}
	decline := func(f *testFramework, o mesos.Offer, refuse float64) {
		t.Helper()
		call(mesos.Call{FrameworkID: f.id, Type: mesos.CallDecline,
			Decline: &mesos.CallDeclineArgs{OfferIDs: []string{o.ID}, Filters: &mesos.Filters{RefuseSeconds: refuse}}})
	}

	f := c.subscribe(mesos.FrameworkInfo{Name: "fw"})
	if o := f.waitOffer(t, agentID); !o.Resources.Equal(whole) {
		t.Fatalf("first offer = %s, want the whole agent %s", o.Resources, whole)
	} else {
		launch(t, c.master(), f, o, "t1", "cpus:1;mem:64;ports:[31000-31000]", 0)
	}
	rest := mesos.MustParseResources("cpus:1;mem:448;ports:[31001-31009]")
	o := f.waitOffer(t, agentID)
	if !o.Resources.Equal(rest) {
		t.Fatalf("offer after the launch = %s, want what it left, %s", o.Resources, rest)
	}
	// Refused for an hour, the rest is not offered again, but t1's
	// resources break through the filter when t1 ends.
	decline(f, o, 3600)
	waitFor(t, 5*time.Second, "LAUNCH t1", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	a.update(t, f.id, "t1", mesos.TaskFinished, "u1")
	if o = f.waitOffer(t, agentID); !o.Resources.Equal(whole) {
		t.Fatalf("offer after t1 ended = %s, want the whole agent %s", o.Resources, whole)
	}

	// Refused again, the agent comes back at once on REVIVE.
	decline(f, o, 3600)
	call(mesos.Call{FrameworkID: f.id, Type: mesos.CallRevive})
	if o = f.waitOffer(t, agentID); !o.Resources.Equal(whole) {
		t.Fatalf("offer after REVIVE = %s, want the whole agent %s", o.Resources, whole)
	}

	// Declined behind a filter, the agent goes to another framework at once.
	g := c.subscribe(mesos.FrameworkInfo{Name: "other"})
	decline(f, o, 3600)
	if o := g.waitOffer(t, agentID); !o.Resources.Equal(whole) {
		t.Fatalf("offer to the other framework = %s, want the whole agent %s", o.Resources, whole)
	}

	// A new agent is offered as soon as it registered (to f, whose share
	// is the smaller).
	b := c.startAgent("h2", "cpus:1;mem:256")
	if o := f.waitOffer(t, b.link.AgentID()); !o.Resources.Equal(mesos.MustParseResources("cpus:1;mem:256")) {
		t.Fatalf("offer of the new agent = %s, want cpus:1;mem:256", o.Resources)
	}
}
