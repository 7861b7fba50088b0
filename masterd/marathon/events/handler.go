package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/marathon"
)

// keepalive is what an idle stream writes. A blank line is what Marathon
// itself sends (Jetty's EventSource heartbeat), and every known reader
// skips it without a word: SSE parsers dispatch nothing for an empty
// event, go-marathon's eventsource decoder skips a lone newline, and the
// line readers of marathon-lb and Bamboo ignore blank lines. An SSE comment
// (":") would be as safe for parsers but makes Bamboo log "Wrong event
// format" on every keepalive.
var keepalive = []byte("\n")

// ServeHTTP serves GET /v2/events: the event stream as Server-Sent Events.
//
// The client must accept text/event-stream (a missing Accept header or */*
// will do). Each event is written as "event: <type>\ndata: <json>\n\n" and
// flushed. event_type, repeatable, restricts the stream to those types;
// plan-format=light drops the original and target groups from deployment
// plans. As in Marathon, the new subscriber's own event_stream_attached is
// the first event it receives, and others see event_stream_detached when it
// leaves. The stream ends when the client goes away, when it falls
// Config.MaxBytes behind, or when the bus closes.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("HTTP method %s is not supported by this URL", r.Method))
		return
	}
	if !acceptsEventStream(r.Header.Values("Accept")) {
		writeError(w, http.StatusNotAcceptable, "The event stream is only available as text/event-stream; send Accept: text/event-stream")
		return
	}
	q := r.URL.Query()
	light, err := parsePlanFormat(q["plan-format"])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.Method == http.MethodHead {
		setStreamHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}

	remote := remoteHost(r.RemoteAddr)
	s, err := b.subscribe(q["event_type"], light, remote)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "The event stream is closed: this master no longer leads")
		return
	}
	defer func() {
		s.Close()
		b.Publish(marathon.EventStreamEvent{RemoteAddress: remote, EventMeta: marathon.Meta(marathon.EventStreamDetached, time.Now())})
	}()

	setStreamHeaders(w.Header())
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		b.log.Error("event stream cannot flush", "remote", remote, "err", err)
		return
	}
	b.log.Debug("event stream attached", "remote", remote, "filter", q["event_type"], "light", light)
	b.Publish(marathon.EventStreamEvent{RemoteAddress: remote, EventMeta: marathon.Meta(marathon.EventStreamAttached, time.Now())})

	// A write to a client that stopped reading blocks until the socket
	// drains, so it would never see the subscription end. Once it ends,
	// the write deadline is moved to now to abort such a write; the
	// deadline is lifted again before returning, so that a stream that
	// ended cleanly leaves a reusable connection.
	quit, unblocked := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(unblocked)
		select {
		case <-s.done:
			_ = rc.SetWriteDeadline(time.Now())
		case <-quit:
		}
	}()
	defer func() {
		close(quit)
		<-unblocked
		_ = rc.SetWriteDeadline(time.Time{})
	}()

	err = b.stream(r.Context(), w, rc, s)
	b.log.Debug("event stream detached", "remote", remote, "err", err, "reason", s.Err())
}

// stream writes s's frames to w until the request ends, s ends or a write
// fails, and a keepalive after each Keepalive of silence.
func (b *Bus) stream(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, s *Subscription) error {
	idle := time.NewTimer(b.cfg.Keepalive)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return nil
		case <-idle.C:
			if _, err := w.Write(keepalive); err != nil {
				return err
			}
		case <-s.ready:
			// Write what is queued, then flush once for all of it. The
			// frames count against the subscription until they are
			// written out.
			fs, err := s.take(0)
			if err != nil {
				return nil
			}
			if len(fs) == 0 {
				continue
			}
			for _, f := range fs {
				if _, err := w.Write(f.sse); err != nil {
					return err
				}
			}
		}
		if err := rc.Flush(); err != nil {
			return err
		}
		s.release()
		idle.Reset(b.cfg.Keepalive)
	}
}

// setStreamHeaders sets the headers Marathon sends with the stream.
func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream;charset=UTF-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
}

// acceptsEventStream reports whether an Accept header admits
// text/event-stream. A request without one accepts anything.
func acceptsEventStream(values []string) bool {
	blank := true
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mediaType, params, _ := strings.Cut(part, ";")
			mediaType = strings.ToLower(strings.TrimSpace(mediaType))
			if mediaType == "" {
				continue
			}
			blank = false
			switch mediaType {
			case "text/event-stream", "text/*", "*/*":
				if !zeroQuality(params) {
					return true
				}
			}
		}
	}
	return blank
}

// zeroQuality reports whether media-range parameters say q=0, "not
// acceptable".
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}

// parsePlanFormat reads the plan-format parameters: light or full (the
// default); the last one wins.
func parsePlanFormat(values []string) (light bool, err error) {
	for _, v := range values {
		switch v {
		case "light":
			light = true
		case "full", "":
			light = false
		default:
			return false, fmt.Errorf("invalid plan-format %q, must be light or full", v)
		}
	}
	return light, nil
}

// remoteHost returns the IP of a request's remote address, as Marathon
// reports it in remoteAddress.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// writeError writes Marathon's error body, {"message": …}.
func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(&marathon.Error{Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
