package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// fakeBackend is a Backend over an in-memory root: Deploy stamps versions
// and assigns service ports from 10000 the way the framework does, in
// miniature, and records what it was asked.
type fakeBackend struct {
	mu          sync.Mutex // guards everything below
	root        model.Root
	status      map[string]*model.AppStatus
	deployments []marathon.Deployment
	queue       []marathon.QueueItem
	versions    map[string]map[string]marathon.App // app → version → definition
	delayed     map[string]bool
	clock       time.Time
	seq         int
	nextPort    int

	deployErr  error  // returned by Deploy instead of deploying
	onDeploy   func() // called while deploying
	deploys    []DeployOptions
	kills      []KillOptions
	killedIDs  [][]string
	cancelled  []string
	cancelForc []bool
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		root:     model.Root{Version: "2024-01-01T00:00:00.000Z", Apps: map[string]marathon.App{}, Groups: map[string]model.Group{}},
		status:   map[string]*model.AppStatus{},
		versions: map[string]map[string]marathon.App{},
		delayed:  map[string]bool{},
		clock:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		nextPort: 10000,
	}
}

// addApp stores a normalised app as deployed, with a version.
func (f *fakeBackend) addApp(t *testing.T, js string) marathon.App {
	t.Helper()
	a, details, err := marathon.ParseApp([]byte(js))
	if err != nil || len(details) > 0 {
		t.Fatalf("ParseApp(%s) = %v, %v", js, details, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	target := f.root.Clone()
	target.Apps[a.ID] = a
	f.commit(target, nil)
	return f.root.Apps[a.ID]
}

// setTasks sets an app's tasks and counts them.
func (f *fakeBackend) setTasks(id string, tasks ...marathon.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.statusOf(id)
	st.Tasks = tasks
	st.Counts = marathon.TaskCounts{}
	for _, t := range tasks {
		switch t.State {
		case marathon.TaskStaging, marathon.TaskStarting:
			st.Counts.Staged++
		case marathon.TaskRunning:
			st.Counts.Running++
			switch health(t) {
			case healthy:
				st.Counts.Healthy++
			case unhealthy:
				st.Counts.Unhealthy++
			}
		}
	}
}

func (f *fakeBackend) statusOf(id string) *model.AppStatus {
	st := f.status[id]
	if st == nil {
		st = &model.AppStatus{}
		f.status[id] = st
	}
	return st
}

func (f *fakeBackend) app(id string) (marathon.App, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.root.Apps[id]
	return a, ok
}

// commit makes target the root: new or changed apps get a new version and
// service ports for their zero ports. Callers hold mu.
func (f *fakeBackend) commit(target model.Root, restart []string) marathon.DeploymentResult {
	f.clock = f.clock.Add(time.Second)
	ver := marathon.FormatTimestamp(f.clock)
	for id, a := range target.Apps {
		o, existed := f.root.Apps[id]
		switch {
		case !existed || slices.Contains(restart, id) || !sameConfig(o, a):
			a.Version = ver
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: ver, LastConfigChangeAt: ver}
		case o.Instances != a.Instances:
			a.Version = ver
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: ver, LastConfigChangeAt: o.VersionInfo.LastConfigChangeAt}
		default:
			continue
		}
		a.PortDefinitions = slices.Clone(a.PortDefinitions)
		for i := range a.PortDefinitions {
			if a.PortDefinitions[i].Port == 0 {
				a.PortDefinitions[i].Port = f.nextPort
				f.nextPort++
			}
		}
		target.Apps[id] = a
		if f.versions[id] == nil {
			f.versions[id] = map[string]marathon.App{}
		}
		f.versions[id][ver] = a
	}
	target.Version = ver
	f.root = target
	f.seq++
	return marathon.DeploymentResult{DeploymentID: fmt.Sprintf("deployment-%d", f.seq), Version: ver}
}

func (f *fakeBackend) View() *model.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := &model.View{Root: f.root.Clone(), Apps: map[string]*model.AppStatus{},
		Deployments: slices.Clone(f.deployments), Queue: slices.Clone(f.queue)}
	for id := range f.root.Apps {
		st := *f.statusOf(id)
		st.Tasks = slices.Clone(st.Tasks)
		v.Apps[id] = &st
	}
	return v
}

func (f *fakeBackend) Versions(ctx context.Context, appID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.root.Apps[appID]; !ok {
		return nil, marathon.AppNotFound(appID)
	}
	vs := slices.Collect(maps.Keys(f.versions[appID]))
	slices.Sort(vs)
	slices.Reverse(vs)
	return vs, nil
}

func (f *fakeBackend) Version(ctx context.Context, appID, version string) (marathon.App, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.root.Apps[appID]; !ok {
		return marathon.App{}, false, marathon.AppNotFound(appID)
	}
	a, ok := f.versions[appID][version]
	return a, ok, nil
}

func (f *fakeBackend) Deploy(ctx context.Context, change func(*model.Root) error, opts DeployOptions) (marathon.DeploymentResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deploys = append(f.deploys, opts)
	if f.onDeploy != nil {
		f.onDeploy()
	}
	if f.deployErr != nil {
		return marathon.DeploymentResult{}, f.deployErr
	}
	target := f.root.Clone()
	if err := change(&target); err != nil {
		return marathon.DeploymentResult{}, err
	}
	return f.commit(target, opts.Restart), nil
}

func (f *fakeBackend) KillTasks(ctx context.Context, ids []string, opts KillOptions) ([]marathon.Task, *marathon.DeploymentResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills = append(f.kills, opts)
	f.killedIDs = append(f.killedIDs, ids)
	var killed []marathon.Task
	byApp := map[string]int{}
	for _, st := range f.status {
		for _, t := range st.Tasks {
			if slices.Contains(ids, t.ID) {
				killed = append(killed, t)
				byApp[t.AppID]++
			}
		}
	}
	if !opts.Scale || len(byApp) == 0 {
		return killed, nil, nil
	}
	target := f.root.Clone()
	for id, n := range byApp {
		a := target.Apps[id]
		a.Instances -= n
		target.Apps[id] = a
	}
	res := f.commit(target, nil)
	return killed, &res, nil
}

func (f *fakeBackend) CancelDeployment(ctx context.Context, id string, force bool) (*marathon.DeploymentResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.ContainsFunc(f.deployments, func(d marathon.Deployment) bool { return d.ID == id }) {
		return nil, marathon.DeploymentNotFound(id)
	}
	f.cancelled, f.cancelForc = append(f.cancelled, id), append(f.cancelForc, force)
	if force {
		return nil, nil
	}
	return &marathon.DeploymentResult{DeploymentID: "rollback-of-" + id, Version: f.root.Version}, nil
}

func (f *fakeBackend) ResetDelay(appID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := f.delayed[appID]
	delete(f.delayed, appID)
	return ok
}

func (f *fakeBackend) FrameworkID() string { return "framework-1" }

// fakeLead is a Leadership whose answers tests set.
type fakeLead struct {
	mu        sync.Mutex // guards everything below
	b         Backend
	leader    string
	elected   bool
	abdicated int
}

func (l *fakeLead) Leader() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader, l.elected
}

func (l *fakeLead) Backend() Backend {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b
}

func (l *fakeLead) setBackend(b Backend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = b
}

func (l *fakeLead) Abdicate() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b == nil {
		return errors.New("not leading")
	}
	l.abdicated++
	return nil
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// leading returns the API of a master that leads with backend f.
func leading(t *testing.T, f *fakeBackend, mutate ...func(*Config)) (http.Handler, *fakeLead) {
	t.Helper()
	lead := &fakeLead{b: f, leader: "leader.example:8080", elected: true}
	cfg := DefaultConfig()
	cfg.Self = "leader.example:8080"
	cfg.Info = func() marathon.Info { return marathon.Info{Name: "marathon", Version: "1.10.0-test"} }
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := New(cfg, lead, testLogger())
	s := h.(*server)
	s.now = func() time.Time { return time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC) }
	return h, lead
}

// do sends a request to h; headers come as "Name: value" pairs.
func do(t *testing.T, h http.Handler, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// expect checks a response's status and returns its body decoded.
func expect[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	return v
}

// expectError checks an error response against Marathon's body exactly.
func expectError(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got, exp any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("decoding want %s: %v", want, err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if string(gb) != string(eb) {
		t.Errorf("body %s, want %s", gb, eb)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"credentials", func(c *Config) { c.Credentials = "user:secret" }, true},
		{"credentials without colon", func(c *Config) { c.Credentials = "user" }, false},
		{"credentials without user", func(c *Config) { c.Credentials = ":secret" }, false},
		{"credentials without password", func(c *Config) { c.Credentials = "user:" }, false},
		{"credentials of a colon", func(c *Config) { c.Credentials = ":" }, false},
		{"password with colons", func(c *Config) { c.Credentials = "user:a:b" }, true},
		{"quote in realm", func(c *Config) { c.Realm = `a"b` }, false},
		{"zero dial timeout", func(c *Config) { c.ProxyDialTimeout = 0 }, false},
		{"negative leader wait", func(c *Config) { c.LeaderWait = -time.Second }, false},
		{"zero body limit", func(c *Config) { c.MaxBodyBytes = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
