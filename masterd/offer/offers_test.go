package offer

import (
	"slices"
	"strings"
	"testing"
	"time"

	"corral/mesos"
)

func offerIDs(offers []Offer) []string {
	out := make([]string, len(offers))
	for i, o := range offers {
		out[i] = o.ID
	}
	return out
}

func TestOfferIDs(t *testing.T) {
	a := newTest(t, func(c *Config) { c.IDPrefix = "abc" })
	a.AddFramework("a", "r")
	a.AddAgent("agent-00", res("cpus:1;mem:64"))
	a.AddAgent("agent-01", res("cpus:1;mem:64"))
	offers := allocate(t, a, t0)
	if got, want := offerIDs(offers), []string{"abc-O1", "abc-O2"}; !slices.Equal(got, want) {
		t.Errorf("offer IDs = %v, want %v", got, want)
	}
	if got := a.Offers("a"); !slices.Equal(offerIDs(got), offerIDs(offers)) {
		t.Errorf("Offers(a) = %v, want %v", offerIDs(got), offerIDs(offers))
	}
	if o := offers[0]; o.FrameworkID != "a" || o.AgentID != "agent-00" || !o.Created.Equal(t0) || !o.Resources.Equal(res("cpus:1;mem:64")) {
		t.Errorf("offer = %+v", o)
	}
}

func TestRescind(t *testing.T) {
	tests := []struct {
		name          string
		rescind       func(a *Allocator) []Offer
		wantRescinded []string
		want          []string // next cycle
		reactivate    bool
		wantAfter     []string // cycle after ActivateAgent
	}{{
		name:          "remove agent",
		rescind:       func(a *Allocator) []Offer { return a.RemoveAgent("agent-00") },
		wantRescinded: []string{"a@agent-00"},
		want:          []string{},
	}, {
		name:          "deactivate agent",
		rescind:       func(a *Allocator) []Offer { return a.DeactivateAgent("agent-00") },
		wantRescinded: []string{"a@agent-00"},
		want:          []string{},
		reactivate:    true,
		wantAfter:     []string{"a@agent-00"}, // shares are equal again
	}, {
		name:          "unknown agent",
		rescind:       func(a *Allocator) []Offer { return a.RemoveAgent("nope") },
		wantRescinded: []string{},
		want:          []string{},
	}, {
		name:          "remove framework frees its offers",
		rescind:       func(a *Allocator) []Offer { return a.RemoveFramework("a") },
		wantRescinded: []string{"a@agent-00"},
		want:          []string{"b@agent-00"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddFramework("a", "r")
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			first := allocate(t, a, t0)
			a.AddFramework("b", "r")
			got := tt.rescind(a)
			check(t, a)
			if !slices.Equal(grants(got), tt.wantRescinded) {
				t.Fatalf("rescinded %v, want %v", grants(got), tt.wantRescinded)
			}
			if len(got) > 0 && got[0].ID != first[0].ID {
				t.Errorf("rescinded offer %s, want %s", got[0].ID, first[0].ID)
			}
			if len(got) > 0 {
				if _, err := a.Accept("a", got[0].ID, res("cpus:1"), 0, t0); err == nil {
					t.Errorf("Accept(rescinded offer) = nil, want an error")
				}
			}
			if next := grants(allocate(t, a, t0.Add(time.Second))); !slices.Equal(next, tt.want) {
				t.Errorf("Allocate() = %v, want %v", next, tt.want)
			}
			if tt.reactivate {
				a.ActivateAgent("agent-00")
				if next := grants(allocate(t, a, t0.Add(2*time.Second))); !slices.Equal(next, tt.wantAfter) {
					t.Errorf("Allocate() after ActivateAgent = %v, want %v", next, tt.wantAfter)
				}
			}
		})
	}
}

func TestRemoveAgentForgetsAllocations(t *testing.T) {
	a := newTest(t, nil)
	a.AddFramework("a", "r")
	a.AddFramework("b", "r")
	a.AddAgent("agent-00", res("cpus:8;mem:2048"))
	a.AddAgent("agent-01", res("cpus:4;mem:1024"))
	a.AddAgent("agent-02", res("cpus:4;mem:1024"))
	a.Allocated("a", "agent-00", res("cpus:8;mem:2048"))
	// a holds half of the cluster, so b gets the free agents.
	if got, want := grants(allocate(t, a, t0)), []string{"b@agent-01", "b@agent-02"}; !slices.Equal(got, want) {
		t.Fatalf("Allocate() = %v, want %v", got, want)
	}
	a.RemoveAgent("agent-00")
	declineAllOf(t, a, 0, t0, "b")
	// With agent-00 gone, a holds nothing and goes first again.
	if got, want := grants(allocate(t, a, t0)), []string{"a@agent-01", "b@agent-02"}; !slices.Equal(got, want) {
		t.Errorf("Allocate() after RemoveAgent = %v, want %v", got, want)
	}
	if st := a.Stats(); st.Agents != 2 || st.Frameworks["a"].Used[mesos.CPUs] != 0 {
		t.Errorf("Stats() = %+v, want 2 agents and nothing used by a", st)
	}
}

func TestReleaseAfterRemoveFramework(t *testing.T) {
	a := newTest(t, nil)
	a.AddFramework("a", "r")
	a.AddAgent("agent-00", res("cpus:4;mem:1024"))
	a.Allocated("a", "agent-00", res("cpus:4;mem:1024"))
	a.RemoveFramework("a")
	a.AddFramework("b", "r")
	if got := allocate(t, a, t0); len(got) != 0 {
		t.Fatalf("Allocate() = %v, want nothing while a's tasks run", grants(got))
	}
	a.Release("a", "agent-00", res("cpus:4;mem:1024"))
	if got, want := grants(allocate(t, a, t0)), []string{"b@agent-00"}; !slices.Equal(got, want) {
		t.Errorf("Allocate() after Release = %v, want %v", got, want)
	}
}

func TestAddFrameworkCountsRecoveredTasks(t *testing.T) {
	a := newTest(t, nil)
	a.AddAgent("agent-00", res("cpus:4;mem:1024"))
	a.AddAgent("agent-01", res("cpus:4;mem:1024"))
	a.Allocated("a", "agent-00", res("cpus:4;mem:1024")) // before a re-subscribes
	a.AddFramework("b", "r")
	a.AddFramework("a", "r")
	if got, want := a.Stats().Frameworks["a"].Share, 0.5; got != want {
		t.Errorf("share of a = %v, want %v", got, want)
	}
	if got, want := grants(allocate(t, a, t0)), []string{"b@agent-01"}; !slices.Equal(got, want) {
		t.Errorf("Allocate() = %v, want %v", got, want)
	}
}

func TestExpire(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		at      time.Duration
		want    []string
	}{
		{name: "young offer stays", timeout: 10 * time.Second, at: 9 * time.Second, want: []string{}},
		{name: "offer at timeout rescinded", timeout: 10 * time.Second, at: 10 * time.Second, want: []string{"a@agent-00"}},
		{name: "no timeout", timeout: 0, at: time.Hour, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, func(c *Config) { c.OfferTimeout = tt.timeout })
			a.AddFramework("a", "r")
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			allocate(t, a, t0)
			got := a.Expire(t0.Add(tt.at))
			check(t, a)
			if !slices.Equal(grants(got), tt.want) {
				t.Fatalf("Expire() = %v, want %v", grants(got), tt.want)
			}
			// Expired resources come back with no filter.
			next := allocate(t, a, t0.Add(tt.at))
			if len(got) > 0 && !slices.Equal(grants(next), tt.want) {
				t.Errorf("Allocate() after Expire = %v, want %v", grants(next), tt.want)
			}
			if len(got) == 0 && len(next) != 0 {
				t.Errorf("Allocate() = %v, want nothing while the offer is outstanding", grants(next))
			}
		})
	}
}

func TestMinAllocatable(t *testing.T) {
	tests := []struct {
		name string
		min  string // --min-allocatable-resources syntax; "default" keeps the default
		left string // what is free on the agent
		want bool
	}{
		{name: "tiny leftovers not offered", min: "default", left: "cpus:0.001;mem:10", want: false},
		{name: "enough cpus", min: "default", left: "cpus:0.01;mem:10", want: true},
		{name: "enough mem", min: "default", left: "cpus:0.001;mem:32", want: true},
		{name: "disk alone not offered", min: "default", left: "disk:1000", want: false},
		{name: "all quantities of an alternative required", min: "cpus:1;mem:64", left: "cpus:2;mem:32", want: false},
		{name: "second alternative", min: "cpus:1;mem:64|ports:2", left: "cpus:0.5;ports:[31000-31001]", want: true},
		{name: "ports counted", min: "ports:3", left: "ports:[31000-31001]", want: false},
		{name: "no minimum", min: "", left: "disk:1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, func(c *Config) {
				if tt.min == "default" {
					return
				}
				min, err := mesos.ParseMinAllocatable(tt.min)
				if err != nil {
					t.Fatalf("ParseMinAllocatable(%q) = %v", tt.min, err)
				}
				c.MinAllocatable = min
			})
			total := res("cpus:4;mem:1024;disk:1000;ports:[31000-31009]")
			a.AddAgent("agent-00", total)
			a.Allocated("tasks", "agent-00", total.Sub(res(tt.left)))
			a.AddFramework("a", "r")
			got := allocate(t, a, t0)
			if (len(got) == 1) != tt.want {
				t.Fatalf("Allocate() = %v with %q free, want offered %v", grants(got), tt.left, tt.want)
			}
			if tt.want && !got[0].Resources.Equal(res(tt.left)) {
				t.Errorf("offered %v, want %v", got[0].Resources, tt.left)
			}
		})
	}
}

func TestPorts(t *testing.T) {
	a := newTest(t, nil)
	a.AddFramework("a", "r")
	a.AddAgent("agent-00", res("cpus:4;mem:1024;ports:[31000-32000]"))
	o := allocate(t, a, t0)[0]
	use := res("cpus:1;mem:128;ports:[31000-31001,31500-31500]")
	if _, err := a.Accept("a", o.ID, use, 0, t0); err != nil {
		t.Fatalf("Accept() = %v", err)
	}
	offers := allocate(t, a, t0)
	if len(offers) != 1 {
		t.Fatalf("Allocate() = %v, want the remainder offered", grants(offers))
	}
	want := res("cpus:3;mem:896;ports:[31002-31499,31501-32000]")
	if !offers[0].Resources.Equal(want) {
		t.Fatalf("remainder offered = %v, want %v", offers[0].Resources, want)
	}
	if _, err := a.Accept("a", offers[0].ID, res("ports:[31500-31500]"), 0, t0); err == nil {
		t.Errorf("Accept(port in use) = nil, want an error")
	}
	declineAllOf(t, a, 0, t0, "a")
	a.Release("a", "agent-00", res("ports:[31500-31500]"))
	offers = allocate(t, a, t0)
	if want := res("cpus:3;mem:896;ports:[31002-32000]"); len(offers) != 1 || !offers[0].Resources.Equal(want) {
		t.Errorf("Allocate() after Release = %v, want %v", offers, want)
	}
}

func TestAcceptErrors(t *testing.T) {
	tests := []struct {
		name      string
		framework string
		offerID   string
		use       string
		want      string // substring of the error
	}{
		{name: "unknown offer", framework: "a", offerID: "m-O99", use: "cpus:1", want: `accepting offer "m-O99": no such outstanding offer`},
		{name: "another framework's offer", framework: "b", offerID: "m-O1", use: "cpus:1", want: `accepting offer "m-O1": it was made to another framework, not "b"`},
		{name: "too many cpus", framework: "a", offerID: "m-O1", use: "cpus:5;mem:10", want: `accepting offer "m-O1": cpus 5 exceeds the 4 offered`},
		{name: "resource not offered", framework: "a", offerID: "m-O1", use: "gpus:1", want: `gpus 1 exceeds the 0 offered`},
		{name: "ports not offered", framework: "a", offerID: "m-O1", use: "ports:[30999-31000]", want: `ports [30999-30999] not offered (offered [31000-31009])`},
		{name: "several", framework: "a", offerID: "m-O1", use: "cpus:5;mem:2048", want: `cpus 5 exceeds the 4 offered; mem 2048 exceeds the 1024 offered`},
		{name: "accepted", framework: "a", offerID: "m-O1", use: "cpus:4;mem:1024;ports:[31000-31009]"},
		{name: "accept nothing", framework: "a", offerID: "m-O1", use: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddFramework("a", "r")
			a.AddFramework("b", "r")
			a.AddAgent("agent-00", res("cpus:4;mem:1024;ports:[31000-31009]"))
			allocate(t, a, t0)
			o, err := a.Accept(tt.framework, tt.offerID, res(tt.use), 0, t0)
			check(t, a)
			if tt.want == "" {
				if err != nil || o.ID != tt.offerID {
					t.Fatalf("Accept() = %v, %v, want offer %s", o.ID, err, tt.offerID)
				}
				if _, err := a.Accept(tt.framework, tt.offerID, res(tt.use), 0, t0); err == nil {
					t.Errorf("second Accept() = nil, want an error: the offer is consumed")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Accept() = %v, want error containing %q", err, tt.want)
			}
			if got := a.Offers("a"); len(got) != 1 {
				t.Errorf("Offers(a) = %v, want the offer still outstanding after a failed Accept", got)
			}
		})
	}
}

func TestDecline(t *testing.T) {
	tests := []struct {
		name      string
		framework string
		ids       []string
		wantErr   string
		wantLeft  int // a's offers outstanding afterwards
	}{
		{name: "own offers", framework: "a", ids: []string{"m-O1", "m-O2"}, wantLeft: 0},
		{name: "unknown ignored", framework: "a", ids: []string{"m-O1", "m-O42"}, wantLeft: 1},
		{name: "duplicates ignored", framework: "a", ids: []string{"m-O1", "m-O1"}, wantLeft: 1},
		{name: "another framework's offer", framework: "b", ids: []string{"m-O1"}, wantErr: `declining offer "m-O1": it was made to another framework, not "b"`, wantLeft: 2},
		{name: "nothing declined on error", framework: "a", ids: []string{"m-O1", "m-O3"}, wantErr: `declining offer "m-O3"`, wantLeft: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTest(t, nil)
			a.AddFramework("a", "r")
			a.AddAgent("agent-00", res("cpus:4;mem:1024"))
			a.AddAgent("agent-01", res("cpus:4;mem:1024"))
			allocate(t, a, t0)
			a.AddFramework("b", "r")
			a.AddAgent("agent-02", res("cpus:4;mem:1024"))
			allocate(t, a, t0) // m-O3 to b
			err := a.Decline(tt.framework, tt.ids, time.Minute, t0)
			check(t, a)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Decline() = %v, want error %q", err, tt.wantErr)
			}
			if got := len(a.Offers("a")); got != tt.wantLeft {
				t.Errorf("len(Offers(a)) = %d, want %d", got, tt.wantLeft)
			}
		})
	}
}

func TestDeclineCombinesFiltersPerAgent(t *testing.T) {
	a := newTest(t, nil)
	a.AddFramework("a", "r")
	a.AddAgent("agent-00", res("cpus:4;mem:1024"))
	first := allocate(t, a, t0)[0]
	a.Allocated("other", "agent-00", res("cpus:0")) // no-op
	if _, err := a.Accept("a", first.ID, res("cpus:2;mem:512"), 0, t0); err != nil {
		t.Fatalf("Accept() = %v", err)
	}
	second := allocate(t, a, t0)[0] // cpus:2;mem:512
	a.Release("a", "agent-00", res("cpus:2;mem:512"))
	third := allocate(t, a, t0)[0] // the released half, a second offer on the agent
	if err := a.Decline("a", []string{second.ID, third.ID}, time.Minute, t0); err != nil {
		t.Fatalf("Decline() = %v", err)
	}
	// One filter covers the whole agent, so the union is not offered.
	if got := allocate(t, a, t0.Add(time.Second)); len(got) != 0 {
		t.Errorf("Allocate() = %v, want the agent filtered as a whole", grants(got))
	}
}

func TestStats(t *testing.T) {
	a := newTest(t, func(c *Config) { c.Weights = map[string]float64{"r": 2} })
	a.AddFramework("a", "r")
	a.AddAgent("agent-00", res("cpus:4;mem:1024"))
	a.AddAgent("agent-01", res("cpus:4;mem:1024"))
	a.Allocated("a", "agent-00", res("cpus:1;mem:256"))
	allocate(t, a, t0)
	a.DeactivateAgent("agent-01")
	a.Suppress("a")
	st := a.Stats()
	if st.Agents != 2 || st.ActiveAgents != 1 || st.Offers != 1 {
		t.Errorf("Stats() agents %d active %d offers %d, want 2 1 1", st.Agents, st.ActiveAgents, st.Offers)
	}
	if st.Total[mesos.CPUs] != 8 || st.Used[mesos.CPUs] != 1 || st.Offered[mesos.CPUs] != 3 {
		t.Errorf("Stats() total %v used %v offered %v", st.Total, st.Used, st.Offered)
	}
	f := st.Frameworks["a"]
	if f.Role != "r" || !f.Suppressed || f.Share != 0.5 || f.Offers != 1 || f.Used[mesos.Mem] != 256 || f.Offered[mesos.Mem] != 768 {
		t.Errorf("Stats().Frameworks[a] = %+v", f)
	}
	if r := st.Roles["r"]; r.Weight != 2 || r.Share != 0.25 || r.Frameworks != 1 {
		t.Errorf("Stats().Roles[r] = %+v", r)
	}
	ag, ok := a.Agent("agent-00")
	if !ok || !ag.Active || !ag.Used.Equal(res("cpus:1;mem:256")) || !ag.Offered.Equal(res("cpus:3;mem:768")) || !ag.Available.IsEmpty() {
		t.Errorf("Agent(agent-00) = %+v, %v", ag, ok)
	}
	if _, ok := a.Agent("nope"); ok {
		t.Errorf("Agent(nope) found")
	}
}
