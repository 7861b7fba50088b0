package mesos

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Resources is a bag of named resources as Mesos agents advertise them:
// scalars (cpus, mem in MB, disk in MB, gpus, or any other name) and ranges
// (ports). Operations return new values and never modify their inputs; the
// zero value is empty.
type Resources struct {
	Scalars map[string]float64
	Ranges  map[string]Ranges
}

// Well-known resource names.
const (
	CPUs  = "cpus"
	Mem   = "mem"
	Disk  = "disk"
	GPUs  = "gpus"
	Ports = "ports"
)

// ParseResources parses the Mesos agent syntax
// "cpus:4;mem:8192;disk:10000;ports:[31000-32000]". A role in parentheses
// may follow a name; only the default role "*" is accepted, because Corral
// does not implement static reservations.
func ParseResources(s string) (Resources, error) {
	var r Resources
	s = strings.TrimSpace(s)
	if s == "" {
		return r, nil
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, ":")
		if !ok {
			return Resources{}, fmt.Errorf("invalid resource %q in %q, must be name:value", item, s)
		}
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		if i := strings.IndexByte(name, '('); i >= 0 {
			role := strings.TrimSuffix(name[i+1:], ")")
			if role != "*" || !strings.HasSuffix(name, ")") {
				return Resources{}, fmt.Errorf("invalid resource %q, role %q is not supported (only \"*\"; Corral has no static reservations)", item, role)
			}
			name = name[:i]
		}
		if name == "" {
			return Resources{}, fmt.Errorf("invalid resource %q in %q, the name is empty", item, s)
		}
		if seen[name] {
			return Resources{}, fmt.Errorf("invalid resources %q, %q appears twice", s, name)
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(value, "["):
			rs, err := ParseRanges(value)
			if err != nil {
				return Resources{}, fmt.Errorf("resource %q: %w", name, err)
			}
			r = r.Add(Resources{Ranges: map[string]Ranges{name: rs}})
		case strings.HasPrefix(value, "{"):
			return Resources{}, fmt.Errorf("invalid resource %q, set values are not supported", item)
		default:
			v, ok := parseDecimal(value)
			if !ok || v < 0 {
				return Resources{}, fmt.Errorf("invalid resource %q, value must be a non-negative number or [begin-end] ranges", item)
			}
			r = r.Add(Resources{Scalars: map[string]float64{name: v}})
		}
	}
	return r, nil
}

// MustParseResources is ParseResources for literals in tests and benchmarks.
func MustParseResources(s string) Resources {
	r, err := ParseResources(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String formats r in the agent syntax with names sorted, omitting zeros.
func (r Resources) String() string {
	names := r.names()
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if v, ok := r.Scalars[n]; ok && v != 0 {
			parts = append(parts, n+":"+strconv.FormatFloat(v, 'f', -1, 64))
		}
		if rs, ok := r.Ranges[n]; ok && len(rs) > 0 {
			parts = append(parts, n+":"+rs.String())
		}
	}
	return strings.Join(parts, ";")
}

func (r Resources) names() []string {
	names := make([]string, 0, len(r.Scalars)+len(r.Ranges))
	for n := range r.Scalars {
		names = append(names, n)
	}
	for n := range r.Ranges {
		if _, dup := r.Scalars[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Scalar returns the quantity of a scalar resource, 0 when absent.
func (r Resources) Scalar(name string) float64 { return r.Scalars[name] }

// PortRanges returns the ports resource.
func (r Resources) PortRanges() Ranges { return r.Ranges[Ports] }

// IsEmpty reports whether r holds no positive quantity.
func (r Resources) IsEmpty() bool {
	for _, v := range r.Scalars {
		if v > 0 {
			return false
		}
	}
	for _, rs := range r.Ranges {
		if len(rs) > 0 {
			return false
		}
	}
	return true
}

// parseDecimal parses a finite number written in decimal, such as 0.5, 8192
// or 1e3. strconv.ParseFloat alone also takes "Inf", "NaN", hex floats and
// digit-separating underscores, none of which Mesos reads as numbers.
func parseDecimal(s string) (float64, bool) {
	if s == "" || strings.Trim(s, "0123456789.eE+-") != "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// round keeps three decimal digits, as Mesos's fixed-point scalars do, so
// that repeated additions and subtractions of 0.1 cpus do not drift.
func round(v float64) float64 {
	if math.Abs(v) >= 1e15 {
		// No thousandths to round at this size, and v*1000 could overflow to Inf.
		return v
	}
	return math.Round(v*1000) / 1000
}

// Add returns the sum of r and o.
func (r Resources) Add(o Resources) Resources {
	out := r.Clone()
	for n, v := range o.Scalars {
		if out.Scalars == nil {
			out.Scalars = make(map[string]float64, len(o.Scalars))
		}
		out.Scalars[n] = round(out.Scalars[n] + v)
	}
	for n, rs := range o.Ranges {
		if out.Ranges == nil {
			out.Ranges = make(map[string]Ranges, len(o.Ranges))
		}
		out.Ranges[n] = out.Ranges[n].Add(rs)
	}
	return out
}

// Sub returns r less o. Quantities never go below zero; callers that need
// exact accounting check Contains first.
func (r Resources) Sub(o Resources) Resources {
	out := r.Clone()
	for n, v := range o.Scalars {
		if cur, ok := out.Scalars[n]; ok {
			if nv := round(cur - v); nv > 0 {
				out.Scalars[n] = nv
			} else {
				delete(out.Scalars, n)
			}
		}
	}
	for n, rs := range o.Ranges {
		if cur, ok := out.Ranges[n]; ok {
			if nr := cur.Sub(rs); len(nr) > 0 {
				out.Ranges[n] = nr
			} else {
				delete(out.Ranges, n)
			}
		}
	}
	return out
}

// Intersect returns what r and o have in common: the smaller of each
// scalar and the shared integers of each range.
func (r Resources) Intersect(o Resources) Resources { return r.Sub(r.Sub(o)) }

// Contains reports whether r holds at least every quantity of o.
func (r Resources) Contains(o Resources) bool {
	for n, v := range o.Scalars {
		if v > 0 && round(r.Scalars[n]-v) < 0 {
			return false
		}
	}
	for n, rs := range o.Ranges {
		if !r.Ranges[n].Contains(rs) {
			return false
		}
	}
	return true
}

// Equal reports whether r and o hold the same quantities.
func (r Resources) Equal(o Resources) bool { return r.Contains(o) && o.Contains(r) }

// Quantity returns the scalar value, or the number of integers of a ranges
// resource, as min_allocatable_resources counts them.
func (r Resources) Quantity(name string) float64 {
	if rs, ok := r.Ranges[name]; ok {
		return float64(rs.Size())
	}
	return r.Scalars[name]
}

// Clone returns a deep copy of r.
func (r Resources) Clone() Resources {
	var out Resources
	if len(r.Scalars) > 0 {
		out.Scalars = make(map[string]float64, len(r.Scalars))
		for n, v := range r.Scalars {
			out.Scalars[n] = v
		}
	}
	if len(r.Ranges) > 0 {
		out.Ranges = make(map[string]Ranges, len(r.Ranges))
		for n, rs := range r.Ranges {
			out.Ranges[n] = rs.clone()
		}
	}
	return out
}

// resourceJSON is the Mesos v1 JSON form of one resource.
type resourceJSON struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Scalar *scalar  `json:"scalar,omitempty"`
	Ranges *rangesJ `json:"ranges,omitempty"`
}

type scalar struct {
	Value float64 `json:"value"`
}

type rangesJ struct {
	Range []Range `json:"range"`
}

// MarshalJSON encodes r as the Mesos v1 API does: a list of
// {"name","type":"SCALAR"|"RANGES","scalar"|"ranges"} objects.
func (r Resources) MarshalJSON() ([]byte, error) {
	list := make([]resourceJSON, 0, len(r.Scalars)+len(r.Ranges))
	for _, n := range r.names() {
		if v, ok := r.Scalars[n]; ok {
			list = append(list, resourceJSON{Name: n, Type: "SCALAR", Scalar: &scalar{v}})
		}
		if rs, ok := r.Ranges[n]; ok {
			if rs == nil {
				rs = Ranges{} // "range":[], not null, for decoders that require an array
			}
			list = append(list, resourceJSON{Name: n, Type: "RANGES", Ranges: &rangesJ{Range: rs}})
		}
	}
	return json.Marshal(list)
}

// UnmarshalJSON decodes the Mesos v1 list form, rejecting unknown types and
// negative or malformed quantities.
func (r *Resources) UnmarshalJSON(b []byte) error {
	var list []resourceJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	var out Resources
	for _, item := range list {
		if item.Name == "" {
			return fmt.Errorf("resource without a name")
		}
		switch item.Type {
		case "SCALAR":
			if item.Scalar == nil || item.Scalar.Value < 0 || math.IsNaN(item.Scalar.Value) {
				return fmt.Errorf("resource %q: scalar value must be a non-negative number", item.Name)
			}
			out = out.Add(Resources{Scalars: map[string]float64{item.Name: item.Scalar.Value}})
		case "RANGES":
			if item.Ranges == nil {
				return fmt.Errorf("resource %q: ranges missing", item.Name)
			}
			for _, rg := range item.Ranges.Range {
				if rg.Begin > rg.End {
					return fmt.Errorf("resource %q: range %d-%d has begin after end", item.Name, rg.Begin, rg.End)
				}
			}
			rs := normalize(append([]Range(nil), item.Ranges.Range...))
			out = out.Add(Resources{Ranges: map[string]Ranges{item.Name: rs}})
		default:
			return fmt.Errorf("resource %q: type %q is not supported, must be SCALAR or RANGES", item.Name, item.Type)
		}
	}
	*r = out
	return nil
}

// StateJSON renders r as /master/state does: scalars as numbers, ranges as
// strings such as "[31000-32000]", with cpus, mem, disk and gpus always set.
func (r Resources) StateJSON() map[string]any {
	m := map[string]any{CPUs: 0.0, Mem: 0.0, Disk: 0.0, GPUs: 0.0}
	for n, v := range r.Scalars {
		m[n] = v
	}
	for n, rs := range r.Ranges {
		m[n] = rs.String()
	}
	return m
}

// ParseMinAllocatable parses the --min-allocatable-resources syntax:
// alternatives separated by "|", each a resource list whose quantities
// (scalars, or the number of integers in a range as "ports:1") must all be met.
func ParseMinAllocatable(s string) ([]map[string]float64, error) {
	var out []map[string]float64
	for _, alt := range strings.Split(s, "|") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		q := map[string]float64{}
		for _, item := range strings.Split(alt, ";") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, value, ok := strings.Cut(item, ":")
			name = strings.TrimSpace(name)
			v, isNum := parseDecimal(strings.TrimSpace(value))
			if !ok || !isNum || v < 0 || name == "" {
				return nil, fmt.Errorf("invalid minimum allocatable quantity %q in %q, must be name:number", item, s)
			}
			if _, dup := q[name]; dup {
				return nil, fmt.Errorf("invalid minimum allocatable resources %q, %q appears twice in %q", s, name, alt)
			}
			q[name] = v
		}
		out = append(out, q)
	}
	return out, nil
}
