package mesos

import (
	"fmt"
	"strings"
)

// Attribute is one agent attribute, such as rack:r1. Values are kept as
// text; StateJSON renders numeric values as numbers, as Mesos does for
// scalar attributes.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Attributes are an agent's attributes in the order the operator gave them.
type Attributes []Attribute

// ParseAttributes parses the Mesos agent syntax "rack:r1;zone:a".
func ParseAttributes(s string) (Attributes, error) {
	var out Attributes
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("invalid attribute %q in %q, must be name:value", item, s)
		}
		if seen[name] {
			return nil, fmt.Errorf("invalid attributes %q, %q appears twice", s, name)
		}
		seen[name] = true
		out = append(out, Attribute{Name: name, Value: value})
	}
	return out, nil
}

// Get returns the value of the named attribute.
func (as Attributes) Get(name string) (string, bool) {
	for _, a := range as {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// String formats as in the agent syntax.
func (as Attributes) String() string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Name + ":" + a.Value
	}
	return strings.Join(parts, ";")
}

// StateJSON renders attributes as /master/state does: {"rack":"r1","cores":8}.
func (as Attributes) StateJSON() map[string]any {
	m := make(map[string]any, len(as))
	for _, a := range as {
		// Only plain decimals: "inf" or "NaN" would break the JSON encoding,
		// and a label such as "1_2" or "0x1p3" is text to Mesos.
		if v, ok := parseDecimal(a.Value); ok {
			m[a.Name] = v
		} else {
			m[a.Name] = a.Value
		}
	}
	return m
}
