package mesos

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestV1TaskRoundTrip(t *testing.T) {
	healthy := true
	cs := &ContainerStatus{NetworkInfos: []NetworkInfo{{IPAddresses: []IPAddress{{Protocol: "IPv4", IPAddress: "10.1.0.7"}}}}}
	info := TaskInfo{
		Name: "web.a1", TaskID: "web.a1", AgentID: "m1-S1",
		Resources: MustParseResources("cpus:0.1;mem:32;ports:[31000-31001]"),
		Labels:    &Labels{Labels: []Label{{Key: "k", Value: "v"}}},
		Discovery: &DiscoveryInfo{Visibility: "FRAMEWORK", Name: "web", Ports: &DiscoveryPorts{Ports: []Port{{Number: 31000, Name: "http", Protocol: "tcp"}}}},
		Container: &ContainerInfo{Type: "MESOS", Image: "busybox:1.36"},
	}
	statuses := []TaskStatus{
		{TaskID: "web.a1", AgentID: "m1-S1", State: TaskStaging, Source: SourceMaster, Timestamp: 1},
		{TaskID: "web.a1", AgentID: "m1-S1", State: TaskRunning, Source: SourceExecutor, Timestamp: 2, Healthy: &healthy, ContainerStatus: cs},
	}
	v := NewV1Task(info, "fw", TaskRunning, statuses)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// The field names and shapes of Mesos's v1 JSON.
	for _, want := range []string{
		`"task_id":{"value":"web.a1"}`, `"framework_id":{"value":"fw"}`, `"agent_id":{"value":"m1-S1"}`,
		`"state":"TASK_RUNNING"`, `"status_update_state":"TASK_RUNNING"`, `"healthy":true`,
		`"container_status":{"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"10.1.0.7"}]}]}`,
		`{"name":"ports","type":"RANGES","role":"*","ranges":{"range":[{"begin":31000,"end":31001}]}}`,
		`"mesos":{"image":{"type":"DOCKER","docker":{"name":"busybox:1.36"}}}`,
		`"labels":{"labels":[{"key":"k","value":"v"}]}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("V1Task JSON lacks %s:\n%s", want, b)
		}
	}
	var back V1Task
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got := back.StateTask()
	want := StateTask{
		ID: "web.a1", Name: "web.a1", FrameworkID: "fw", SlaveID: "m1-S1", State: TaskRunning,
		Resources: info.Resources.StateJSON(), Statuses: statuses, Discovery: info.Discovery,
		Labels: info.Labels.Labels, Container: info.Container,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StateTask() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestV1ResourcesStateJSON(t *testing.T) {
	list := []V1Resource{
		{Name: "cpus", Type: "SCALAR", Scalar: &V1Scalar{Value: 1}},
		{Name: "cpus", Type: "SCALAR", Role: "web", Scalar: &V1Scalar{Value: 0.5}},
		{Name: "ports", Type: "RANGES", Ranges: &V1Ranges{Range: []Range{{Begin: 31005, End: 31006}, {Begin: 31000, End: 31000}, {Begin: 9, End: 1}}}},
		{Name: "disks", Type: "SET", Set: &V1SetItem{Item: []string{"sdb", "sda"}}},
	}
	got := V1ResourcesStateJSON(list)
	want := map[string]any{"cpus": 1.5, "mem": 0.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31000, 31005-31006]", "disks": "{sda,sdb}"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("V1ResourcesStateJSON = %v, want %v", got, want)
	}
}

func TestOperatorAgentStateAgent(t *testing.T) {
	info := AgentInfo{Hostname: "h1", Port: 5051, Resources: MustParseResources("cpus:2;ports:[31000-32000]"),
		Attributes: Attributes{{Name: "rack", Value: "r1"}, {Name: "cores", Value: "8"}}}
	a := OperatorAgent{
		AgentInfo: V1AgentInfo{Hostname: info.Hostname, Port: info.Port, ID: &V1ID{Value: "S1"},
			Resources: NewV1Resources(info.Resources), Attributes: NewV1Attributes(info.Attributes)},
		Active: true, PID: "slave(1)@10.0.0.1:5051", RegisteredTime: &TimeInfo{Nanoseconds: 1_500_000_000},
	}
	got := a.StateAgent()
	if got.ID != "S1" || got.PID != a.PID || got.Hostname != "h1" || !got.Active || got.RegisteredTime != 1.5 ||
		got.Resources["ports"] != "[31000-32000]" || !reflect.DeepEqual(got.Attributes, info.Attributes.StateJSON()) {
		t.Fatalf("StateAgent() = %+v", got)
	}
}
