package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestParseAppInvalidJSON checks the 400 "Invalid JSON" tier: syntax, JSON
// types and required fields, with Play JSON's paths and keys.
func TestParseAppInvalidJSON(t *testing.T) {
	tests := []struct {
		body string
		want string // the details, as fmt prints them
	}{
		{`{"id":"/a",`, "[{/ [unexpected EOF]}]"},
		{``, "[{/ [unexpected EOF]}]"},
		{`{"id":"/a","cmd":"x"} {}`, "[{/ [unexpected data after the JSON value]}]"},
		{`[]`, "[{/ [error.expected.jsobject]}]"},
		{`{"cmd":"x"}`, "[{/id [error.path.missing]}]"},
		{`{"id":null,"cmd":"x"}`, "[{/id [error.expected.jsstring]}]"},
		{`{"id":5,"cmd":"x"}`, "[{/id [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","instances":"2"}`, "[{/instances [error.expected.jsnumber]}]"},
		{`{"id":"/a","cmd":"x","instances":1.5}`, "[{/instances [error.expected.int]}]"},
		{`{"id":"/a","cmd":"x","instances":3000000000}`, "[{/instances [error.expected.int]}]"},
		{`{"id":"/a","cmd":"x","cpus":"1"}`, "[{/cpus [error.expected.jsnumber]}]"},
		{`{"id":"/a","cmd":"x","requirePorts":"yes"}`, "[{/requirePorts [error.expected.jsboolean]}]"},
		{`{"id":"/a","cmd":"x","args":"y"}`, "[{/args [error.expected.jsarray]}]"},
		{`{"id":"/a","cmd":"x","container":[]}`, "[{/container [error.expected.jsobject]}]"},
		{`{"id":"/a","cmd":"x","labels":{"a":1}}`, "[{/labels/a [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","env":{"A":1}}`, "[{/env/A [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","env":{"A":{"value":"b"}}}`, "[{/env/A/secret [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","healthChecks":[{},{"portIndex":"a"}]}`, "[{/healthChecks(1)/portIndex [error.expected.jsnumber]}]"},
		{`{"id":"/a","cmd":"x","portDefinitions":[{"port":0.5}]}`, "[{/portDefinitions(0)/port [error.expected.int]}]"},
		{`{"id":"/a","cmd":"x","constraints":[["hostname",1]]}`, "[{/constraints(0)(1) [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","args":[null]}`, "[{/args(0) [error.expected.jsstring]}]"},
		{`{"id":"/a","cmd":"x","fetch":[{}]}`, "[{/fetch(0)/uri [error.path.missing]}]"},
		{`{"id":"/a","container":{"docker":{}}}`, "[{/container/docker/image [error.path.missing]}]"},
		{`{"id":"/a","cmd":"x","container":{"docker":{"image":"i","parameters":[{"key":"a"}]}}}`, "[{/container/docker/parameters(0)/value [error.path.missing]}]"},
		{`{"id":"/a","cmd":"x","secrets":{"s":{}}}`, "[{/secrets/s/source [error.path.missing]}]"},
		{`{"id":"/a","cmd":"x","unreachableStrategy":"enabled"}`, "[{/unreachableStrategy [error.unknown.enum.literal]}]"},
		{`{"id":"/a","cmd":"x","unreachableStrategy":{"inactiveAfterSeconds":"1"}}`, "[{/unreachableStrategy/inactiveAfterSeconds [error.expected.jsnumber]}]"},
		{`{"id":"/a","cmd":"x","residency":{"relaunchEscalationTimeoutSeconds":1.5}}`, "[{/residency/relaunchEscalationTimeoutSeconds [error.expected.long]}]"},
		{`{"cmd":1,"mem":"a"}`, "[{/id [error.path.missing]} {/cmd [error.expected.jsstring]} {/mem [error.expected.jsnumber]}]"},
	}
	for _, tt := range tests {
		_, details, err := ParseApp([]byte(tt.body))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseApp(%s) = %v, %v, want an *Error", tt.body, details, err)
			continue
		}
		if e.Status != http.StatusBadRequest || e.Message != "Invalid JSON" || details != nil {
			t.Errorf("ParseApp(%s) = %d %q with details %v, want 400 Invalid JSON", tt.body, e.Status, e.Message, details)
		}
		got := fmt.Sprint(e.Details)
		if strings.Contains(tt.want, "unexpected EOF") || strings.Contains(tt.want, "unexpected data") {
			if len(e.Details) != 1 || e.Details[0].Path != "/" || len(e.Details[0].Errors) != 1 {
				t.Errorf("ParseApp(%s) details = %s, want one error at /", tt.body, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseApp(%s) details = %s, want %s", tt.body, got, tt.want)
		}
	}
}

// TestParseAppLenient checks what Play JSON accepts and encoding/json
// alone would not: integral decimals for integers, null for optional
// members, unknown members.
func TestParseAppLenient(t *testing.T) {
	app := mustParse(t, `{"id":"/a","cmd":"x","instances":2.0,"backoffSeconds":1e1,
		"args":null,"user":null,"container":null,"acceptedResourceRoles":null,"healthChecks":[{"portIndex":0.0}],
		"tasksRunning":3,"deployments":[{"id":"d"}],"somethingNew":{"a":1}}`)
	if app.Instances != 2 || app.BackoffSeconds != 10 || *app.HealthChecks[0].PortIndex != 0 {
		t.Errorf("got instances %d, backoffSeconds %d", app.Instances, app.BackoffSeconds)
	}
	if app.Container != nil || app.Args != nil || app.AcceptedResourceRoles != nil {
		t.Errorf("null members were not treated as missing: %+v", app)
	}
}

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		err    *Error
		status int
		want   string
	}{
		{InvalidJSON([]ErrorDetail{{Path: "/id", Errors: []string{"error.expected.jsstring"}}}), 400,
			`{"message":"Invalid JSON","details":[{"path":"/id","errors":["error.expected.jsstring"]}]}`},
		{NotValid([]ErrorDetail{{Path: "/upgradeStrategy/minimumHealthCapacity", Errors: []string{"got 1.2, expected between 0.0 and 1.0"}}}), 422,
			`{"message":"Object is not valid","details":[{"path":"/upgradeStrategy/minimumHealthCapacity","errors":["got 1.2, expected between 0.0 and 1.0"]}]}`},
		{AppLocked("5ed4c0c5"), 409,
			`{"message":"App is locked by one or more deployments.","deployments":[{"id":"5ed4c0c5"}]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.err)
		if err != nil || string(b) != tt.want || tt.err.Status != tt.status {
			t.Errorf("%v: status %d, body %s, want %d %s", tt.err, tt.err.Status, b, tt.status, tt.want)
		}
	}
	for _, tt := range []struct {
		err    *Error
		status int
		msg    string
	}{
		{AppNotFound("/not_existent"), 404, "App '/not_existent' does not exist"},
		{AppExists("/existing_app"), 409, "An app with id [/existing_app] already exists."},
		{DeploymentNotFound("unknown_deployment"), 404, "DeploymentPlan unknown_deployment does not exist"},
	} {
		if tt.err.Status != tt.status || tt.err.Message != tt.msg {
			t.Errorf("got %d %q, want %d %q", tt.err.Status, tt.err.Message, tt.status, tt.msg)
		}
	}
	e := NotValid([]ErrorDetail{{Path: "/cpus", Errors: []string{"a", "b"}}, {Path: "/", Errors: []string{"c"}}})
	if got, want := e.Error(), "Object is not valid: /cpus a, b; / c"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
