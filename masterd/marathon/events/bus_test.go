package events

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/marathon"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"default", DefaultConfig(), ""},
		{"no buffer", Config{MaxBytes: 0, Keepalive: time.Second}, "invalid --event-stream-max-bytes 0"},
		{"no keepalive", Config{MaxBytes: 1, Keepalive: 0}, "invalid --event-stream-keepalive 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
			}
		})
	}
	if got := New(Config{}, nil).cfg; got != DefaultConfig() {
		t.Errorf("New(Config{}).cfg = %+v, want the defaults %+v", got, DefaultConfig())
	}
}

func TestFrameEncoding(t *testing.T) {
	e := status(7, "line one\nline two")
	f, err := newFrame(e.Type(), e)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e)
	if string(f.Data) != string(want) {
		t.Errorf("Data = %s, want %s", f.Data, want)
	}
	if got, want := string(f.sse), "event: status_update_event\ndata: "+string(want)+"\n\n"; got != want {
		t.Errorf("SSE message = %q, want %q", got, want)
	}
	if strings.Count(string(f.sse), "\n") != 3 {
		t.Errorf("SSE message %q spans more than one data line", f.sse)
	}
	if _, err := newFrame("bad\ntype", e); err == nil {
		t.Error("newFrame accepted a type with a newline")
	}
}

// plan returns a deployment plan with its original and target groups.
func plan() marathon.DeploymentPlan {
	return marathon.DeploymentPlan{
		ID:       "d1",
		Original: &marathon.Group{ID: "/", Version: "v1"},
		Target:   &marathon.Group{ID: "/", Version: "v2"},
		Steps:    []marathon.DeploymentStep{{Actions: []marathon.DeploymentAction{{Action: marathon.ActionStartApplication, App: "/app"}}}},
		Version:  "v2",
	}
}

func TestLightEvent(t *testing.T) {
	at := time.Unix(1700000000, 0)
	p := plan()
	step := p.Steps[0]
	tests := []struct {
		e     marathon.Event
		heavy bool
	}{
		{marathon.DeploymentStatusEvent{Plan: plan(), CurrentStep: step, EventMeta: marathon.Meta(marathon.EventDeploymentInfo, at)}, true},
		{&marathon.DeploymentStatusEvent{Plan: plan(), CurrentStep: step, EventMeta: marathon.Meta(marathon.EventDeploymentStepSuccess, at)}, true},
		{marathon.DeploymentStatusEvent{Plan: plan().Light(), CurrentStep: step, EventMeta: marathon.Meta(marathon.EventDeploymentStepFailure, at)}, false},
		{marathon.DeploymentEvent{ID: "d1", Plan: &p, EventMeta: marathon.Meta(marathon.EventDeploymentSuccess, at)}, true},
		{&marathon.DeploymentEvent{ID: "d1", Plan: &p, EventMeta: marathon.Meta(marathon.EventDeploymentFailed, at)}, true},
		{marathon.DeploymentEvent{ID: "d1", EventMeta: marathon.Meta(marathon.EventDeploymentFailed, at)}, false},
		{status(1, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.e.Type(), func(t *testing.T) {
			before, _ := json.Marshal(tt.e)
			le, ok := lightEvent(tt.e)
			if ok != tt.heavy {
				t.Fatalf("lightEvent(%T) = _, %v, want %v", tt.e, ok, tt.heavy)
			}
			if after, _ := json.Marshal(tt.e); string(after) != string(before) {
				t.Errorf("lightEvent changed its argument:\n%s\nto\n%s", before, after)
			}
			if !ok {
				return
			}
			if !strings.Contains(string(before), `"original"`) {
				t.Fatalf("full %s has no original group", before)
			}
			light, _ := json.Marshal(le)
			if strings.Contains(string(light), `"original"`) || strings.Contains(string(light), `"target"`) {
				t.Errorf("light %s keeps the groups", light)
			}
			if !strings.Contains(string(light), `"steps"`) || le.Type() != tt.e.Type() {
				t.Errorf("light %s lost more than the groups", light)
			}
		})
	}
}

func TestSubscribeFilterAndOrder(t *testing.T) {
	b := New(DefaultConfig(), nil)
	defer b.Close()
	all, err := b.Subscribe(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	some, err := b.Subscribe([]string{marathon.EventAppTerminated, ""}, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0)
	b.Publish(status(0, ""))
	b.Publish(marathon.AppTerminatedEvent{AppID: "/a", EventMeta: marathon.Meta(marathon.EventAppTerminated, at)})
	b.Publish(status(1, ""))
	b.Publish(nil)

	for i, want := range []string{marathon.EventStatusUpdate, marathon.EventAppTerminated, marathon.EventStatusUpdate} {
		f := next(t, all)
		if f.Type != want {
			t.Errorf("all: event %d is %q, want %q", i, f.Type, want)
		}
		e, err := f.Event()
		if err != nil || e.Type() != want {
			t.Errorf("all: event %d decodes to %v, %v", i, e, err)
		}
	}
	if f := next(t, some); f.Type != marathon.EventAppTerminated {
		t.Errorf("filtered: got %q, want only %q", f.Type, marathon.EventAppTerminated)
	}
	if n := some.Len(); n != 0 {
		t.Errorf("filtered: %d more events queued, want none", n)
	}

	some.Close()
	some.Close()
	if _, err := some.Next(context.Background()); !errors.Is(err, ErrUnsubscribed) {
		t.Errorf("Next after Close = %v, want %v", err, ErrUnsubscribed)
	}
	if err := some.Err(); !errors.Is(err, ErrUnsubscribed) {
		t.Errorf("Err after Close = %v, want %v", err, ErrUnsubscribed)
	}
	if err := all.Err(); err != nil {
		t.Errorf("Err of a live subscription = %v, want nil", err)
	}
	if n := b.Subscribers(); n != 1 {
		t.Errorf("Subscribers = %d, want 1", n)
	}
}

// TestPublishNeverBlocks publishes 100k events to a subscriber that never
// reads. Were Publish to wait for it, the test would hang rather than end.
func TestPublishNeverBlocks(t *testing.T) {
	const maxBytes, n = 4096, 100_000
	b := New(Config{MaxBytes: maxBytes, Keepalive: time.Hour}, nil)
	defer b.Close()
	stuck, err := b.Subscribe(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b.Publish(status(i, ""))
	}
	select {
	case <-stuck.Done():
	default:
		t.Fatal("a subscriber that never reads was not dropped")
	}
	if err := stuck.Err(); !errors.Is(err, ErrSlowConsumer) {
		t.Errorf("Err = %v, want %v", err, ErrSlowConsumer)
	}
	// It keeps what it had queued, in order and within its bytes, then
	// its queue ends.
	i, held := 0, 0
	for {
		f, err := stuck.Next(context.Background())
		if err != nil {
			break
		}
		if got := taskNumber(t, string(f.Data)); got != i {
			t.Fatalf("queued event %d is number %d", i, got)
		}
		i++
		held += len(f.sse)
	}
	if i == 0 || held > maxBytes {
		t.Errorf("%d events of %d bytes were queued, want some within %d bytes", i, held, maxBytes)
	}
	if n := b.Subscribers(); n != 0 {
		t.Errorf("Subscribers = %d, want 0", n)
	}
}

// next returns s's next frame, failing the test if there is none within
// a few seconds.
func next(t *testing.T, s *Subscription) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next = %v", err)
	}
	return f
}

func TestCloseEndsSubscriptions(t *testing.T) {
	b := New(DefaultConfig(), nil)
	s, err := b.Subscribe(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close()
	<-s.Done()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after the bus closed = %v, want %v", err, ErrClosed)
	}
	if err := s.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("Err = %v, want %v", err, ErrClosed)
	}
	if _, err := b.Subscribe(nil, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want %v", err, ErrClosed)
	}
	b.Publish(status(0, "")) // discarded, without panicking
	s.Close()
}

func BenchmarkPublish(b *testing.B) {
	const subscribers = 10
	bus := New(Config{MaxBytes: 64 << 20, Keepalive: time.Hour}, nil)
	var wg sync.WaitGroup
	var subs []*Subscription
	for range subscribers {
		s, err := bus.Subscribe(nil, false)
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
		wg.Go(func() {
			for {
				if _, err := s.Next(context.Background()); err != nil {
					return
				}
			}
		})
	}
	e := status(1, "")
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(e)
	}
	b.StopTimer()
	dropped := 0
	for _, s := range subs {
		if errors.Is(s.Err(), ErrSlowConsumer) {
			dropped++
		}
	}
	bus.Close()
	wg.Wait()
	b.ReportMetric(float64(dropped), "dropped")
}
