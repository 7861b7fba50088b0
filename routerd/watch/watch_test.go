package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corral/marathon"
	"corral/tstest"
)

func TestSSEReader(t *testing.T) {
	in := ": comment\r\nevent: a\r\ndata: {\"x\":1}\r\n\r\n" +
		"event: b\ndata: line1\ndata: line2\nid: 7\nretry: 10\n\n" +
		"\n\n" + // empty events are skipped
		"event: c\n\n" + // an event without data too
		"data:nospace\n\n" +
		"event: cut\ndata: {\"trunc"
	r := newSSEReader(strings.NewReader(in))
	var got []string
	for {
		ev, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("end of a cut stream: %v, want io.ErrUnexpectedEOF", err)
			}
			break
		}
		got = append(got, ev.Name+"="+string(ev.Data))
	}
	want := []string{`a={"x":1}`, "b=line1\nline2", "=nospace"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// FuzzSSE: any stream ends in an error or EOF without a panic, and every
// event decodes or is counted as bad.
func FuzzSSE(f *testing.F) {
	f.Add([]byte("event: status_update_event\ndata: {\"eventType\":\"status_update_event\",\"taskId\":\"t\"}\n\n"))
	f.Add([]byte("data: {\"eventType\":\"api_post_event\",\"appDefinition\":{\"id\":5}}\n\n"))
	f.Add([]byte("data: {\"eventType\":\n\ndata: \xff\xfe\n\n:\n\r\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newSSEReader(strings.NewReader(string(b)))
		st := newState()
		for i := 0; i < 1000; i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if e, err := marathon.DecodeEvent(ev.Data); err == nil {
				st.apply(e, time.Now())
			}
		}
	})
}

// fake is a Marathon whose apps and events the test sets.
type fake struct {
	srv    *httptest.Server
	apps   atomic.Value // string: the /v2/apps body
	events chan string
	reads  atomic.Int64
	down   atomic.Bool
	user   string
	query  atomic.Value // url.Values: the event stream's last query
	mu     sync.Mutex
}

func newFake(t *testing.T, apps string) *fake {
	f := &fake{events: make(chan string, 16)}
	f.apps.Store(apps)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if f.user != "" {
			if u, _, ok := r.BasicAuth(); !ok || u != f.user {
				http.Error(w, "auth", http.StatusUnauthorized)
				return
			}
		}
		switch r.URL.Path {
		case "/v2/apps":
			f.reads.Add(1)
			io.WriteString(w, f.apps.Load().(string))
		case "/v2/events":
			f.query.Store(r.URL.Query())
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for {
				select {
				case <-r.Context().Done():
					return
				case ev, ok := <-f.events:
					if !ok {
						return // the stream ends
					}
					io.WriteString(w, ev)
					w.(http.Flusher).Flush()
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

const oneApp = `{"apps":[{"id":"/a","portDefinitions":[{"port":10000}],"tasks":[{"id":"a.1","host":"h","ports":[31000],"state":"TASK_RUNNING"}]}]}`

type published struct {
	mu   sync.Mutex
	last []marathon.AppInfo
	n    int
}

func (p *published) set(apps []marathon.AppInfo) {
	p.mu.Lock()
	p.last, p.n = apps, p.n+1
	p.mu.Unlock()
}

func (p *published) tasks() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for _, a := range p.last {
		for _, t := range a.Tasks {
			ids = append(ids, t.ID+"/"+t.State)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func run(t *testing.T, cfg Config) (*Watcher, *published) {
	cfg.MaxBackoff = 50 * time.Millisecond
	cfg.FullReadInterval = 10 * time.Millisecond
	w, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := &published{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, p.set); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, p
}

func TestFailoverAndReturn(t *testing.T) {
	good := newFake(t, oneApp)
	good.user = "u"
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cfg := DefaultConfig()
	cfg.URLs = []string{dead.URL, good.srv.URL}
	cfg.Credentials = "u:p"
	w, p := run(t, cfg)
	tstest.WaitFor(t, 5*time.Second, "apps from the second URL", func() bool { return p.tasks() == "a.1/TASK_RUNNING" })
	if st := w.Status(); !st.Connected || st.URL != good.srv.URL {
		t.Errorf("status = %+v, want connected to %s", st, good.srv.URL)
	}

	// Marathon goes away midway: nothing is published (the last apps
	// stay), the status says why; on its return it is read again.
	before := good.reads.Load()
	good.down.Store(true)
	close(good.events)
	tstest.WaitFor(t, 5*time.Second, "the status to say unreachable", func() bool { return !w.Status().Connected })
	if st := w.Status(); st.Error == "" || st.LastSync.IsZero() {
		t.Errorf("status while down = %+v, want an error and the last sync", st)
	}
	if got := p.tasks(); got != "a.1/TASK_RUNNING" {
		t.Errorf("published while down: %q, want the last good apps kept", got)
	}
	good.events = make(chan string, 16)
	good.apps.Store(strings.Replace(oneApp, "a.1", "a.2", 1))
	good.down.Store(false)
	tstest.WaitFor(t, 5*time.Second, "a re-read on return", func() bool { return p.tasks() == "a.2/TASK_RUNNING" })
	if good.reads.Load() <= before {
		t.Errorf("no full read after the return")
	}
}

func TestStandbyRedirect(t *testing.T) {
	leader := newFake(t, oneApp)
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, leader.srv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(standby.Close)
	cfg := DefaultConfig()
	cfg.URLs = []string{standby.URL}
	w, p := run(t, cfg)
	tstest.WaitFor(t, 5*time.Second, "apps through the redirect", func() bool { return p.tasks() == "a.1/TASK_RUNNING" })
	if st := w.Status(); st.URL != leader.srv.URL {
		t.Errorf("following %s, want the leader %s", st.URL, leader.srv.URL)
	}
}

func TestEventsApplied(t *testing.T) {
	m := newFake(t, oneApp)
	cfg := DefaultConfig()
	cfg.URLs = []string{m.srv.URL}
	_, p := run(t, cfg)
	tstest.WaitFor(t, 5*time.Second, "the first read", func() bool { return p.tasks() == "a.1/TASK_RUNNING" })
	ev := func(typ, data string) { m.events <- "event: " + typ + "\ndata: " + data + "\n\n" }
	ev("status_update_event", `{"eventType":"status_update_event","appId":"/a","taskId":"a.2","taskStatus":"TASK_RUNNING","host":"h","ports":[31001]}`)
	tstest.WaitFor(t, 5*time.Second, "a.2 running", func() bool { return p.tasks() == "a.1/TASK_RUNNING,a.2/TASK_RUNNING" })
	ev("status_update_event", `{"eventType":"status_update_event","appId":"/a","taskId":"a.1","taskStatus":"TASK_KILLING","host":"h","ports":[31000]}`)
	tstest.WaitFor(t, 5*time.Second, "a.1 killing", func() bool { return p.tasks() == "a.1/TASK_KILLING,a.2/TASK_RUNNING" })
	ev("status_update_event", `{"eventType":"status_update_event","appId":"/a","taskId":"a.1","taskStatus":"TASK_KILLED","host":"h","ports":[31000]}`)
	ev("status_update_event", `{"eventType":"status_update_event","appId":"/a","taskId":"a.1","taskStatus":"TASK_RUNNING","host":"h","ports":[31000]}`) // late
	ev("status_update_event", `{"eventType":"status_update_event","appId":"/a","taskId":"a.3","taskStatus":"TASK_STAGING","host":"h","ports":[31002]}`)
	tstest.WaitFor(t, 5*time.Second, "a.1 gone and a.3 staging", func() bool { return p.tasks() == "a.2/TASK_RUNNING,a.3/TASK_STAGING" })
	// A full read (here a stale one: it still shows a.1 and not a.2, a.3)
	// does not undo what the events said a moment ago; its new app shows.
	reads := m.reads.Load()
	m.apps.Store(`{"apps":[{"id":"/a","portDefinitions":[{"port":10000}],"tasks":[{"id":"a.1","host":"h","ports":[31000],"state":"TASK_RUNNING"}]},` +
		`{"id":"/b","portDefinitions":[{"port":10001}],"tasks":[{"id":"b.1","host":"h","ports":[31005],"state":"TASK_RUNNING"}]}]}`)
	ev("deployment_success", `{"eventType":"deployment_success","id":"d1"}`)
	tstest.WaitFor(t, 5*time.Second, "a full read after a deployment", func() bool { return m.reads.Load() > reads })
	tstest.WaitFor(t, 5*time.Second, "the read's apps with the recent events", func() bool {
		return p.tasks() == "a.2/TASK_RUNNING,a.3/TASK_STAGING,b.1/TASK_RUNNING"
	})
	ev("app_terminated_event", `{"eventType":"app_terminated_event","appId":"/a"}`)
	tstest.WaitFor(t, 5*time.Second, "the app gone", func() bool { return p.tasks() == "b.1/TASK_RUNNING" })
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  func(*Config)
		want string
	}{
		{func(c *Config) { c.URLs = nil }, "no Marathon URL"},
		{func(c *Config) { c.URLs = []string{"ftp://x"} }, `invalid Marathon URL "ftp://x"`},
		{func(c *Config) { c.Credentials = "nopassword" }, "invalid --marathon-credentials, must be user:password"},
		{func(c *Config) { c.Credentials = ":p" }, "invalid --marathon-credentials: empty user"},
	} {
		c := DefaultConfig()
		tt.cfg(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want %q", err, tt.want)
		}
	}
}

// TestStreamAsksLight: the watcher asks Marathon for the events it uses
// and for light deployment plans, and does not decode the deployment
// events it only reacts to (at a few hundred apps a full plan is
// megabytes, and status updates queued behind it waited).
func TestStreamAsksLight(t *testing.T) {
	m := newFake(t, oneApp)
	cfg := DefaultConfig()
	cfg.URLs = []string{m.srv.URL}
	w, _ := run(t, cfg)
	tstest.WaitFor(t, 5*time.Second, "the stream", func() bool { return w.Status().Connected })
	q := m.query.Load().(url.Values)
	if q.Get("plan-format") != "light" || !slices.Contains(q["event_type"], "status_update_event") || !slices.Contains(q["event_type"], "deployment_success") {
		t.Errorf("event stream query = %v, want plan-format=light and the followed event types", q)
	}
	reads := m.reads.Load()
	m.events <- "event: deployment_info\ndata: {\"plan\": [not decoded\n\n"
	tstest.WaitFor(t, 5*time.Second, "a full read after deployment_info", func() bool { return m.reads.Load() > reads })
	if st := w.Status(); st.BadEvents != 0 {
		t.Errorf("bad events = %d, want the deployment event taken by its name", st.BadEvents)
	}
}
