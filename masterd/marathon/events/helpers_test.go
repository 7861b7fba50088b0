package events

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/marathon"
)

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// newTestBus returns a bus served over loopback HTTP. Both end with the test.
func newTestBus(t *testing.T, cfg Config) (*Bus, *httptest.Server) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b := New(cfg, log)
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		b.Close()
		srv.Close()
	})
	return b, srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// get sends GET /v2/events?query with the given Accept header ("" for
// none); the request ends with the test.
func get(t *testing.T, srv *httptest.Server, query, accept string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /v2/events?%s: %v", query, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return resp
}

// sseEvent is one message of an event stream, or a keepalive: an empty
// line that dispatched nothing.
type sseEvent struct {
	Type, Data string
	Keepalive  bool
}

// decodeSSE parses a stream as the SSE specification does, sending each
// event and each keepalive to out; it returns the read error (nil at a
// clean end).
func decodeSSE(r io.Reader, out chan<- sseEvent) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var ev sseEvent
	var data []string
	pending := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if !pending {
				out <- sseEvent{Keepalive: true}
				continue
			}
			ev.Data = strings.Join(data, "\n")
			out <- ev
			ev, data, pending = sseEvent{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		pending = true
		switch field {
		case "event":
			ev.Type = value
		case "data":
			data = append(data, value)
		}
	}
	return sc.Err()
}

// stream is a client following /v2/events.
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
	err    error // the read error; set before done closes
}

// follow opens /v2/events?query and parses it in the background.
func follow(t *testing.T, srv *httptest.Server, query string) *stream {
	t.Helper()
	resp := get(t, srv, query, "text/event-stream")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/events?%s: %s", query, resp.Status)
	}
	s := &stream{t: t, resp: resp, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = decodeSSE(resp.Body, s.events)
	}()
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.done
	})
	return s
}

// next returns the next event, skipping keepalives.
func (s *stream) next() sseEvent {
	s.t.Helper()
	for {
		select {
		case ev := <-s.events:
			if !ev.Keepalive {
				return ev
			}
		case <-s.done:
			select {
			case ev := <-s.events:
				if !ev.Keepalive {
					return ev
				}
				continue
			default:
			}
			s.t.Fatalf("stream ended (%v) while waiting for an event", s.err)
		case <-time.After(30 * time.Second):
			s.t.Fatal("no event within 30s")
		}
	}
}

// nextOf returns the next event, which must be of type typ, decoded.
func (s *stream) nextOf(typ string) (sseEvent, marathon.Event) {
	s.t.Helper()
	ev := s.next()
	if ev.Type != typ {
		s.t.Fatalf("event %q (%s), want %q", ev.Type, ev.Data, typ)
	}
	e, err := marathon.DecodeEvent([]byte(ev.Data))
	if err != nil {
		s.t.Fatalf("decoding %s: %v", ev.Data, err)
	}
	if e.Type() != typ {
		s.t.Fatalf("event %q carries eventType %q", typ, e.Type())
	}
	return ev, e
}

// status returns a status_update_event numbered i (in TaskID).
func status(i int, message string) marathon.StatusUpdateEvent {
	return marathon.StatusUpdateEvent{
		SlaveID:    "agent-1",
		TaskID:     strconv.Itoa(i),
		TaskStatus: "TASK_RUNNING",
		Message:    message,
		AppID:      "/app",
		Host:       "host-1",
		Ports:      []int{31000},
		Version:    "2026-01-02T03:04:05.000Z",
		EventMeta:  marathon.Meta(marathon.EventStatusUpdate, time.Unix(1700000000, 0)),
	}
}

// taskNumber reads the number status put in an event's TaskID.
func taskNumber(t *testing.T, data string) int {
	t.Helper()
	var v struct{ TaskID string }
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	n, err := strconv.Atoi(v.TaskID)
	if err != nil {
		t.Fatalf("taskId %q is not a number", v.TaskID)
	}
	return n
}
