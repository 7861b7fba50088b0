package marathon

import (
	"fmt"
	"net/http"
	"strings"
)

// Messages of Marathon's error bodies.
const (
	MessageInvalidJSON    = "Invalid JSON"
	MessageObjectNotValid = "Object is not valid"
	MessageAppLocked      = "App is locked by one or more deployments."
)

// ErrorDetail is one entry of an error body's details: the JSON path of the
// offending value, as Marathon writes it ("/cpus", "/portDefinitions(0)/port",
// "/" for the object as a whole), and what is wrong with it.
type ErrorDetail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// DeploymentRef names a deployment, as in the "deployments" of an app or of
// an "App is locked" error.
type DeploymentRef struct {
	ID string `json:"id"`
}

// Error is Marathon's error body, {"message": …, "details": [{"path", "errors"}]},
// with the HTTP status it is sent with. Deployments lists the deployments
// that lock an app (409).
type Error struct {
	Status      int             `json:"-"`
	Message     string          `json:"message"`
	Details     []ErrorDetail   `json:"details,omitempty"`
	Deployments []DeploymentRef `json:"deployments,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Path)
		b.WriteString(" ")
		b.WriteString(strings.Join(d.Errors, ", "))
	}
	return b.String()
}

// InvalidJSON is the 400 error for a body that is not JSON or whose JSON
// types do not fit.
func InvalidJSON(details []ErrorDetail) *Error {
	return &Error{Status: http.StatusBadRequest, Message: MessageInvalidJSON, Details: details}
}

// NotValid is the 422 error for a well-formed object that breaks a rule.
func NotValid(details []ErrorDetail) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Message: MessageObjectNotValid, Details: details}
}

// AppLocked is the 409 error for a change to an app that deployments hold.
func AppLocked(deploymentIDs ...string) *Error {
	refs := make([]DeploymentRef, len(deploymentIDs))
	for i, id := range deploymentIDs {
		refs[i] = DeploymentRef{ID: id}
	}
	return &Error{Status: http.StatusConflict, Message: MessageAppLocked, Deployments: refs}
}

// AppNotFound is the 404 error for an unknown app.
func AppNotFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("App '%s' does not exist", id)}
}

// AppExists is the 409 error for creating an app whose ID is taken.
func AppExists(id string) *Error {
	return &Error{Status: http.StatusConflict, Message: fmt.Sprintf("An app with id [%s] already exists.", id)}
}

// DeploymentNotFound is the 404 error for an unknown deployment.
func DeploymentNotFound(id string) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("DeploymentPlan %s does not exist", id)}
}

// details collects violations grouped by path, in the order paths first
// appear, as Marathon groups them.
type details struct {
	list []ErrorDetail
	at   map[string]int
}

func (d *details) add(path, msg string) {
	if d.at == nil {
		d.at = map[string]int{}
	}
	if i, ok := d.at[path]; ok {
		for _, e := range d.list[i].Errors {
			if e == msg {
				return
			}
		}
		d.list[i].Errors = append(d.list[i].Errors, msg)
		return
	}
	d.at[path] = len(d.list)
	d.list = append(d.list, ErrorDetail{Path: path, Errors: []string{msg}})
}
