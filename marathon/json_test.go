package marathon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReferenceRoundTrip decodes each of Marathon's example payloads into
// its type, encodes it again and checks that every member the example has
// survives with its value. Members the encoding adds (defaults, [] for
// absent lists) are allowed; members the example gives as null or empty
// may be left out. Encoding a second time must give the same bytes.
func TestReferenceRoundTrip(t *testing.T) {
	tests := []struct {
		file string
		v    func() any
	}{
		{"app.json", func() any { return new(App) }},
		{"apps_create.json", func() any { return new([]App) }},
		{"app_list.json", func() any { return new(AppList) }},
		{"app_tasks.json", func() any { return new(TaskList) }},
		{"app_task.json", func() any { return new(TaskSingle) }},
		{"tasks.json", func() any { return new(TaskList) }},
		{"deployments.json", func() any { return new([]Deployment) }},
		{"deployment_steps.json", func() any {
			return new(struct {
				Steps []DeploymentStep `json:"steps"`
			})
		}},
		{"deployments_result.json", func() any { return new(DeploymentResult) }},
		{"group.json", func() any { return new(Group) }},
		{"queue.json", func() any { return new(Queue) }},
		{"info.json", func() any { return new(Info) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "reference", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			v := tt.v()
			if err := json.Unmarshal(in, v); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			var want, got any
			mustUnmarshal(t, in, &want)
			mustUnmarshal(t, out, &got)
			for _, diff := range keeps("", want, got) {
				t.Error(diff)
			}
			again := tt.v()
			mustUnmarshal(t, out, again)
			out2, err := json.Marshal(again)
			if err != nil || !bytes.Equal(out, out2) {
				t.Errorf("encoding is not stable:\n%s\n%s", out, out2)
			}
		})
	}
}

// TestReferenceAppsValidate checks that the example apps a client would
// send are valid; app.json lists every field and breaks several rules, as
// Marathon would report.
func TestReferenceAppsValidate(t *testing.T) {
	var create []json.RawMessage
	mustUnmarshal(t, readRef(t, "apps_create.json"), &create)
	var list struct{ Apps []json.RawMessage }
	mustUnmarshal(t, readRef(t, "app_list.json"), &list)
	var group struct {
		Groups []struct {
			Apps   []json.RawMessage
			Groups []struct{ Apps []json.RawMessage }
		}
	}
	mustUnmarshal(t, readRef(t, "group.json"), &group)
	bodies := append(create, list.Apps...)
	for _, g := range group.Groups {
		bodies = append(bodies, g.Apps...)
		for _, gg := range g.Groups {
			bodies = append(bodies, gg.Apps...)
		}
	}
	for _, body := range bodies {
		if _, details, err := ParseApp(body); err != nil || details != nil {
			t.Errorf("ParseApp(%.80s…) = %v, %v, want a valid app", body, details, err)
		}
	}
	_, details, err := ParseApp(readRef(t, "app.json"))
	if err != nil || !hasDetail(details, "/", msgIPAddressAndPorts) || !hasDetail(details, "/ipAddress", msgDiscoveryDocker) {
		t.Errorf("ParseApp(app.json) = %v, %v, want the ipAddress conflicts", details, err)
	}
}

func TestReferenceEvents(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(readRef(t, "events.txt")))
	var name string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		n++
		e, err := DecodeEvent([]byte(data))
		if err != nil {
			t.Fatalf("DecodeEvent(%s): %v", data, err)
		}
		if e.Type() != name {
			t.Errorf("DecodeEvent(%s).Type() = %q, want %q", data, e.Type(), name)
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		mustUnmarshal(t, []byte(data), &want)
		mustUnmarshal(t, out, &got)
		for _, diff := range keeps("", want, got) {
			t.Errorf("%s: %s", name, diff)
		}
	}
	if n != 3 {
		t.Errorf("read %d events, want 3", n)
	}
}

// TestEventTypes checks each event type's members and its decoding.
func TestEventTypes(t *testing.T) {
	meta := func(typ string) EventMeta { return EventMeta{EventType: typ, Timestamp: "2014-03-01T23:29:30.158Z"} }
	alive := true
	plan := DeploymentPlan{ID: "867ed450", Version: "2014-03-01T23:24:14.846Z",
		Steps: []DeploymentStep{{Actions: []DeploymentAction{{Action: ActionScaleApplication, App: "/my-app"}}}}}
	tests := []struct {
		e    Event
		want string
	}{
		{&StatusUpdateEvent{SlaveID: "s", TaskID: "t", TaskStatus: TaskRunning, AppID: "/a", Host: "h", IPAddresses: []IPAddress{}, Ports: []int{31000}, Version: "v", EventMeta: meta(EventStatusUpdate)},
			`{"slaveId":"s","taskId":"t","taskStatus":"TASK_RUNNING","message":"","appId":"/a","host":"h","ipAddresses":[],"ports":[31000],"version":"v","eventType":"status_update_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&HealthStatusChangedEvent{AppID: "/a", TaskID: "t", InstanceID: "i", Version: "v", Alive: true, EventMeta: meta(EventHealthStatusChanged)},
			`{"appId":"/a","taskId":"t","instanceId":"i","version":"v","alive":true,"eventType":"health_status_changed_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&InstanceHealthChangedEvent{InstanceID: "i", RunSpecVersion: "v", RunSpecID: "/a", Healthy: &alive, EventMeta: meta(EventInstanceHealthChanged)},
			`{"instanceId":"i","runSpecVersion":"v","runSpecId":"/a","healthy":true,"eventType":"instance_health_changed_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&InstanceChangedEvent{InstanceID: "i", Condition: "Running", RunSpecID: "/a", AgentID: "ag", Host: "h", RunSpecVersion: "v", EventMeta: meta(EventInstanceChanged)},
			`{"instanceId":"i","condition":"Running","runSpecId":"/a","agentId":"ag","host":"h","runSpecVersion":"v","eventType":"instance_changed_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&FailedHealthCheckEvent{AppID: "/a", TaskID: "t", HealthCheck: HealthCheck{Protocol: HealthTCP, PortIndex: intp(0), IPProtocol: "IPv4"}, EventMeta: meta(EventFailedHealthCheck)},
			`{"appId":"/a","taskId":"t","healthCheck":{"protocol":"TCP","portIndex":0,"gracePeriodSeconds":0,"intervalSeconds":0,"timeoutSeconds":0,"maxConsecutiveFailures":0,"delaySeconds":0,"ignoreHttp1xx":false,"ipProtocol":"IPv4"},"eventType":"failed_health_check_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&UnhealthyTaskKillEvent{AppID: "/a", TaskID: "t", Version: "v", Reason: "500", Host: "h", SlaveID: "s", EventMeta: meta(EventUnhealthyTaskKill)},
			`{"appId":"/a","taskId":"t","version":"v","reason":"500","host":"h","slaveId":"s","eventType":"unhealthy_task_kill_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&AppTerminatedEvent{AppID: "/a", EventMeta: meta(EventAppTerminated)},
			`{"appId":"/a","eventType":"app_terminated_event","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&DeploymentStatusEvent{Plan: plan, CurrentStep: plan.Steps[0], EventMeta: meta(EventDeploymentInfo)},
			`{"plan":{"id":"867ed450","steps":[{"actions":[{"action":"ScaleApplication","app":"/my-app"}]}],"version":"2014-03-01T23:24:14.846Z"},"currentStep":{"actions":[{"action":"ScaleApplication","app":"/my-app"}]},"eventType":"deployment_info","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&DeploymentStatusEvent{Plan: plan, CurrentStep: plan.Steps[0], EventMeta: meta(EventDeploymentStepSuccess)},
			`{"plan":{"id":"867ed450","steps":[{"actions":[{"action":"ScaleApplication","app":"/my-app"}]}],"version":"2014-03-01T23:24:14.846Z"},"currentStep":{"actions":[{"action":"ScaleApplication","app":"/my-app"}]},"eventType":"deployment_step_success","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&DeploymentEvent{ID: "867ed450", Plan: &plan, EventMeta: meta(EventDeploymentSuccess)},
			`{"id":"867ed450","plan":{"id":"867ed450","steps":[{"actions":[{"action":"ScaleApplication","app":"/my-app"}]}],"version":"2014-03-01T23:24:14.846Z"},"eventType":"deployment_success","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&DeploymentEvent{ID: "867ed450", EventMeta: meta(EventDeploymentFailed)},
			`{"id":"867ed450","eventType":"deployment_failed","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&GroupChangeEvent{GroupID: "/product-a/backend", Version: "v", EventMeta: meta(EventGroupChangeSuccess)},
			`{"groupId":"/product-a/backend","version":"v","eventType":"group_change_success","timestamp":"2014-03-01T23:29:30.158Z"}`},
		{&EventStreamEvent{RemoteAddress: "127.0.0.1", EventMeta: meta(EventStreamDetached)},
			`{"remoteAddress":"127.0.0.1","eventType":"event_stream_detached","timestamp":"2014-03-01T23:29:30.158Z"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.e)
		if err != nil || string(b) != tt.want {
			t.Errorf("%s encodes as\n%s, want\n%s", tt.e.Type(), b, tt.want)
			continue
		}
		back, err := DecodeEvent(b)
		if err != nil || !reflect.DeepEqual(back, tt.e) {
			t.Errorf("DecodeEvent(%s) = %#v, %v, want %#v", b, back, err, tt.e)
		}
	}

	api := &APIPostEvent{ClientIP: "1.2.3.4", URI: "/v2/apps/a", AppDefinition: mustParse(t, `{"id":"/a","cmd":"x"}`), EventMeta: meta(EventAPIPost)}
	b, _ := json.Marshal(api)
	back, err := DecodeEvent(b)
	if err != nil || back.(*APIPostEvent).AppDefinition.ID != "/a" {
		t.Errorf("DecodeEvent(%s) = %v, %v", b, back, err)
	}

	unknown := `{"eventType":"pod_created_event","timestamp":"t","uri":"/v2/pods/p"}`
	e, err := DecodeEvent([]byte(unknown))
	if err != nil || e.Type() != "pod_created_event" {
		t.Fatalf("DecodeEvent(unknown) = %v, %v", e, err)
	}
	if b, _ := json.Marshal(e); string(b) != unknown {
		t.Errorf("unknown event encodes as %s, want %s", b, unknown)
	}
	if _, err := DecodeEvent([]byte(`{"timestamp":"t"}`)); err == nil {
		t.Errorf("DecodeEvent without eventType succeeded")
	}
}

// TestNonNullKeys checks that responses carry the collections clients index
// without checking, as {} or [], for an app built in Go with nothing set,
// for a minimal posted app, and for the other response types.
func TestNonNullKeys(t *testing.T) {
	appKeys := map[string]string{
		"labels": "{}", "env": "{}", "healthChecks": "[]", "readinessChecks": "[]",
		"constraints": "[]", "dependencies": "[]", "fetch": "[]",
		"portDefinitions": "", "ports": "", "networks": "",
	}
	check := func(what string, v any, keys map[string]string) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		mustUnmarshal(t, b, &m)
		for k, want := range keys {
			got, ok := m[k]
			switch {
			case !ok:
				t.Errorf("%s: %q missing in %s", what, k, b)
			case string(got) == "null":
				t.Errorf("%s: %q is null in %s", what, k, b)
			case want != "" && string(got) != want:
				t.Errorf("%s: %q = %s, want %s", what, k, got, want)
			}
		}
	}

	check("App{}", App{ID: "/x"}, appKeys)
	minimal := mustParse(t, `{"id":"/x","cmd":"y"}`)
	check("minimal app", minimal, appKeys)
	var m map[string]json.RawMessage
	b, _ := json.Marshal(minimal)
	mustUnmarshal(t, b, &m)
	for k, want := range map[string]string{
		"portDefinitions": `[{"port":0,"protocol":"tcp","name":"default","labels":{}}]`,
		"ports":           `[0]`,
		"networks":        `[{"mode":"host"}]`,
	} {
		if string(m[k]) != want {
			t.Errorf("minimal app: %q = %s, want %s", k, m[k], want)
		}
	}
	check("bridged app", mustParse(t, `{"id":"/x","container":{"docker":{"image":"i","network":"BRIDGE","portMappings":[{"containerPort":80,"servicePort":10001}]}}}`),
		map[string]string{"portDefinitions": "[]", "ports": "[10001]"})
	check("App{Constraints: [nil]}", App{Constraints: [][]string{nil}}, map[string]string{"constraints": "[[]]"})
	check("AppInfo", AppInfo{App: App{ID: "/x"}, Counts: &TaskCounts{}, Deployments: []DeploymentRef{}, Tasks: []Task{}},
		map[string]string{"labels": "{}", "tasksRunning": "0", "deployments": "[]", "tasks": "[]"})
	check("Task", Task{ID: "t"}, map[string]string{"ports": "[]", "servicePorts": "[]", "ipAddresses": "[]", "healthCheckResults": "[]", "localVolumes": "[]"})
	check("Deployment", Deployment{ID: "d"}, map[string]string{"affectedApps": "[]", "affectedPods": "[]", "steps": "[]", "currentActions": "[]"})
	check("Group", Group{ID: "/"}, map[string]string{"apps": "[]", "groups": "[]", "pods": "[]", "dependencies": "[]"})
	check("AppList", AppList{}, map[string]string{"apps": "[]"})
	check("TaskList", TaskList{}, map[string]string{"tasks": "[]"})
	check("Queue", Queue{}, map[string]string{"queue": "[]"})
	check("PortMapping", PortMapping{}, map[string]string{"labels": "{}"})
	check("Docker", Docker{}, map[string]string{"parameters": "[]"})
	check("Container", Container{}, map[string]string{"volumes": "[]"})
	check("Info", Info{}, map[string]string{"marathon_config": ""})
	check("MarathonConfig", MarathonConfig{}, map[string]string{"features": "[]", "access_control_allow_origin": "[]"})
}

func TestTaskJSON(t *testing.T) {
	staging := Task{ID: "a.instance-1", AppID: "/a", Host: "h", State: TaskStaging, StagedAt: "2015-08-26T20:23:39.463Z",
		HealthCheckResults: []HealthCheckResult{{Alive: true, InstanceID: "a.instance-1", TaskID: "a.instance-1", FirstSuccess: "2015-08-26T20:23:49.463Z"}}}
	b, err := json.Marshal(staging)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"a.instance-1","appId":"/a","host":"h","ports":[],"servicePorts":[],"ipAddresses":[],"state":"TASK_STAGING","stagedAt":"2015-08-26T20:23:39.463Z","healthCheckResults":[{"alive":true,"consecutiveFailures":0,"firstSuccess":"2015-08-26T20:23:49.463Z","instanceId":"a.instance-1","taskId":"a.instance-1"}],"localVolumes":[],"startedAt":null}`
	if string(b) != want {
		t.Errorf("staging task encodes as\n%s, want\n%s", b, want)
	}
	var back Task
	mustUnmarshal(t, b, &back)
	if back.StartedAt != "" || back.HealthCheckResults[0].InstanceID != "a.instance-1" {
		t.Errorf("decoded %+v", back)
	}
}

func TestAppInfoJSON(t *testing.T) {
	info := AppInfo{
		App:             mustParse(t, `{"id":"/a","cmd":"x"}`),
		Counts:          &TaskCounts{Staged: 1, Running: 2, Healthy: 3, Unhealthy: 4},
		Deployments:     []DeploymentRef{{ID: "d1"}},
		Tasks:           []Task{{ID: "a.1", AppID: "/a"}},
		LastTaskFailure: &TaskFailure{AppID: "/a", TaskID: "a.0", State: TaskFailed},
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{`"id":"/a"`, `"tasksStaged":1`, `"tasksRunning":2`, `"tasksHealthy":3`, `"tasksUnhealthy":4`, `"deployments":[{"id":"d1"}]`, `"tasks":[{"id":"a.1"`, `"lastTaskFailure":{"appId":"/a"`} {
		if !strings.Contains(string(b), member) {
			t.Errorf("AppInfo JSON lacks %s: %s", member, b)
		}
	}
	if strings.Contains(string(b), "readinessCheckResults") || strings.Contains(string(b), "tasksStats") {
		t.Errorf("AppInfo JSON has embeds that were not set: %s", b)
	}
	var back AppInfo
	mustUnmarshal(t, b, &back)
	if back.ID != "/a" || *back.Counts != *info.Counts || len(back.Tasks) != 1 || back.Deployments[0].ID != "d1" || back.LastTaskFailure.TaskID != "a.0" {
		t.Errorf("decoded %+v", back)
	}
	var plain AppInfo
	mustUnmarshal(t, []byte(`{"id":"/a","cmd":"x"}`), &plain)
	if plain.Counts != nil || plain.Tasks != nil || plain.Cpus != 1 {
		t.Errorf("decoded plain app %+v, want no embeds and defaults", plain)
	}
}

func TestEnvValueJSON(t *testing.T) {
	env := Env{"A": {Value: "b"}, "P": {Secret: "db"}}
	b, err := json.Marshal(env)
	if err != nil || string(b) != `{"A":"b","P":{"secret":"db"}}` {
		t.Fatalf("Env encodes as %s, %v", b, err)
	}
	var back Env
	mustUnmarshal(t, b, &back)
	if !reflect.DeepEqual(back, env) {
		t.Errorf("decoded %+v, want %+v", back, env)
	}
	if err := json.Unmarshal([]byte(`{"A":{"x":"y"}}`), &back); err == nil {
		t.Errorf("decoding an object without secret succeeded")
	}
}

func TestUnreachableStrategyJSON(t *testing.T) {
	for _, tt := range []struct {
		json string
		v    UnreachableStrategy
	}{
		{`"disabled"`, UnreachableStrategy{Disabled: true}},
		{`{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}`, UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 120}},
	} {
		var v UnreachableStrategy
		mustUnmarshal(t, []byte(tt.json), &v)
		if v != tt.v {
			t.Errorf("decoding %s = %+v, want %+v", tt.json, v, tt.v)
		}
		if b, _ := json.Marshal(v); string(b) != tt.json {
			t.Errorf("encoding %+v = %s, want %s", v, b, tt.json)
		}
	}
}

func TestDeploymentPlanLight(t *testing.T) {
	p := DeploymentPlan{ID: "p", Original: &Group{ID: "/"}, Target: &Group{ID: "/"}, Version: "v"}
	b, _ := json.Marshal(p.Light())
	if want := `{"id":"p","steps":[],"version":"v"}`; string(b) != want {
		t.Errorf("light plan = %s, want %s", b, want)
	}
	b, _ = json.Marshal(p)
	if !strings.Contains(string(b), `"original":{"id":"/"`) {
		t.Errorf("full plan lacks original: %s", b)
	}
}

func TestGroupFind(t *testing.T) {
	var g Group
	mustUnmarshal(t, readRef(t, "group.json"), &g)
	if a, ok := g.FindApp("/tools/docker/registry"); !ok || a.Instances != 1 {
		t.Errorf("FindApp(/tools/docker/registry) = %v, %v", a, ok)
	}
	if _, ok := g.FindApp("/tools/nope"); ok {
		t.Errorf("FindApp(/tools/nope) found something")
	}
	if sub, ok := g.FindGroup("/tools/log"); !ok || sub.ID != "/tools/log" {
		t.Errorf("FindGroup(/tools/log) = %v, %v", sub, ok)
	}
	if n := len(g.TransitiveApps()); n != 3 {
		t.Errorf("TransitiveApps() has %d apps, want 3", n)
	}
}

func readRef(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %.200s: %v", b, err)
	}
}

// keeps lists where got loses what want has: every member of want must be
// in got with the same value, except that null or empty members of want
// may be absent from got.
func keeps(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if isEmpty(wv) {
					continue
				}
				diffs = append(diffs, fmt.Sprintf("%s/%s: missing, want %v", path, k, wv))
				continue
			}
			if wv == nil {
				continue // null may become a default or an empty value
			}
			diffs = append(diffs, keeps(path+"/"+k, wv, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, keeps(fmt.Sprintf("%s(%d)", path, i), w[i], g[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func TestTimestamps(t *testing.T) {
	ts, err := ParseTimestamp("2015-09-30T09:09:17.614Z")
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatTimestamp(ts.In(time.FixedZone("x", 3600))); got != "2015-09-30T09:09:17.614Z" {
		t.Errorf("FormatTimestamp = %q", got)
	}
	if got := FormatTimestamp(time.Date(2016, 2, 28, 16, 41, 41, 0, time.UTC)); got != "2016-02-28T16:41:41.000Z" {
		t.Errorf("FormatTimestamp = %q", got)
	}
	if m := Meta(EventAppTerminated, ts); m.EventType != "app_terminated_event" || m.Timestamp != "2015-09-30T09:09:17.614Z" {
		t.Errorf("Meta = %+v", m)
	}
	if b, _ := json.Marshal(VersionList{}); string(b) != `{"versions":[]}` {
		t.Errorf("VersionList{} = %s", b)
	}
}
