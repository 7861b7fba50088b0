package route

import (
	"reflect"
	"testing"
	"time"

	"corral/marathon"
)

func hostApp(id string, ports []int, labels map[string]string, tasks ...marathon.Task) marathon.AppInfo {
	a := marathon.NewApp(id)
	a.PortDefinitions = nil
	for _, p := range ports {
		a.PortDefinitions = append(a.PortDefinitions, marathon.PortDefinition{Port: p, Protocol: "tcp"})
	}
	a.Labels = labels
	return marathon.AppInfo{App: a, Tasks: tasks}
}

func running(id, host string, ports ...int) marathon.Task {
	return marathon.Task{ID: id, Host: host, Ports: ports, State: "TASK_RUNNING", StartedAt: "2026-12-01T10:00:00Z"}
}

func addrs(s *Service) []string {
	out := []string{}
	for _, b := range s.Backends {
		out = append(out, b.Addr)
	}
	return out
}

func TestBuildBackends(t *testing.T) {
	healthy := running("h", "10.0.0.1", 31000)
	healthy.HealthCheckResults = []marathon.HealthCheckResult{{Alive: true}}
	sick := running("s", "10.0.0.2", 31000)
	sick.HealthCheckResults = []marathon.HealthCheckResult{{Alive: true}, {Alive: false}}
	fresh := running("f", "10.0.0.3", 31000)
	killing := running("k", "10.0.0.4", 31000)
	killing.State = "TASK_KILLING"
	old := marathon.Task{ID: "o", Host: "10.0.0.5", Ports: []int{31000}, StartedAt: "2026-12-01T10:00:00Z"} // Marathon < 1.4: no state
	staged := marathon.Task{ID: "x", Host: "10.0.0.6", Ports: []int{31000}}

	checked := hostApp("/checked", []int{10000}, nil, healthy, sick, fresh, killing)
	checked.HealthChecks = []marathon.HealthCheck{{Protocol: "TCP", PortIndex: new(int)}}
	plain := hostApp("/plain", []int{10001}, nil, fresh, killing, old, staged)

	tab := Build(DefaultConfig(), []marathon.AppInfo{checked, plain}, nil, 1, time.Now())
	if got, want := addrs(tab.Listener("0.0.0.0:10000")), []string{"10.0.0.1:31000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("health-checked app backends = %v, want %v", got, want)
	}
	if got, want := addrs(tab.Listener("0.0.0.0:10001")), []string{"10.0.0.3:31000", "10.0.0.5:31000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("plain app backends = %v, want %v", got, want)
	}
	want := []TaskNotRouted{{"f", "no health check result yet"}, {"k", "killing"}, {"s", "unhealthy"}}
	if got := tab.Listener("0.0.0.0:10000").NotRouted; !reflect.DeepEqual(got, want) {
		t.Errorf("not routed = %v, want %v", got, want)
	}
}

func TestBuildGroups(t *testing.T) {
	apps := []marathon.AppInfo{
		hostApp("/ext", []int{10000, 10001}, map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_1_GROUP": "internal"}),
		hostApp("/none", []int{10002}, nil),
	}
	for _, tt := range []struct {
		groups []string
		want   []string
	}{
		{[]string{"*"}, []string{"0.0.0.0:10000", "0.0.0.0:10001", "0.0.0.0:10002"}},
		{[]string{"external"}, []string{"0.0.0.0:10000"}},
		{[]string{"internal"}, []string{"0.0.0.0:10001"}},
		{[]string{"other"}, []string{}},
	} {
		cfg := Config{ServiceBind: "0.0.0.0", Groups: tt.groups}
		got := []string{}
		for _, s := range Build(cfg, apps, nil, 1, time.Now()).Services {
			got = append(got, s.Listen)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("--group %v routes %v, want %v", tt.groups, got, tt.want)
		}
	}
}

// A port claimed twice goes to its holder in the previous table, so
// routes never flap; a bad label skips only its port.
func TestBuildConflictsAndSkips(t *testing.T) {
	a := hostApp("/a", []int{10000}, nil)
	b := hostApp("/b", []int{10001}, map[string]string{"HAPROXY_0_PORT": "10000"})
	c := hostApp("/c", []int{10002, 10003}, map[string]string{"HAPROXY_0_BALANCE": "bogus"})
	t1 := Build(DefaultConfig(), []marathon.AppInfo{a, b, c}, nil, 1, time.Now())
	if s := t1.Listener("0.0.0.0:10000"); s == nil || s.AppID != "/a" {
		t.Fatalf("10000 routes to %+v, want /a (its own service port beats an override)", s)
	}
	if s := t1.Listener("0.0.0.0:10003"); s == nil || s.AppID != "/c" {
		t.Errorf("/c's good port 1 is not routed")
	}
	skips := map[string]string{}
	for _, s := range t1.Skipped {
		skips[s.AppID] = s.Reason
	}
	if skips["/b"] == "" || skips["/c"] == "" {
		t.Errorf("skipped = %v, want /b (port taken) and /c port 0 (bad balance)", t1.Skipped)
	}
	// /b held 10000 in the last table (say /a had no port then): it keeps it.
	t0 := Build(DefaultConfig(), []marathon.AppInfo{b}, nil, 1, time.Now())
	t2 := Build(DefaultConfig(), []marathon.AppInfo{a, b}, t0, 2, time.Now())
	if s := t2.Listener("0.0.0.0:10000"); s == nil || s.AppID != "/b" {
		t.Errorf("10000 routes to %+v, want its previous holder /b", s)
	}
}

func TestMatchHTTP(t *testing.T) {
	apps := []marathon.AppInfo{
		hostApp("/site", []int{10000}, map[string]string{"HAPROXY_0_VHOST": "example.com,www.example.com"}),
		hostApp("/api", []int{10001}, map[string]string{"HAPROXY_0_VHOST": "example.com", "HAPROXY_0_PATH": "/api"}),
		hostApp("/apiv2", []int{10002}, map[string]string{"HAPROXY_0_VHOST": "example.com", "HAPROXY_0_PATH": "/api/v2"}),
		hostApp("/static", []int{10003}, map[string]string{"HAPROXY_0_MODE": "http", "HAPROXY_0_PATH": "/static"}),
		hostApp("/wild", []int{10004}, map[string]string{"HAPROXY_0_VHOST": "*.apps.example.com"}),
		hostApp("/tcp", []int{10005}, nil),
		hostApp("/dup", []int{10006}, map[string]string{"HAPROXY_0_VHOST": "www.example.com"}),
	}
	tab := Build(DefaultConfig(), apps, nil, 1, time.Now())
	for _, tt := range []struct{ host, path, appID, want string }{
		{"example.com", "/", "", "/site"},
		{"EXAMPLE.com:80", "/index.html", "", "/site"},
		{"example.com", "/api/users", "", "/api"},
		{"example.com", "/api/v2/users", "", "/apiv2"},
		{"www.example.com", "/api", "", "/dup"}, // claimed by /dup and /site: the first by app ID wins
		{"other.org", "/static/x.css", "", "/static"},
		{"other.org", "/", "", ""},
		{"a.apps.example.com", "/", "", "/wild"},
		{"other.org", "/", "/api", "/api"},
		{"other.org", "/", "/tcp", ""},
	} {
		got := ""
		if s := tab.MatchHTTP(tt.host, tt.path, tt.appID); s != nil {
			got = s.AppID
		}
		if got != tt.want {
			t.Errorf("MatchHTTP(%q, %q, %q) = %q, want %q", tt.host, tt.path, tt.appID, got, tt.want)
		}
	}
	for _, s := range tab.Services {
		if s.AppID == "/site" && s.EdgeConflict == "" {
			t.Errorf("/site claims www.example.com, taken by /dup, without an edge conflict")
		}
	}
}

func TestBuildContainerNetwork(t *testing.T) {
	a := marathon.NewApp("/c")
	a.Networks = []marathon.Network{{Mode: marathon.NetworkContainer, Name: "corral"}}
	a.Container = &marathon.Container{Type: "MESOS", PortMappings: []marathon.PortMapping{{ContainerPort: 8080, ServicePort: 10000, Protocol: "tcp"}}}
	task := running("t", "10.0.0.1")
	task.IPAddresses = []marathon.IPAddress{{IPAddress: "fd00::1", Protocol: "IPv6"}, {IPAddress: "192.168.1.5", Protocol: "IPv4"}}
	noIP := running("u", "10.0.0.1")
	tab := Build(DefaultConfig(), []marathon.AppInfo{{App: a, Tasks: []marathon.Task{task, noIP}}}, nil, 1, time.Now())
	s := tab.Listener("0.0.0.0:10000")
	if s == nil {
		t.Fatalf("not routed: %+v", tab.Skipped)
	}
	if got, want := addrs(s), []string{"192.168.1.5:8080"}; !reflect.DeepEqual(got, want) {
		t.Errorf("backends = %v, want %v", got, want)
	}
	if len(s.NotRouted) != 1 || s.NotRouted[0].Reason != "no container IP address yet" {
		t.Errorf("not routed = %v", s.NotRouted)
	}
}
