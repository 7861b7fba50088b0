// Package netconf decodes and validates the network configuration that
// Corral's CNI plugins read on stdin, with errors that carry the CNI
// specification's codes (SPEC.md, "Error"): 6 for content that does not
// decode, 7 for a configuration that decodes but fails validation.
package netconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// Invalid returns the CNI error (code 7, invalid network config) for a field
// that fails validation. The message names the field, its value and the rule:
// Invalid("mtu", 9001, "in [0, 1500]") reads "invalid mtu 9001, must be in [0, 1500]".
func Invalid(field string, value any, rule string) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig,
		fmt.Sprintf("invalid %s %s, must be %s", field, formatValue(value), rule), "")
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return fmt.Sprintf("%q", v.String())
	default:
		return fmt.Sprint(v)
	}
}

// Decode unmarshals a network configuration into v. Bytes that are not JSON
// are code 6 (failed to decode content); a field whose JSON value does not
// fit is code 7, naming the field and what it must be:
// "invalid mtu (a JSON string), must be an integer".
func Decode(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("invalid %s (a JSON %s), must be %s", jsonPath(typeErr.Field, v), typeErr.Value, jsonKind(typeErr.Type.Kind())), "")
	}
	return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("decoding network config: %v", err), "")
}

// jsonPath turns encoding/json's path of a field into the path in the
// document, dropping the names of embedded structs (types.NetConf in
// "NetConf.ipam.type").
func jsonPath(field string, v any) string {
	embedded := map[string]bool{}
	var walk func(t reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			if f.Anonymous && f.Tag.Get("json") == "" {
				embedded[f.Name] = true
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(v))
	var parts []string
	for _, p := range strings.Split(field, ".") {
		if !embedded[p] {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// jsonKind names the JSON values that decode into a Go kind.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// CNIVersion returns the cniVersion field of a network configuration, or ""
// when data has none or does not decode.
func CNIVersion(data []byte) string {
	var v struct {
		CNIVersion string `json:"cniVersion"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return v.CNIVersion
}
