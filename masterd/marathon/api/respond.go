package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"corral/marathon"
)

// Messages of errors the API writes itself.
const (
	msgNoLeader        = "Could not determine the current leader"
	msgLostLeader      = "Leadership lost while handling the request, try again"
	msgScaleAndWipe    = "You cannot use scale and wipe at the same time."
	msgVersionAlone    = "The 'version' field may only be combined with the 'id' field."
	msgBodyTooLarge    = "Request body too large"
	msgProxyLoop       = "Detected proxying loop."
	msgProxyRefused    = "Connection to leader refused."
	msgProxyTimeout    = "Connection to leader timed out."
	msgProxyFailed     = "Failed to successfully establish a connection to the leader."
	msgAbdicated       = "Leadership abdicated"
	msgThereIsNoLeader = "There is no leader"
)

// response is an encoded response, as written and as cached.
type response struct {
	status      int
	contentType string
	body        []byte
}

// jsonResponse encodes v with the given status; a value that cannot be
// encoded is a 500 that says why.
func jsonResponse(status int, v any) response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		enc.Encode(marathon.Message{Message: "encoding the response: " + err.Error()})
	}
	return response{status: status, contentType: "application/json", body: buf.Bytes()}
}

func (resp response) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", resp.contentType)
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

// writeJSON writes v as the response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jsonResponse(status, v).write(w)
}

// writeError writes a *marathon.Error with its status and body. Anything
// else is an internal failure: 500, or 503 when this master lost its
// leadership meanwhile (the client should retry with the new leader).
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if me, ok := errors.AsType[*marathon.Error](err); ok && me.Status >= 400 && me.Status <= 599 {
		writeJSON(w, me.Status, me)
		return
	}
	if s.lead.Backend() == nil {
		s.log.Warn("request failed after leadership was lost", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, marathon.Message{Message: msgLostLeader})
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, marathon.Message{Message: err.Error()})
}

// writeDeployment answers a change with the deployment it started:
// {"deploymentId", "version"} and the Marathon-Deployment-Id header.
func writeDeployment(w http.ResponseWriter, status int, res marathon.DeploymentResult) {
	if res.DeploymentID != "" {
		w.Header().Set(marathon.DeploymentHeader, res.DeploymentID)
	}
	writeJSON(w, status, res)
}

// badRequest is a 400 with a message, Marathon's BadRequestException.
func badRequest(msg string) *marathon.Error {
	return &marathon.Error{Status: http.StatusBadRequest, Message: msg}
}

func notFound(msg string) *marathon.Error {
	return &marathon.Error{Status: http.StatusNotFound, Message: msg}
}

func conflict(msg string) *marathon.Error {
	return &marathon.Error{Status: http.StatusConflict, Message: msg}
}

// flag reads a boolean query parameter as Jersey does: "true" in any case
// is true, any other value false, and a missing one is def.
func flag(q url.Values, name string, def bool) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return def
	}
	return strings.EqualFold(v[0], "true")
}

// readBody reads the request body within the configured limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &marathon.Error{Status: http.StatusRequestEntityTooLarge, Message: msgBodyTooLarge}
		}
		return nil, badRequest("reading the request body: " + err.Error())
	}
	return b, nil
}

// decodeJSON parses one JSON value keeping numbers exact; a syntax error
// is a 400 "Invalid JSON".
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, invalidJSON("/", err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidJSON("/", "unexpected data after the JSON value")
	}
	return v, nil
}

func invalidJSON(path, msg string) *marathon.Error {
	return marathon.InvalidJSON([]marathon.ErrorDetail{{Path: path, Errors: []string{msg}}})
}

// Play JSON's error keys, which Marathon's "Invalid JSON" details carry.
const (
	errPathMissing = "error.path.missing"
	errString      = "error.expected.jsstring"
	errNumber      = "error.expected.jsnumber"
	errBool        = "error.expected.jsboolean"
	errArray       = "error.expected.jsarray"
	errObject      = "error.expected.jsobject"
)

// subPath joins a detail's path to the path of the value it lies in:
// subPath("/apps(0)", "/cpus") is "/apps(0)/cpus", and "/" stands for the
// value itself.
func subPath(prefix, path string) string {
	if path == "/" || path == "" {
		if prefix == "" {
			return "/"
		}
		return prefix
	}
	return prefix + path
}

// prefixDetails moves details into the value at prefix.
func prefixDetails(prefix string, ds []marathon.ErrorDetail) []marathon.ErrorDetail {
	out := make([]marathon.ErrorDetail, len(ds))
	for i, d := range ds {
		out[i] = marathon.ErrorDetail{Path: subPath(prefix, d.Path), Errors: d.Errors}
	}
	return out
}

// problems collects the errors of a body with several parts (the apps of
// a bulk update or a group): JSON errors win over rule violations, as
// Marathon reads the whole body before it validates.
type problems struct {
	json, rules []marathon.ErrorDetail
}

// parsed records the outcome of marathon.ParseAppWith for the app at
// prefix.
func (p *problems) parsed(prefix string, details []marathon.ErrorDetail, err error) {
	if err != nil {
		if me, ok := errors.AsType[*marathon.Error](err); ok && me.Status == http.StatusBadRequest {
			p.json = append(p.json, prefixDetails(prefix, me.Details)...)
			return
		}
		p.json = append(p.json, marathon.ErrorDetail{Path: subPath(prefix, "/"), Errors: []string{err.Error()}})
		return
	}
	p.rules = append(p.rules, prefixDetails(prefix, details)...)
}

func (p *problems) badJSON(path, msg string) {
	p.json = append(p.json, marathon.ErrorDetail{Path: path, Errors: []string{msg}})
}

func (p *problems) invalid(path, msg string) {
	p.rules = append(p.rules, marathon.ErrorDetail{Path: path, Errors: []string{msg}})
}

func (p *problems) err() error {
	switch {
	case len(p.json) > 0:
		return marathon.InvalidJSON(p.json)
	case len(p.rules) > 0:
		return marathon.NotValid(p.rules)
	}
	return nil
}

// deployOptions describes the request for the api_post_event.
func deployOptions(r *http.Request, force bool) DeployOptions {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return DeployOptions{Force: force, Source: r.Method + " " + r.URL.Path, ClientIP: ip, URI: r.URL.Path}
}

// location is the absolute URL of path on this server, for Location.
func location(r *http.Request, path string) string {
	return scheme(r) + "://" + r.Host + path
}
