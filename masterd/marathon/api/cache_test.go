package api

import (
	"bytes"
	"context"
	"fmt"
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

// sharedViews is a Backend that shares one view between readers until
// something changes, as the framework does; fakeBackend builds a view for
// every call.
type sharedViews struct {
	*fakeBackend
	mu   sync.Mutex // guards view
	view *model.View
}

func (s *sharedViews) View() *model.View {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view == nil {
		s.view = s.fakeBackend.View()
	}
	return s.view
}

// changed drops the shared view, as the framework does after a change.
func (s *sharedViews) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view = nil
}

func (s *sharedViews) Deploy(ctx context.Context, change func(*model.Root) error, opts DeployOptions) (marathon.DeploymentResult, error) {
	defer s.changed()
	return s.fakeBackend.Deploy(ctx, change, opts)
}

// cachedAPI returns the API over f with views shared as the framework
// shares them, and a reference API over f that gets a new view for every
// request and so never answers from its cache.
func cachedAPI(t *testing.T, f *fakeBackend) (cached, fresh http.Handler, views *sharedViews) {
	t.Helper()
	views = &sharedViews{fakeBackend: f}
	cached, lead := leading(t, f)
	lead.setBackend(views)
	fresh, _ = leading(t, f)
	return cached, fresh, views
}

// cacheFixture is taskFixture plus /prod/db, with a label and no tasks.
func cacheFixture(t *testing.T) *fakeBackend {
	f := taskFixture(t)
	f.addApp(t, `{"id": "/prod/db", "cmd": "postgres", "labels": {"tier": "db"}}`)
	return f
}

// tamper alters v in place, which readers must never do: whatever is
// rendered from v afterwards differs from what was rendered before, so a
// response that does not differ was not rendered again.
func tamper(v *model.View) {
	for id, a := range v.Root.Apps {
		a.Cmd = "tampered"
		v.Root.Apps[id] = a
	}
	for _, st := range v.Apps {
		st.Counts.Running += 100
		for i := range st.Tasks {
			st.Tasks[i].Host = "tampered"
		}
	}
}

// request is a GET with its headers as "Name: value" pairs.
type request struct {
	target  string
	headers []string
}

func (r request) String() string {
	return strings.Join(append([]string{r.target}, r.headers...), " ")
}

func (r request) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, "GET", r.target, "", r.headers...)
}

// checkSame fails t unless got has want's status, headers and body.
func checkSame(t *testing.T, what string, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("%s = %d %.200s, want %d %.200s", what, got.Code, got.Body, want.Code, want.Body)
	}
	if !maps.EqualFunc(got.Header(), want.Header(), slices.Equal) {
		t.Errorf("%s: headers %v, want %v", what, got.Header(), want.Header())
	}
}

func TestCacheServesSameView(t *testing.T) {
	f := cacheFixture(t)
	cached, fresh, views := cachedAPI(t, f)
	for _, r := range []request{
		{target: "/v2/apps"},
		{target: "/v2/apps?embed=apps.tasks&embed=apps.lastTaskFailure&embed=apps.readiness"},
		{target: "/v2/apps?label=tier==db"},
		{target: "/v2/apps/prod/web"},
		{target: "/v2/apps//prod/web/"},
		{target: "/v2/apps/prod/*"},
		{target: "/v2/tasks"},
		{target: "/v2/tasks?status=staging"},
		{target: "/v2/tasks", headers: []string{"Accept: text/plain"}},
	} {
		t.Run(r.String(), func(t *testing.T) {
			views.changed()
			first := r.do(t, cached)
			checkSame(t, "GET "+r.String(), first, r.do(t, fresh))
			tamper(views.View())
			checkSame(t, "GET "+r.String()+" again on the same view", r.do(t, cached), first)
		})
	}
	// What tamper changes shows in what is rendered afresh.
	body := expect[marathon.AppList](t, do(t, cached, "GET", "/v2/apps?cmd=tampered", ""), http.StatusOK)
	if len(body.Apps) != 4 {
		t.Errorf("GET /v2/apps?cmd=tampered listed %d apps, want all 4", len(body.Apps))
	}
}

func TestCacheFollowsChanges(t *testing.T) {
	f := cacheFixture(t)
	cached, fresh, views := cachedAPI(t, f)
	requests := []request{
		{target: "/v2/apps"},
		{target: "/v2/apps?embed=apps.tasks"},
		{target: "/v2/apps/prod/web"},
		{target: "/v2/apps/prod/*"},
		{target: "/v2/tasks"},
		{target: "/v2/tasks", headers: []string{"Accept: text/plain"}},
	}
	before := map[string]string{}
	for _, r := range requests {
		rec := r.do(t, cached)
		checkSame(t, "GET "+r.String(), rec, r.do(t, fresh))
		before[r.String()] = rec.Body.String()
	}

	// A deployment through the API and a task that starts, which the
	// framework would follow with a new view.
	expect[marathon.DeploymentResult](t, do(t, cached, "PUT", "/v2/apps/prod/web", `{"instances": 4}`), http.StatusOK)
	st := f.View().Apps["/prod/web"]
	f.setTasks("/prod/web", append(st.Tasks,
		marathon.Task{ID: "prod_web.4", AppID: "/prod/web", Host: "a4", Ports: []int{31007, 31008}, State: marathon.TaskRunning})...)
	views.changed()

	for _, r := range requests {
		rec := r.do(t, cached)
		checkSame(t, "GET "+r.String()+" after a change", rec, r.do(t, fresh))
		if rec.Body.String() == before[r.String()] {
			t.Errorf("GET %s after a change = %.200s, as before it", r, rec.Body)
		}
	}
	app := expect[marathon.AppSingle](t, do(t, cached, "GET", "/v2/apps/prod/web", ""), http.StatusOK).App
	if app.Instances != 4 || len(app.Tasks) != 4 || app.Counts.Running != 3 {
		t.Errorf("GET /v2/apps/prod/web after a change: %d instances, %d tasks, %d running; want 4, 4, 3",
			app.Instances, len(app.Tasks), app.Counts.Running)
	}
}

func TestCacheLeavesOutTaskStats(t *testing.T) {
	f := newFakeBackend()
	f.addApp(t, `{"id": "/prod/web", "cmd": "serve", "instances": 2}`)
	f.setTasks("/prod/web", webTask("prod_web.1"), webTask("prod_web.2"))
	cached, _, _ := cachedAPI(t, f)
	clock := time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)
	cached.(*server).now = func() time.Time { return clock }

	average := func(target string) float64 {
		t.Helper()
		rec := do(t, cached, "GET", target, "")
		var apps []marathon.AppInfo
		switch {
		case strings.HasPrefix(target, "/v2/apps?"):
			apps = expect[marathon.AppList](t, rec, http.StatusOK).Apps
		case strings.Contains(target, "/*"):
			apps = expect[map[string][]marathon.AppInfo](t, rec, http.StatusOK)["*"]
		default:
			apps = []marathon.AppInfo{expect[marathon.AppSingle](t, rec, http.StatusOK).App}
		}
		if len(apps) != 1 || apps[0].TasksStats == nil || apps[0].TasksStats.TotalSummary == nil ||
			apps[0].TasksStats.TotalSummary.Stats.LifeTime == nil {
			t.Fatalf("GET %s = %s, want one app with the life time of its tasks", target, rec.Body)
		}
		return apps[0].TasksStats.TotalSummary.Stats.LifeTime.AverageSeconds
	}
	for _, target := range []string{
		"/v2/apps?embed=apps.taskStats",
		"/v2/apps?embed=app.taskStats&embed=apps.tasks",
		"/v2/apps/prod/web?embed=app.taskStats",
		"/v2/apps/prod/*?embed=app.taskStats",
	} {
		t.Run(target, func(t *testing.T) {
			was := average(target)
			clock = clock.Add(10 * time.Minute)
			if got := average(target); got != was+600 {
				t.Errorf("GET %s ten minutes later: average life time %v, want %v", target, got, was+600)
			}
		})
	}
}

func TestCacheKeysQueries(t *testing.T) {
	f := cacheFixture(t)
	f.status["/prod/web"].LastTaskFailure = &marathon.TaskFailure{AppID: "/prod/web", TaskID: "prod_web.0", State: marathon.TaskFailed}
	cached, fresh, views := cachedAPI(t, f)
	requests := []request{
		{target: "/v2/apps"},
		{target: "/v2/apps?embed=apps.tasks"},
		{target: "/v2/apps?embed=apps.lastTaskFailure"},
		{target: "/v2/apps?embed=apps.failures"},
		{target: "/v2/apps?id=web"},
		{target: "/v2/apps?id=web&embed=apps.tasks"},
		{target: "/v2/apps?id=prod"},
		{target: "/v2/apps?cmd=work"},
		{target: "/v2/apps?cmd="},
		{target: "/v2/apps?label=tier==db"},
		{target: "/v2/apps?label=tier!=db"},
		{target: "/v2/apps/prod/web"},
		{target: "/v2/apps/worker"},
		{target: "/v2/apps/prod/*"},
		{target: "/v2/apps/*"},
		{target: "/v2/tasks"},
		{target: "/v2/tasks?status=running"},
		{target: "/v2/tasks?status=staging"},
		{target: "/v2/tasks", headers: []string{"Accept: text/plain"}},
	}
	// Every request on one view: a cache that mixed two of them up would
	// answer the second with the first's body.
	first := map[string]*httptest.ResponseRecorder{}
	seen := map[string]string{}
	for _, r := range requests {
		rec := r.do(t, cached)
		checkSame(t, "GET "+r.String(), rec, r.do(t, fresh))
		if other, ok := seen[rec.Body.String()]; ok {
			t.Errorf("GET %s answers as GET %s; the test needs every answer to differ", r, other)
		}
		first[r.String()], seen[rec.Body.String()] = rec, r.String()
	}
	tamper(views.View())
	for _, r := range requests {
		checkSame(t, "GET "+r.String()+" again on the same view", r.do(t, cached), first[r.String()])
	}
	// Parameters the handler does not read, and their order, do not
	// matter.
	for _, target := range []string{"/v2/apps?embed=apps.tasks&id=web&x=1", "/v2/apps?id=web&embed=apps.tasks&id=db"} {
		checkSame(t, "GET "+target, do(t, cached, "GET", target, ""), first["/v2/apps?id=web&embed=apps.tasks"])
	}
}

func TestResponseCache(t *testing.T) {
	v1, v2 := &model.View{}, &model.View{}
	key := func(i int) cacheKey { return cacheKey{resource: "apps", query: fmt.Sprintf("id=%d", i)} }
	stats := cacheKey{resource: "apps", embeds: appEmbeds{taskStats: true}}
	big := strings.Repeat("x", maxCachedBytes/2+1)
	type get struct {
		v      *model.View
		key    cacheKey
		status int
		body   string
	}
	var many []get
	for range 2 {
		for i := range 2 * maxCachedResponses {
			many = append(many, get{v1, key(i), 200, "a"})
		}
	}
	for _, tc := range []struct {
		name    string
		gets    []get
		renders int
	}{
		{"same view and key", []get{{v1, key(1), 200, "a"}, {v1, key(1), 200, "a"}}, 1},
		{"other key", []get{{v1, key(1), 200, "a"}, {v1, key(2), 200, "b"}, {v1, key(1), 200, "a"}}, 2},
		{"new view", []get{{v1, key(1), 200, "a"}, {v2, key(1), 200, "b"}, {v2, key(1), 200, "b"}}, 2},
		{"a failure is not kept", []get{{v1, key(1), 500, "x"}, {v1, key(1), 200, "a"}, {v1, key(1), 200, "a"}}, 2},
		{"taskStats is never kept", []get{{v1, stats, 200, "a"}, {v1, stats, 200, "b"}}, 2},
		// The first maxCachedResponses keys are kept, the others rendered
		// each time.
		{"at most maxCachedResponses", many, 3 * maxCachedResponses},
		{"at most maxCachedBytes", []get{{v1, key(1), 200, big}, {v1, key(2), 200, big}, {v1, key(1), 200, big}, {v1, key(2), 200, big}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c responseCache
			renders := 0
			for _, g := range tc.gets {
				got := c.get(g.v, g.key, func() response {
					renders++
					return response{status: g.status, contentType: "application/json", body: []byte(g.body)}
				})
				if got.status != g.status || string(got.body) != g.body {
					t.Fatalf("get(%+v) = %d %.20s, want %d %.20s", g.key, got.status, got.body, g.status, g.body)
				}
			}
			if renders != tc.renders {
				t.Errorf("%d renders, want %d", renders, tc.renders)
			}
			if len(c.entries) > maxCachedResponses || c.size > maxCachedBytes {
				t.Errorf("cache holds %d entries of %d bytes, want at most %d and %d", len(c.entries), c.size, maxCachedResponses, maxCachedBytes)
			}
		})
	}
}

// TestResponseCacheRendersOnce checks that concurrent requests for the same
// response wait for one render.
func TestResponseCacheRendersOnce(t *testing.T) {
	var c responseCache
	v := &model.View{}
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	renders := 0
	render := func() response {
		mu.Lock()
		renders++
		if renders == 1 {
			close(started)
		}
		mu.Unlock()
		<-release
		return response{status: http.StatusOK, body: []byte("body")}
	}
	var wg sync.WaitGroup
	bodies := make([]string, 16)
	for i := range bodies {
		wg.Go(func() { bodies[i] = string(c.get(v, cacheKey{resource: "apps"}, render).body) })
	}
	<-started
	close(release)
	wg.Wait()
	if renders != 1 {
		t.Errorf("%d renders for %d concurrent requests, want 1", renders, len(bodies))
	}
	for i, b := range bodies {
		if b != "body" {
			t.Errorf("request %d got %q, want body", i, b)
		}
	}
}
