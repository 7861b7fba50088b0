package master

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/mesos"
)

// path walks decoded JSON: "frameworks.0.tasks.0.id".
func path(v any, p string) (any, bool) {
	for _, k := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// TestStateHasWhatMesosDNSReads checks the /master/state fields that
// Mesos-DNS, marathon-lb and similar tools read, by their JSON names.
func TestStateHasWhatMesosDNSReads(t *testing.T) {
	c := newCluster(t, nil)
	a := c.startAgent("node-1", "cpus:2;mem:512;ports:[31000-31099]")
	f := c.subscribe(mesos.FrameworkInfo{Name: "marathon", Hostname: "m.example"})
	o := f.waitOffer(t, a.link.AgentID())
	err := c.master().Call(context.Background(), mesos.Call{FrameworkID: f.id, Type: mesos.CallAccept, Accept: &mesos.CallAcceptArgs{
		OfferIDs: []string{o.ID},
		Operations: []mesos.Operation{{Type: "LAUNCH", Launch: &mesos.LaunchOp{TaskInfos: []mesos.TaskInfo{{
			Name: "web", TaskID: "web.1", AgentID: o.AgentID, Resources: mesos.MustParseResources("cpus:1;mem:64;ports:[31005-31006]"),
			Command:   &mesos.CommandInfo{Value: "true"},
			Labels:    &mesos.Labels{Labels: []mesos.Label{{Key: "HAPROXY_GROUP", Value: "external"}}},
			Discovery: &mesos.DiscoveryInfo{Visibility: "FRAMEWORK", Name: "web", Ports: &mesos.DiscoveryPorts{Ports: []mesos.Port{{Number: 31005, Name: "http", Protocol: "tcp"}}}},
		}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LAUNCH", func() bool {
		_, ok := a.find(func(ev mesos.AgentEvent) bool { return ev.Type == mesos.AgentEventLaunch })
		return ok
	})
	err = a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{
		FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning, UUID: "u1",
			ContainerStatus: &mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.IPAddress{{IPAddress: "10.1.2.3"}}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.waitEvent(t, "RUNNING", isUpdate("web.1", mesos.TaskRunning))
	// A later health update without addresses keeps the known address.
	healthy := true
	a.link.Send(context.Background(), mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{
		FrameworkID: f.id, Status: mesos.TaskStatus{TaskID: "web.1", State: mesos.TaskRunning, UUID: "u2", Healthy: &healthy}}})
	f.waitEvent(t, "the health update", func(ev mesos.Event) bool { return ev.Type == mesos.EventTypeUpdate && ev.Update.UUID == "u2" })

	b, err := json.Marshal(c.master().State(&mesos.MasterInfo{PID: "master@127.0.0.1:5050", Port: 5050, Hostname: "m1"}))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	statuses, _ := path(doc, "frameworks.0.tasks.0.statuses")
	last := "frameworks.0.tasks.0.statuses." + strconv.Itoa(len(statuses.([]any))-1) + "."
	for _, tc := range []struct {
		path string
		want any
	}{
		{"leader", "master@127.0.0.1:5050"},
		{"leader_info.port", 5050.0},
		{"slaves.0.id", a.link.AgentID()},
		{"slaves.0.hostname", "node-1"},
		{"slaves.0.pid", "slave(1)@127.0.0.1:5051"},
		{"slaves.0.resources.ports", "[31000-31099]"},
		{"slaves.0.resources.cpus", 2.0},
		{"slaves.0.used_resources.ports", "[31005-31006]"},
		{"frameworks.0.name", "marathon"},
		{"frameworks.0.hostname", "m.example"},
		{"frameworks.0.tasks.0.id", "web.1"},
		{"frameworks.0.tasks.0.name", "web"},
		{"frameworks.0.tasks.0.framework_id", f.id},
		{"frameworks.0.tasks.0.slave_id", a.link.AgentID()},
		{"frameworks.0.tasks.0.state", "TASK_RUNNING"},
		{"frameworks.0.tasks.0.resources.ports", "[31005-31006]"},
		{"frameworks.0.tasks.0.labels.0.key", "HAPROXY_GROUP"},
		{"frameworks.0.tasks.0.discovery.ports.ports.0.number", 31005.0},
		{"frameworks.0.tasks.0.discovery.ports.ports.0.name", "http"},
		{last + "state", "TASK_RUNNING"},
		{last + "healthy", true},
		{last + "container_status.network_infos.0.ip_addresses.0.ip_address", "10.1.2.3"},
	} {
		got, ok := path(doc, tc.path)
		if !ok || got != tc.want {
			t.Errorf("state %s = %v (present %v), want %v", tc.path, got, ok, tc.want)
		}
	}
	if ts, ok := path(doc, last+"timestamp"); !ok || ts.(float64) < 1e9 {
		t.Errorf("status timestamp = %v, want seconds since the epoch", ts)
	}
}
