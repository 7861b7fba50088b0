package marathon

import (
	"encoding/json"
	"reflect"
	"testing"
)

func mustParse(t *testing.T, body string) App {
	t.Helper()
	app, details, err := ParseApp([]byte(body))
	if err != nil || details != nil {
		t.Fatalf("ParseApp(%s) = %v, %v, want a valid app", body, details, err)
	}
	return app
}

func intp(i int) *int { return &i }

// TestDecodeDefaults checks the scalar defaults decoding applies, and that
// explicit zeros survive.
func TestDecodeDefaults(t *testing.T) {
	var a App
	if err := json.Unmarshal([]byte(`{"id":"/x","cmd":"y"}`), &a); err != nil {
		t.Fatal(err)
	}
	want := NewApp("/x")
	want.Cmd = "y"
	if !reflect.DeepEqual(a, want) {
		t.Errorf("decoded %+v, want %+v", a, want)
	}
	if a.Cpus != 1 || a.Mem != 128 || a.Disk != 0 || a.Gpus != 0 || a.Instances != 1 ||
		a.BackoffSeconds != 1 || a.BackoffFactor != 1.15 || a.MaxLaunchDelaySeconds != 300 ||
		a.KillSelection != "YOUNGEST_FIRST" || a.RequirePorts || a.Executor != "" || a.TaskKillGracePeriodSeconds != nil {
		t.Errorf("defaults wrong: %+v", a)
	}

	var z App
	if err := json.Unmarshal([]byte(`{"id":"/x","cmd":"y","instances":0,"mem":0,"backoffSeconds":0,"maxLaunchDelaySeconds":0,"cpus":null,"taskKillGracePeriodSeconds":0}`), &z); err != nil {
		t.Fatal(err)
	}
	if z.Instances != 0 || z.Mem != 0 || z.BackoffSeconds != 0 || z.MaxLaunchDelaySeconds != 0 {
		t.Errorf("explicit zeros lost: %+v", z)
	}
	if z.Cpus != 1 {
		t.Errorf("cpus: null gave %v, want the default 1", z.Cpus)
	}
	if z.TaskKillGracePeriodSeconds == nil || *z.TaskKillGracePeriodSeconds != 0 {
		t.Errorf("taskKillGracePeriodSeconds: 0 gave %v, want 0", z.TaskKillGracePeriodSeconds)
	}
}

func TestNestedDecodeDefaults(t *testing.T) {
	app := mustParse(t, `{"id":"/x","cmd":"y",
		"healthChecks":[{}],
		"readinessChecks":[{"portName":"default","httpStatusCodesForReady":[]}],
		"fetch":[{"uri":"http://a/b"}, {"uri":"http://a/c","extract":false}],
		"upgradeStrategy":{"minimumHealthCapacity":0.5},
		"unreachableStrategy":{"expungeAfterSeconds":60}}`)

	wantHC := HealthCheck{
		Protocol: "HTTP", Path: "/", PortIndex: intp(0), GracePeriodSeconds: 300, IntervalSeconds: 60,
		TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15, IPProtocol: "IPv4",
	}
	if !reflect.DeepEqual(app.HealthChecks, []HealthCheck{wantHC}) {
		t.Errorf("healthChecks = %+v, want %+v", app.HealthChecks, wantHC)
	}
	wantRC := ReadinessCheck{
		Name: "readinessCheck", Protocol: "HTTP", Path: "/", PortName: "default",
		IntervalSeconds: 30, TimeoutSeconds: 10, HTTPStatusCodesForReady: []int{200},
	}
	if !reflect.DeepEqual(app.ReadinessChecks, []ReadinessCheck{wantRC}) {
		t.Errorf("readinessChecks = %+v, want %+v", app.ReadinessChecks, wantRC)
	}
	if !app.Fetch[0].Extract || app.Fetch[1].Extract || app.Fetch[0].Executable || app.Fetch[0].Cache {
		t.Errorf("fetch = %+v, want extract true unless given", app.Fetch)
	}
	if *app.UpgradeStrategy != (UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 1}) {
		t.Errorf("upgradeStrategy = %+v", *app.UpgradeStrategy)
	}
	if *app.UnreachableStrategy != (UnreachableStrategy{InactiveAfterSeconds: 0, ExpungeAfterSeconds: 60}) {
		t.Errorf("unreachableStrategy = %+v", *app.UnreachableStrategy)
	}
}

func TestApplyDefaults(t *testing.T) {
	zero := intp(0)
	defaultPortDef := []PortDefinition{{Port: 0, Protocol: "tcp", Name: "default"}}
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, a App)
	}{
		{"host networking and one default port", `{"id":"/x","cmd":"y"}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "host"}})
			eq(t, "portDefinitions", a.PortDefinitions, defaultPortDef)
			eq(t, "ports", a.Ports, []int(nil))
			eq(t, "container", a.Container, (*Container)(nil))
			eq(t, "upgradeStrategy", *a.UpgradeStrategy, UpgradeStrategy{1, 1})
			eq(t, "unreachableStrategy", *a.UnreachableStrategy, UnreachableStrategy{})
			eq(t, "labels", a.Labels, map[string]string{})
			eq(t, "env", a.Env, Env{})
			eq(t, "killSelection", a.KillSelection, "YOUNGEST_FIRST")
		}},
		{"portDefinitions: [] means no ports", `{"id":"/x","cmd":"y","portDefinitions":[]}`, func(t *testing.T, a App) {
			eq(t, "portDefinitions", a.PortDefinitions, []PortDefinition{})
		}},
		{"ports become port definitions", `{"id":"/x","cmd":"y","ports":[0, 8080]}`, func(t *testing.T, a App) {
			eq(t, "portDefinitions", a.PortDefinitions, []PortDefinition{{Port: 0, Protocol: "tcp"}, {Port: 8080, Protocol: "tcp"}})
			eq(t, "ports", a.Ports, []int(nil))
		}},
		{"ports: [] means no ports", `{"id":"/x","cmd":"y","ports":[]}`, func(t *testing.T, a App) {
			eq(t, "portDefinitions", a.PortDefinitions, []PortDefinition{})
		}},
		{"ports: null means not given", `{"id":"/x","cmd":"y","ports":null,"dependencies":null}`, func(t *testing.T, a App) {
			eq(t, "portDefinitions", a.PortDefinitions, defaultPortDef)
		}},
		{"bridge network gets a default port mapping with hostPort 0", `{"id":"/x","networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","docker":{"image":"nginx"}}}`, func(t *testing.T, a App) {
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping{{Name: "default", Protocol: "tcp", HostPort: zero}})
			eq(t, "portDefinitions", a.PortDefinitions, []PortDefinition(nil))
		}},
		{"bridge network fills missing hostPorts", `{"id":"/x","networks":[{"mode":"container/bridge"}],"container":{"docker":{"image":"nginx"},"portMappings":[{"containerPort":80},{"containerPort":81,"hostPort":31000}]}}`, func(t *testing.T, a App) {
			eq(t, "hostPort 0", a.Container.PortMappings[0].HostPort, zero)
			eq(t, "hostPort 1", a.Container.PortMappings[1].HostPort, intp(31000))
		}},
		{"container network keeps missing hostPorts", `{"id":"/x","networks":[{"name":"blue"}],"container":{"docker":{"image":"nginx"},"portMappings":[{"containerPort":80}]}}`, func(t *testing.T, a App) {
			eq(t, "mode", a.Networks[0].Mode, "container")
			eq(t, "hostPort", a.Container.PortMappings[0].HostPort, (*int)(nil))
		}},
		{"portMappings: [] means no ports", `{"id":"/x","networks":[{"mode":"container/bridge"}],"container":{"docker":{"image":"nginx"},"portMappings":[]}}`, func(t *testing.T, a App) {
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping{})
		}},
		{"non-host network without a container gets a MESOS one", `{"id":"/x","cmd":"y","networks":[{"mode":"container/bridge"}]}`, func(t *testing.T, a App) {
			eq(t, "type", a.Container.Type, "MESOS")
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping{{Name: "default", Protocol: "tcp", HostPort: zero}})
		}},
		{"host networking drops port mappings", `{"id":"/x","container":{"docker":{"image":"nginx"},"portMappings":[{"containerPort":80}]}}`, func(t *testing.T, a App) {
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping(nil))
			eq(t, "portDefinitions", a.PortDefinitions, defaultPortDef)
		}},
		{"portDefinitions beyond port mappings add mappings", `{"id":"/x","networks":[{"mode":"container/bridge"}],"portDefinitions":[{"port":0},{"port":0}],"container":{"docker":{"image":"nginx"},"portMappings":[{"containerPort":80}]}}`, func(t *testing.T, a App) {
			eq(t, "portMappings", len(a.Container.PortMappings), 2)
			eq(t, "portDefinitions", a.PortDefinitions, []PortDefinition(nil))
		}},
		{"docker BRIDGE becomes container/bridge", `{"id":"/x","container":{"docker":{"image":"nginx","network":"BRIDGE","portMappings":[{"containerPort":80,"servicePort":10000}]}}}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "container/bridge"}})
			eq(t, "docker.network", a.Container.Docker.Network, "")
			eq(t, "docker.portMappings", a.Container.Docker.PortMappings, []PortMapping(nil))
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping{{ContainerPort: 80, ServicePort: 10000, Protocol: "tcp", HostPort: zero}})
			eq(t, "ServicePorts", a.ServicePorts(), []int{10000})
		}},
		{"docker HOST becomes host", `{"id":"/x","container":{"docker":{"image":"nginx","network":"HOST"}}}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "host"}})
		}},
		{"docker USER and ipAddress become a named container network", `{"id":"/x","ipAddress":{"networkName":"blue","labels":{"a":"b"}},"container":{"docker":{"image":"nginx","network":"USER"}}}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "container", Name: "blue", Labels: map[string]string{"a": "b"}}})
			eq(t, "ipAddress", a.IPAddress, (*LegacyIPAddress)(nil))
		}},
		{"ipAddress naming the bridge becomes the bridge", `{"id":"/x","cmd":"y","ipAddress":{"networkName":"mesos-bridge"}}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "container/bridge"}})
			eq(t, "type", a.Container.Type, "MESOS")
		}},
		{"ipAddress discovery ports become port mappings", `{"id":"/x","cmd":"y","ipAddress":{"networkName":"blue","discovery":{"ports":[{"number":8080,"name":"http"}]}}}`, func(t *testing.T, a App) {
			eq(t, "networks", a.Networks, []Network{{Mode: "container", Name: "blue"}})
			eq(t, "portMappings", a.Container.PortMappings, []PortMapping{{ContainerPort: 8080, Name: "http", Protocol: "tcp"}})
		}},
		{"uris become fetch", `{"id":"/x","cmd":"y","uris":["http://a/b.tgz","http://a/c.sh"]}`, func(t *testing.T, a App) {
			eq(t, "fetch", a.Fetch, []Artifact{{URI: "http://a/b.tgz", Extract: true}, {URI: "http://a/c.sh"}})
			eq(t, "uris", a.URIs, []string(nil))
		}},
		{"health check port given: no portIndex", `{"id":"/x","cmd":"y","healthChecks":[{"port":8080},{"protocol":"COMMAND","command":{"value":"true"}},{"protocol":"TCP"}]}`, func(t *testing.T, a App) {
			eq(t, "portIndex 0", a.HealthChecks[0].PortIndex, (*int)(nil))
			eq(t, "COMMAND portIndex", a.HealthChecks[1].PortIndex, (*int)(nil))
			eq(t, "COMMAND path", a.HealthChecks[1].Path, "")
			eq(t, "TCP portIndex", a.HealthChecks[2].PortIndex, zero)
			eq(t, "TCP path", a.HealthChecks[2].Path, "")
		}},
		{"resident app", `{"id":"/x","cmd":"y","container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":10}}]}}`, func(t *testing.T, a App) {
			eq(t, "residency", *a.Residency, Residency{RelaunchEscalationTimeoutSeconds: 3600, TaskLostBehavior: "WAIT_FOREVER"})
			eq(t, "upgradeStrategy", *a.UpgradeStrategy, UpgradeStrategy{0.5, 0})
			eq(t, "unreachableStrategy", *a.UnreachableStrategy, UnreachableStrategy{Disabled: true})
		}},
		{"requirePorts is off host networking", `{"id":"/x","cmd":"y","requirePorts":true,"networks":[{"mode":"container/bridge"}]}`, func(t *testing.T, a App) {
			eq(t, "requirePorts", a.RequirePorts, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, tt.body))
		})
	}
}

func TestApplyDefaultsNetworkName(t *testing.T) {
	app, details, err := ParseAppWith([]byte(`{"id":"x","cmd":"y","networks":[{"mode":"container"}]}`), "/prod", Options{DefaultNetworkName: "dcos"})
	if err != nil || details != nil {
		t.Fatalf("ParseAppWith = %v, %v", details, err)
	}
	eq(t, "id", app.ID, "/prod/x")
	eq(t, "networks", app.Networks, []Network{{Mode: "container", Name: "dcos"}})
}

// TestApplyDefaultsGoApp checks an app built in Go from NewApp.
func TestApplyDefaultsGoApp(t *testing.T) {
	a := NewApp("/web")
	a.Cmd = "serve"
	a.HealthChecks = []HealthCheck{{}}
	a.ApplyDefaults()
	if got := a.Validate(); got != nil {
		t.Errorf("Validate() = %v, want nil", got)
	}
	eq(t, "protocol", a.HealthChecks[0].Protocol, "HTTP")
	eq(t, "portIndex", a.HealthChecks[0].PortIndex, intp(0))
	eq(t, "path", a.HealthChecks[0].Path, "/")
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestParseAppIdempotent checks that an app's response body, posted again,
// gives the same app: ApplyDefaults and the encoding agree.
func TestParseAppIdempotent(t *testing.T) {
	bodies := []string{
		`{"id":"/x","cmd":"y"}`,
		`{"id":"x","cmd":"y","ports":[0,8080],"healthChecks":[{}],"uris":["http://a/b.zip"]}`,
		`{"id":"/x","container":{"docker":{"image":"i","network":"BRIDGE","portMappings":[{"containerPort":80,"servicePort":10001,"name":"http"}]}},"readinessChecks":[{"portName":"http"}]}`,
		`{"id":"/x","cmd":"y","networks":[{"name":"blue"}],"container":{"type":"MESOS","portMappings":[{"containerPort":80}]}}`,
		`{"id":"/x","cmd":"y","ipAddress":{"networkName":"blue","discovery":{"ports":[{"number":8080,"name":"http"}]}}}`,
		`{"id":"/x","cmd":"y","container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW","persistent":{"size":10}}]},"env":{"P":{"secret":"s"}},"secrets":{"s":{"source":"/p"}}}`,
	}
	for _, body := range bodies {
		first := mustParse(t, body)
		out, err := json.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		second := mustParse(t, string(out))
		out2, _ := json.Marshal(second)
		if string(out) != string(out2) {
			t.Errorf("ParseApp(%s) encodes as\n%s\nand again as\n%s", body, out, out2)
		}
		second.ApplyDefaults()
		if out3, _ := json.Marshal(second); string(out3) != string(out2) {
			t.Errorf("ApplyDefaults is not idempotent for %s:\n%s\n%s", body, out2, out3)
		}
	}
}

// TestApplyDefaultsLeavesTheOriginal: normalising a copy of an app (as
// routerd does with the apps its watcher publishes and saves) leaves the
// original as decoded: a Marathon 1.4 app keeps its container.docker
// network and port mappings, and its checks their missing fields.
func TestApplyDefaultsLeavesTheOriginal(t *testing.T) {
	const body = `{"id":"/bridged","container":{"docker":{"image":"nginx","network":"BRIDGE",
		"portMappings":[{"containerPort":80,"servicePort":10104}]}},
		"networks":[{"name":"x"}],"portDefinitions":[{"port":0}],
		"healthChecks":[{"protocol":"MESOS_HTTP"}],"readinessChecks":[{"name":"r"}]}`
	decode := func() App {
		var a App
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	orig := decode()
	cp := orig
	cp.ApplyDefaults()
	if !reflect.DeepEqual(orig, decode()) {
		o, _ := json.Marshal(orig)
		t.Errorf("after ApplyDefaults on a copy the original is\n%s\nwant it as decoded from\n%s", o, body)
	}
	if cp.Container.Docker.Network != "" || cp.Container.PortMappings == nil {
		t.Errorf("the copy was not normalised: %+v", cp.Container)
	}
}
