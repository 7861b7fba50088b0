package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
)

// ParseApp reads an app definition POSTed to /v2/apps, as Marathon does:
// it checks the JSON, applies the defaults, validates the deprecated API,
// canonicalises the ID and dependencies against the root group, normalises
// (ApplyDefaults) and validates (Validate).
//
// A non-nil error is an *Error with status 400 ("Invalid JSON"): the body
// is not JSON, or a value has the wrong JSON type, or the required id is
// missing; its details use Play JSON's keys, as Marathon's do. Otherwise
// non-empty details mean the object breaks Marathon's rules: send
// NotValid(details), a 422. With neither, the app is normalised and valid.
func ParseApp(body []byte) (App, []ErrorDetail, error) {
	return ParseAppWith(body, "", Options{})
}

// ParseAppWith is ParseApp for an app whose relative ID is relative to the
// group base ("" means the root), with operator settings.
func ParseAppWith(body []byte, base string, o Options) (App, []ErrorDetail, error) {
	v, err := decodeTree(body)
	if err != nil {
		return App{}, nil, err
	}
	var d details
	appShape.check("", v, &d)
	if len(d.list) > 0 {
		return App{}, nil, InvalidJSON(d.list)
	}
	app, err := decodeApp(v)
	if err != nil {
		return App{}, nil, err
	}
	var deprecated details
	app.validateDeprecated(&deprecated)
	if len(deprecated.list) > 0 {
		return app, deprecated.list, nil
	}
	app.Canonicalize(base)
	app.ApplyDefaultsWith(o)
	var all details
	if obj, _ := v.(map[string]any); obj["cmd"] == "" {
		// App.Cmd cannot tell "" from no cmd; Marathon rejects "".
		all.add("/", msgEmptyCmd)
	}
	for _, e := range app.ValidateWith(o) {
		for _, msg := range e.Errors {
			all.add(e.Path, msg)
		}
	}
	return app, all.list, nil
}

// decodeTree parses one JSON value, keeping numbers exact.
func decodeTree(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, InvalidJSON([]ErrorDetail{{Path: "/", Errors: []string{err.Error()}}})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, InvalidJSON([]ErrorDetail{{Path: "/", Errors: []string{"unexpected data after the JSON value"}}})
	}
	return v, nil
}

// decodeApp decodes a tree that passed appShape into an App.
func decodeApp(v any) (App, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return App{}, InvalidJSON([]ErrorDetail{{Path: "/", Errors: []string{err.Error()}}})
	}
	var app App
	if err := json.Unmarshal(b, &app); err != nil {
		return App{}, InvalidJSON([]ErrorDetail{{Path: "/", Errors: []string{err.Error()}}})
	}
	return app, nil
}

// Play JSON's error keys, which Marathon puts in "Invalid JSON" details.
const (
	errPathMissing = "error.path.missing"
	errString      = "error.expected.jsstring"
	errNumber      = "error.expected.jsnumber"
	errInt         = "error.expected.int"
	errLong        = "error.expected.long"
	errBool        = "error.expected.jsboolean"
	errArray       = "error.expected.jsarray"
	errObject      = "error.expected.jsobject"
	errEnum        = "error.unknown.enum.literal"
)

type kind int

const (
	kAny kind = iota
	kString
	kNumber
	kInt  // a JSON number holding a 32-bit integer
	kLong // a JSON number holding a 64-bit integer
	kBool
	kArray
	kObject
	kEnvValue    // a string or {"secret": string}
	kUnreachable // "disabled" or an object
)

// shape is the JSON type of a value in an app definition, as Marathon's
// RAML-generated readers expect it. Null stands for a missing value, except
// where a value is required.
type shape struct {
	kind     kind
	elem     *shape            // kArray: items; kObject without fields: values
	fields   map[string]*shape // kObject: known members (others are ignored)
	required []string
}

var (
	sAny    = &shape{kind: kAny}
	sString = &shape{kind: kString}
	sNumber = &shape{kind: kNumber}
	sInt    = &shape{kind: kInt}
	sLong   = &shape{kind: kLong}
	sBool   = &shape{kind: kBool}
)

func arrayOf(s *shape) *shape { return &shape{kind: kArray, elem: s} }
func mapOf(s *shape) *shape   { return &shape{kind: kObject, elem: s} }
func object(fields map[string]*shape, required ...string) *shape {
	return &shape{kind: kObject, fields: fields, required: required}
}

var (
	sLabels      = mapOf(sString)
	sPortMapping = object(map[string]*shape{
		"containerPort": sInt, "hostPort": sInt, "servicePort": sInt, "protocol": sString,
		"name": sString, "labels": sLabels, "networkNames": arrayOf(sString),
	})
	sConstraint = arrayOf(sString)

	appShape = object(map[string]*shape{
		"id": sString, "cmd": sString, "args": arrayOf(sString), "user": sString,
		"env":       mapOf(&shape{kind: kEnvValue}),
		"instances": sInt, "cpus": sNumber, "mem": sNumber, "disk": sNumber, "gpus": sInt,
		"executor": sString, "constraints": arrayOf(sConstraint),
		"acceptedResourceRoles": arrayOf(sString), "role": sString,
		"fetch": arrayOf(object(map[string]*shape{
			"uri": sString, "extract": sBool, "executable": sBool, "cache": sBool, "destPath": sString,
		}, "uri")),
		"uris": arrayOf(sString), "storeUrls": arrayOf(sString),
		"ports": arrayOf(sInt),
		"portDefinitions": arrayOf(object(map[string]*shape{
			"port": sInt, "protocol": sString, "name": sString, "labels": sLabels,
		})),
		"requirePorts": sBool,
		"networks": arrayOf(object(map[string]*shape{
			"name": sString, "mode": sString, "labels": sLabels,
		})),
		"ipAddress": object(map[string]*shape{
			"discovery": object(map[string]*shape{
				"ports": arrayOf(object(map[string]*shape{
					"number": sInt, "name": sString, "protocol": sString, "labels": sLabels,
				}, "name")),
			}),
			"groups": arrayOf(sString), "labels": sLabels, "networkName": sString,
		}),
		"container": object(map[string]*shape{
			"type": sString,
			"docker": object(map[string]*shape{
				"image": sString, "forcePullImage": sBool, "privileged": sBool,
				"parameters": arrayOf(object(map[string]*shape{"key": sString, "value": sString}, "key", "value")),
				"network":    sString, "portMappings": arrayOf(sPortMapping),
				"credential": object(map[string]*shape{"principal": sString, "secret": sString}),
				"pullConfig": object(map[string]*shape{"secret": sString}, "secret"),
			}, "image"),
			"portMappings": arrayOf(sPortMapping),
			"volumes": arrayOf(object(map[string]*shape{
				"containerPath": sString, "hostPath": sString, "mode": sString, "secret": sString,
				"persistent": object(map[string]*shape{
					"type": sString, "size": sLong, "maxSize": sLong, "profileName": sString,
					"constraints": arrayOf(sConstraint),
				}, "size"),
				"external": mapOf(sAny),
			})),
			"linuxInfo": mapOf(sAny),
		}),
		"healthChecks": arrayOf(object(map[string]*shape{
			"protocol": sString, "path": sString, "portIndex": sInt, "port": sInt,
			"command":            object(map[string]*shape{"value": sString}),
			"gracePeriodSeconds": sInt, "intervalSeconds": sInt, "timeoutSeconds": sInt,
			"maxConsecutiveFailures": sInt, "delaySeconds": sInt, "ignoreHttp1xx": sBool,
			"ipProtocol": sString,
		})),
		"readinessChecks": arrayOf(object(map[string]*shape{
			"name": sString, "protocol": sString, "path": sString, "portName": sString,
			"intervalSeconds": sInt, "timeoutSeconds": sInt,
			"httpStatusCodesForReady": arrayOf(sInt), "preserveLastResponse": sBool,
		})),
		"dependencies":   arrayOf(sString),
		"labels":         sLabels,
		"secrets":        mapOf(object(map[string]*shape{"source": sString}, "source")),
		"backoffSeconds": sInt, "backoffFactor": sNumber, "maxLaunchDelaySeconds": sInt,
		"taskKillGracePeriodSeconds": sInt,
		"upgradeStrategy": object(map[string]*shape{
			"minimumHealthCapacity": sNumber, "maximumOverCapacity": sNumber,
		}),
		"unreachableStrategy": {kind: kUnreachable},
		"killSelection":       sString,
		"residency": object(map[string]*shape{
			"relaunchEscalationTimeoutSeconds": sLong, "taskLostBehavior": sString,
		}),
		"tty":     sBool,
		"version": sString,
		"versionInfo": object(map[string]*shape{
			"lastScalingAt": sString, "lastConfigChangeAt": sString,
		}),
	}, "id")

	unreachableShape = object(map[string]*shape{"inactiveAfterSeconds": sLong, "expungeAfterSeconds": sLong})
)

// check reports where v does not fit s, with Play JSON's paths and keys. It
// rewrites integral numbers written as decimals (1.0, 1e3) in integer
// positions as integers, which Play accepts and encoding/json does not.
func (s *shape) check(path string, v any, d *details) {
	at := path
	if at == "" {
		at = "/"
	}
	switch s.kind {
	case kAny:
	case kString:
		if _, ok := v.(string); !ok {
			d.add(at, errString)
		}
	case kNumber:
		if _, ok := v.(json.Number); !ok {
			d.add(at, errNumber)
		}
	case kInt, kLong:
		n, ok := v.(json.Number)
		if !ok {
			d.add(at, errNumber)
			return
		}
		bits, msg := 32, errInt
		if s.kind == kLong {
			bits, msg = 64, errLong
		}
		if _, ok := integer(n, bits); !ok {
			d.add(at, msg)
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			d.add(at, errBool)
		}
	case kArray:
		a, ok := v.([]any)
		if !ok {
			d.add(at, errArray)
			return
		}
		for i, e := range a {
			s.elem.check(idx(path, i), e, d) // a null item is not a missing value
			a[i] = canonicalNumber(s.elem, e)
		}
	case kObject:
		o, ok := v.(map[string]any)
		if !ok {
			d.add(at, errObject)
			return
		}
		for _, name := range s.required {
			if o[name] == nil {
				if _, present := o[name]; present {
					s.fields[name].check(path+"/"+name, nil, d)
				} else {
					d.add(path+"/"+name, errPathMissing)
				}
			}
		}
		for _, name := range sortedKeys(o) {
			e := o[name]
			fs := s.elem
			if s.fields != nil {
				fs = s.fields[name]
			}
			if fs == nil || (e == nil && (s.fields != nil || fs.kind == kAny)) {
				continue // unknown member, or null for an optional one
			}
			fs.check(path+"/"+name, e, d)
			o[name] = canonicalNumber(fs, e)
		}
	case kEnvValue:
		switch e := v.(type) {
		case string:
		case map[string]any:
			if _, ok := e["secret"].(string); !ok {
				d.add(at+"/secret", errString)
			}
		default:
			d.add(at, errString)
		}
	case kUnreachable:
		switch e := v.(type) {
		case string:
			if e != UnreachableDisabledValue {
				d.add(at, errEnum)
			}
		case map[string]any:
			unreachableShape.check(path, e, d)
		default:
			d.add(at, errObject)
		}
	}
}

// integer reads n as an integer of the given size, accepting integral
// decimals such as 1.0 as Play JSON does.
func integer(n json.Number, bits int) (int64, bool) {
	if i, err := strconv.ParseInt(n.String(), 10, bits); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f != math.Trunc(f) {
		return 0, false
	}
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return 0, false
	}
	return int64(f), true
}

// canonicalNumber rewrites an integral number in an integer position as an
// integer literal.
func canonicalNumber(s *shape, v any) any {
	n, ok := v.(json.Number)
	if !ok || (s.kind != kInt && s.kind != kLong) {
		return v
	}
	bits := 32
	if s.kind == kLong {
		bits = 64
	}
	if i, ok := integer(n, bits); ok {
		return json.Number(strconv.FormatInt(i, 10))
	}
	return v
}
