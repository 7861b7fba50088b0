package events

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/marathon"
)

func TestStreamFraming(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	resp := get(t, srv, "event_type=status_update_event", "text/event-stream")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s, want 200", resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
		t.Errorf("Cache-Control %q, want no-cache", cc)
	}
	waitFor(t, 10*time.Second, func() bool { return b.Subscribers() == 1 })

	e := status(1, "a <b> & \"c\"\nd")
	b.Publish(e)
	data, _ := json.Marshal(e)
	want := "event: status_update_event\ndata: " + string(data) + "\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("stream = %q, want %q", got, want)
	}
}

func TestStreamFilter(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	s := follow(t, srv, "event_type=deployment_success&event_type=status_update_event")
	waitFor(t, 10*time.Second, func() bool { return b.Subscribers() == 1 })

	at := time.Unix(1700000000, 0)
	b.Publish(marathon.GroupChangeEvent{GroupID: "/", Version: "v", EventMeta: marathon.Meta(marathon.EventGroupChangeSuccess, at)})
	b.Publish(status(1, ""))
	b.Publish(marathon.DeploymentStatusEvent{Plan: plan(), EventMeta: marathon.Meta(marathon.EventDeploymentInfo, at)})
	b.Publish(marathon.DeploymentEvent{ID: "d1", EventMeta: marathon.Meta(marathon.EventDeploymentSuccess, at)})
	b.Publish(marathon.AppTerminatedEvent{AppID: "/app", EventMeta: marathon.Meta(marathon.EventAppTerminated, at)})
	b.Publish(status(2, ""))

	// Events arrive in order, so anything the filter let through by
	// mistake (its own event_stream_attached included) would come first.
	for _, want := range []string{marathon.EventStatusUpdate, marathon.EventDeploymentSuccess, marathon.EventStatusUpdate} {
		s.nextOf(want)
	}
}

func TestStreamPlanFormat(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	const types = "event_type=deployment_info&event_type=deployment_step_success&event_type=deployment_success&event_type=deployment_failed"
	full := follow(t, srv, types)
	light := follow(t, srv, types+"&plan-format=light")
	waitFor(t, 10*time.Second, func() bool { return b.Subscribers() == 2 })

	at := time.Unix(1700000000, 0)
	p := plan()
	info := marathon.DeploymentStatusEvent{Plan: plan(), CurrentStep: p.Steps[0], EventMeta: marathon.Meta(marathon.EventDeploymentInfo, at)}
	b.Publish(info)
	b.Publish(&marathon.DeploymentStatusEvent{Plan: plan(), CurrentStep: p.Steps[0], EventMeta: marathon.Meta(marathon.EventDeploymentStepSuccess, at)})
	b.Publish(marathon.DeploymentEvent{ID: "d1", Plan: &p, EventMeta: marathon.Meta(marathon.EventDeploymentSuccess, at)})
	b.Publish(marathon.DeploymentEvent{ID: "d2", EventMeta: marathon.Meta(marathon.EventDeploymentFailed, at)})
	if info.Plan.Original == nil || p.Target == nil {
		t.Error("Publish changed the published event's plan")
	}

	for _, typ := range []string{marathon.EventDeploymentInfo, marathon.EventDeploymentStepSuccess, marathon.EventDeploymentSuccess} {
		ev, _ := full.nextOf(typ)
		if groups := planGroups(t, ev.Data); groups != 2 {
			t.Errorf("full %s: plan has %d of original and target, want both: %s", typ, groups, ev.Data)
		}
		ev, _ = light.nextOf(typ)
		if groups := planGroups(t, ev.Data); groups != 0 {
			t.Errorf("light %s: plan has %d of original and target, want neither: %s", typ, groups, ev.Data)
		}
	}
	for _, s := range []*stream{full, light} {
		ev, _ := s.nextOf(marathon.EventDeploymentFailed)
		if strings.Contains(ev.Data, `"plan"`) {
			t.Errorf("deployment_failed without a plan grew one: %s", ev.Data)
		}
	}
}

// planGroups counts the original and target members of an event's plan.
func planGroups(t *testing.T, data string) int {
	t.Helper()
	var v struct{ Plan map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if v.Plan == nil {
		t.Fatalf("no plan in %s", data)
	}
	n := 0
	for _, k := range []string{"original", "target"} {
		if _, ok := v.Plan[k]; ok {
			n++
		}
	}
	return n
}

func TestStreamAttachedDetached(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	a := follow(t, srv, "")
	// Marathon subscribes a stream before announcing it, so a stream's
	// first event is its own event_stream_attached.
	_, e := a.nextOf(marathon.EventStreamAttached)
	if got := e.(*marathon.EventStreamEvent).RemoteAddress; got != "127.0.0.1" {
		t.Errorf("remoteAddress %q, want 127.0.0.1", got)
	}

	c := follow(t, srv, "event_type=event_stream_attached")
	c.nextOf(marathon.EventStreamAttached)
	a.nextOf(marathon.EventStreamAttached)
	if n := b.Subscribers(); n != 2 {
		t.Errorf("Subscribers = %d, want 2", n)
	}

	c.resp.Body.Close()
	_, e = a.nextOf(marathon.EventStreamDetached)
	if got := e.(*marathon.EventStreamEvent).RemoteAddress; got != "127.0.0.1" {
		t.Errorf("remoteAddress %q, want 127.0.0.1", got)
	}
	if n := b.Subscribers(); n != 1 {
		t.Errorf("Subscribers = %d after a stream left, want 1", n)
	}
}

// TestStreamKeepalive checks that an idle stream carries keepalives and
// that line readers which only look at "event: " and "data: " lines, as
// marathon-lb and Bamboo do, see nothing but the events.
func TestStreamKeepalive(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: 5 * time.Millisecond})
	resp := get(t, srv, "", "text/event-stream")
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var transcript []string
	read := func() string {
		t.Helper()
		line, ok := <-lines
		if !ok {
			t.Fatalf("stream ended; so far:\n%s", strings.Join(transcript, "\n"))
		}
		transcript = append(transcript, line)
		return line
	}
	// An empty line after an empty line is a keepalive.
	for keepalives, prev := 0, "x"; keepalives < 3; {
		line := read()
		if line == "" && prev == "" {
			keepalives++
		}
		prev = line
	}
	b.Publish(status(42, ""))
	for !strings.HasPrefix(read(), "data: ") {
	}

	raw := strings.Join(transcript, "\n") + "\n\n"
	// A marathon-lb-like reader: JSON from lines starting "data: ".
	var types []string
	for line := range strings.SplitSeq(raw, "\n") {
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		e, err := marathon.DecodeEvent([]byte(line[len("data: "):]))
		if err != nil {
			t.Fatalf("data line %q: %v", line, err)
		}
		types = append(types, e.Type())
	}
	if want := []string{marathon.EventStreamAttached, marathon.EventStatusUpdate}; strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("data lines carry %v, want %v", types, want)
	}
	// A Bamboo-like reader: every non-blank line is "event: " or "data: ".
	for line := range strings.SplitSeq(raw, "\n") {
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "event: ") && !strings.HasPrefix(line, "data: ") {
			t.Errorf("line %q is neither an event nor data", line)
		}
	}
	// A spec-following SSE parser dispatches the two events only.
	out := make(chan sseEvent, len(transcript)+2)
	if err := decodeSSE(strings.NewReader(raw), out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var events []string
	keepalives := 0
	for ev := range out {
		if ev.Keepalive {
			keepalives++
			continue
		}
		events = append(events, ev.Type)
	}
	if strings.Join(events, ",") != strings.Join(types, ",") || keepalives < 3 {
		t.Errorf("SSE parser saw %v and %d keepalives, want %v and at least 3", events, keepalives, types)
	}
}

// TestSlowStreamDropped runs a client that never reads next to one that
// reads everything: the first is dropped and its stream ends, the second
// receives every event in order, and publishing never waits.
func TestSlowStreamDropped(t *testing.T) {
	const maxBytes, batch, n, most = 512 << 10, 128, 10_000, 200_000
	b, srv := newTestBus(t, Config{MaxBytes: maxBytes, Keepalive: time.Hour})
	stuck := get(t, srv, "event_type=status_update_event", "text/event-stream")
	fast := follow(t, srv, "event_type=status_update_event")
	waitFor(t, 10*time.Second, func() bool { return b.Subscribers() == 2 })

	// Big events fill the stuck client's socket buffers quickly; the fast
	// client is paced a batch at a time so that it never falls a whole
	// MaxBytes behind. Publishing goes on until the stuck client is dropped,
	// however much its sockets hold.
	message := strings.Repeat("x", 1000)
	i := 0
	for ; i < n || b.Subscribers() > 1; i += batch {
		if i >= most {
			t.Fatalf("stuck stream not dropped after %d events", i)
		}
		for j := i; j < i+batch; j++ {
			b.Publish(status(j, message))
		}
		for j := i; j < i+batch; j++ {
			ev, _ := fast.nextOf(marathon.EventStatusUpdate)
			if got := taskNumber(t, ev.Data); got != j {
				t.Fatalf("fast stream: event %d is number %d", j, got)
			}
		}
	}
	// The stuck stream ends: what the sockets held, then the end.
	got, err := io.Copy(io.Discard, stuck.Body)
	t.Logf("stuck stream ended after %d bytes, %d events published: %v", got, i, err)
	if got >= int64(i*len(message)) {
		t.Errorf("stuck stream got all %d bytes before ending", got)
	}
}

func TestStreamEndsOnClose(t *testing.T) {
	b, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	s := follow(t, srv, "")
	s.nextOf(marathon.EventStreamAttached)
	b.Close()
	<-s.done
	if s.err != nil {
		t.Errorf("stream ended with %v, want a clean end", s.err)
	}

	resp := get(t, srv, "", "text/event-stream")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET after Close: %s, want 503", resp.Status)
	}
	if msg := errorMessage(t, resp); msg == "" {
		t.Error("503 without a message")
	}
}

func TestStreamRequests(t *testing.T) {
	_, srv := newTestBus(t, Config{MaxBytes: 1 << 20, Keepalive: time.Hour})
	tests := []struct {
		method, query, accept string
		want                  int
	}{
		{"GET", "", "", http.StatusOK},
		{"GET", "", "*/*", http.StatusOK},
		{"GET", "", "text/*", http.StatusOK},
		{"GET", "", "application/json, text/event-stream;q=0.5", http.StatusOK},
		{"GET", "plan-format=full", "text/event-stream", http.StatusOK},
		{"HEAD", "", "text/event-stream", http.StatusOK},
		{"GET", "", "application/json", http.StatusNotAcceptable},
		{"GET", "", "text/event-stream;q=0, application/json", http.StatusNotAcceptable},
		{"GET", "plan-format=heavy", "text/event-stream", http.StatusBadRequest},
		{"POST", "", "text/event-stream", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.query+" "+tt.accept, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/v2/events?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s ?%s Accept %q: %s, want %d", tt.method, tt.query, tt.accept, resp.Status, tt.want)
			}
			if tt.want >= 400 && errorMessage(t, resp) == "" {
				t.Errorf("%s without a message", resp.Status)
			}
		})
	}
}

// errorMessage returns the message of a Marathon error body.
func errorMessage(t *testing.T, resp *http.Response) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var body struct{ Message *string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("decoding error body: %v", err)
	}
	if body.Message == nil {
		return ""
	}
	return *body.Message
}
