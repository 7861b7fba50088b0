package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"corral/marathon"
)

// Frame is one encoded event as subscribers receive it. Frames are shared
// by all subscribers that receive the event: their bytes must not be
// modified.
type Frame struct {
	// Type is the event's eventType, also its SSE event name.
	Type string
	// Data is the event's JSON, on one line.
	Data []byte

	sse []byte // "event: <Type>\ndata: <Data>\n\n"; Data points into it
}

// Event decodes the frame's JSON into the event type its eventType names,
// as marathon.DecodeEvent does.
func (f Frame) Event() (marathon.Event, error) { return marathon.DecodeEvent(f.Data) }

// newFrame encodes v as an SSE message named typ. The SSE message is built
// around the JSON in one buffer, so each event is encoded exactly once per
// variant and written with a single Write.
//
// The message keeps one space after "event:" and "data:": marathon-lb and
// Bamboo match the prefixes "event: " and "data: " literally. The JSON is
// on one line, as SSE needs: encoding/json escapes newlines inside strings
// and compacts the output of MarshalJSON methods.
func newFrame(typ string, v any) (Frame, error) {
	if typ == "" || strings.ContainsAny(typ, "\r\n") {
		return Frame{}, fmt.Errorf("invalid event type %q", typ)
	}
	var buf bytes.Buffer
	buf.Grow(256)
	buf.WriteString("event: ")
	buf.WriteString(typ)
	buf.WriteString("\ndata: ")
	start := buf.Len()
	if err := json.NewEncoder(&buf).Encode(v); err != nil { // appends '\n'
		return Frame{}, fmt.Errorf("encoding %s: %w", typ, err)
	}
	buf.WriteByte('\n')
	b := buf.Bytes()
	end := len(b) - 2
	return Frame{Type: typ, Data: b[start:end:end], sse: b}, nil
}

// lightEvent returns the event as /v2/events?plan-format=light sends it:
// the deployment plan without its original and target groups. It returns
// false for events that carry no such groups; those read the same in both
// formats.
//
// The event types that carry a plan are deployment_info,
// deployment_step_success and deployment_step_failure
// (DeploymentStatusEvent) and deployment_success and deployment_failed
// (DeploymentEvent, whose plan is optional).
func lightEvent(e marathon.Event) (marathon.Event, bool) {
	switch v := e.(type) {
	case marathon.DeploymentStatusEvent:
		return lightStatus(v)
	case *marathon.DeploymentStatusEvent:
		if v == nil {
			return nil, false
		}
		return lightStatus(*v)
	case marathon.DeploymentEvent:
		return lightEnd(v)
	case *marathon.DeploymentEvent:
		if v == nil {
			return nil, false
		}
		return lightEnd(*v)
	}
	return nil, false
}

func lightStatus(e marathon.DeploymentStatusEvent) (marathon.Event, bool) {
	if !heavy(&e.Plan) {
		return nil, false
	}
	e.Plan = e.Plan.Light()
	return e, true
}

func lightEnd(e marathon.DeploymentEvent) (marathon.Event, bool) {
	if !heavy(e.Plan) {
		return nil, false
	}
	p := e.Plan.Light()
	e.Plan = &p
	return e, true
}

// heavy reports whether a plan carries the groups the light format drops.
func heavy(p *marathon.DeploymentPlan) bool {
	return p != nil && (p.Original != nil || p.Target != nil)
}
