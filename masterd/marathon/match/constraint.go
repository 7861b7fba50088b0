// Package match decides, as Marathon's offer matcher does, whether an offer
// can host one more instance of an app and with which resources: placement
// constraints (UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS) on the
// hostname or an agent attribute, cpus, mem, disk, gpus and host ports. It
// also assigns cluster-unique service ports.
//
// It is a pure core: it does no I/O, starts no goroutines and keeps no state
// between calls. Randomness, where Marathon uses it, comes from a source the
// caller passes in, so tests are reproducible.
package match

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"corral/mesos"
)

// Constraint operators, spelled as in Marathon's app definitions. Marathon
// rejects lower-case spellings, and so does ParseConstraint.
const (
	Unique  = "UNIQUE"
	Cluster = "CLUSTER"
	GroupBy = "GROUP_BY"
	Like    = "LIKE"
	Unlike  = "UNLIKE"
	MaxPer  = "MAX_PER"
	Is      = "IS"
)

var operators = []string{Unique, Cluster, GroupBy, Like, Unlike, MaxPer, Is}

// Fields that do not name an agent attribute. "hostname" and "@hostname"
// both read the offer's hostname, as in Marathon. "@region" and "@zone" read
// the agent's fault domain, which Corral agents do not advertise: every
// offer lacks them, so only UNLIKE accepts an offer under such a constraint,
// as Marathon does for an agent without a fault domain.
const (
	FieldHostname  = "hostname"
	fieldHostname2 = "@hostname"
	fieldRegion    = "@region"
	fieldZone      = "@zone"
)

// Constraint is one placement constraint of an app, such as
// ["hostname","UNIQUE"] or ["rack","GROUP_BY","3"]. Build it with
// ParseConstraint; Satisfies validates a literal on every call instead.
type Constraint struct {
	Field, Operator, Value string

	parsed bool
	re     *regexp.Regexp // LIKE and UNLIKE: Value anchored at both ends
	n      int            // GROUP_BY: minimum number of groups; MAX_PER: maximum per group
}

// ParseConstraint parses Marathon's array form [field, operator] or
// [field, operator, value], applying Marathon's validation rules:
//
//   - UNIQUE takes no value.
//   - CLUSTER takes an optional value (constraints.md documents
//     ["rack_id","CLUSTER"]; some Marathon versions' validators required one).
//   - GROUP_BY takes an optional integer; MAX_PER requires one. Integers are
//     Java ints, as Marathon parses them; a negative count acts as 0.
//   - LIKE and UNLIKE require a regular expression, which must match the
//     whole field value (Java's String.matches), so ParseConstraint anchors
//     it as ^(?:value)$. Go's RE2 syntax has no backreferences or
//     lookaround; such expressions are rejected as invalid.
//   - IS requires a value.
//
// An empty value counts as no value.
func ParseConstraint(c []string) (Constraint, error) {
	if len(c) < 2 || len(c) > 3 {
		return Constraint{}, fmt.Errorf("invalid constraint %s, must have 2 or 3 elements: field, operator and an optional value", quoteList(c))
	}
	out := Constraint{Field: c[0], Operator: c[1]}
	if len(c) == 3 {
		out.Value = c[2]
	}
	if err := out.prepare(); err != nil {
		return Constraint{}, err
	}
	return out, nil
}

// prepare validates c and fills in its compiled forms.
func (c *Constraint) prepare() error {
	if c.Field == "" {
		return fmt.Errorf("invalid constraint %s, the field is empty", c)
	}
	switch c.Operator {
	case Unique:
		if c.Value != "" {
			return fmt.Errorf("invalid constraint %s, UNIQUE takes no value", c)
		}
	case Cluster:
	case GroupBy:
		if c.Value != "" {
			n, err := strconv.ParseInt(c.Value, 10, 32)
			if err != nil {
				return fmt.Errorf("invalid constraint %s, GROUP_BY value %q is not an integer (GROUP_BY takes no value or the number of groups)", c, c.Value)
			}
			c.n = max(int(n), 0)
		}
	case MaxPer:
		if c.Value == "" {
			return fmt.Errorf("invalid constraint %s, MAX_PER requires an integer value", c)
		}
		n, err := strconv.ParseInt(c.Value, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid constraint %s, MAX_PER value %q is not an integer", c, c.Value)
		}
		c.n = max(int(n), 0)
	case Like, Unlike:
		if c.Value == "" {
			return fmt.Errorf("invalid constraint %s, %s requires a regular expression value", c, c.Operator)
		}
		re, err := regexp.Compile(`^(?:` + c.Value + `)$`)
		if err != nil {
			return fmt.Errorf("invalid constraint %s, %q is not a valid regular expression: %w", c, c.Value, err)
		}
		c.re = re
	case Is:
		if c.Value == "" {
			return fmt.Errorf("invalid constraint %s, IS requires a value", c)
		}
	default:
		return fmt.Errorf("invalid constraint %s, unknown operator %q, must be one of %s", c, c.Operator, strings.Join(operators, ", "))
	}
	c.parsed = true
	return nil
}

// Strings returns c in Marathon's array form, without the value when it is
// empty.
func (c Constraint) Strings() []string {
	if c.Value == "" {
		return []string{c.Field, c.Operator}
	}
	return []string{c.Field, c.Operator, c.Value}
}

// String formats c as Marathon's JSON array, such as ["rack","GROUP_BY","3"].
func (c Constraint) String() string { return quoteList(c.Strings()) }

func quoteList(s []string) string {
	b, _ := json.Marshal(s) // a []string always encodes
	return string(b)
}

// Placed is where one of the app's running or staged instances is: the
// agent and the hostname and attributes it had when the instance launched.
type Placed struct {
	AgentID    string
	Hostname   string
	Attributes mesos.Attributes
}

// Satisfies reports whether offer may host one more instance of an app
// whose instances are already placed as given, under every constraint of
// cs. When it may not, reason names the first constraint that fails and
// why.
//
// The semantics are those of Marathon 1.x (mesosphere.mesos.Constraints)
// and docs/docs/constraints.md:
//
//   - The field is the offer's hostname for "hostname" or "@hostname",
//     otherwise the agent attribute of that name. Attribute values compare
//     as Marathon formats them: a number as a decimal rounded half-even to
//     thousandths without trailing zeros ("0.80" reads "0.8"), a range
//     value as "[b-e,...]", a set as "{a,b}" with items sorted, and text
//     as it is.
//   - An offer without the field fails every operator except UNLIKE, which
//     it passes.
//   - UNIQUE: no placed instance has the offer's value.
//   - CLUSTER with a value: the offer's value equals it (as text). Without
//     one: the first placed instance has the offer's value, or none is
//     placed yet; callers list placed instances oldest first.
//   - GROUP_BY [n]: instances are grouped by their value (those lacking the
//     field form a group too). An offer whose value has no group yet
//     passes; otherwise it passes when there are at least n groups and its
//     group is (one of) the smallest. This is the behaviour constraints.md
//     describes; the last Marathon releases instead aim at instances/n per
//     group and refuse values beyond the first n, which needs the app's
//     instance count.
//   - MAX_PER n: fewer than n placed instances have the offer's value, or
//     none has (so even MAX_PER 0 admits one instance per value, as in
//     Marathon).
//   - LIKE / UNLIKE: the value does / does not match the whole regular
//     expression.
//   - IS: the value equals the constraint's; a constraint value that is a
//     plain decimal ("0.80") is formatted as scalars are first.
func Satisfies(cs []Constraint, offer mesos.Offer, placed []Placed) (ok bool, reason string) {
	for _, c := range cs {
		if !c.parsed {
			if err := c.prepare(); err != nil {
				return false, err.Error()
			}
		}
		if ok, why := c.check(offer, placed); !ok {
			return false, fmt.Sprintf("constraint %s not met: %s", c, why)
		}
	}
	return true, ""
}

// check evaluates one prepared constraint.
func (c Constraint) check(offer mesos.Offer, placed []Placed) (bool, string) {
	offerValue, has := c.offerValue(offer)
	if !has {
		if c.Operator == Unlike {
			return true, ""
		}
		return false, fmt.Sprintf("agent %s has no %s", offerName(offer), c.fieldName())
	}
	switch c.Operator {
	case Unique:
		for _, p := range placed {
			if v, ok := c.placedValue(p); ok && v == offerValue {
				return false, fmt.Sprintf("an instance already runs where %s is %q", c.fieldName(), offerValue)
			}
		}
		return true, ""
	case Cluster:
		if c.Value != "" {
			if offerValue != c.Value {
				return false, fmt.Sprintf("%s is %q", c.fieldName(), offerValue)
			}
			return true, ""
		}
		if len(placed) == 0 {
			return true, ""
		}
		if v, ok := c.placedValue(placed[0]); !ok || v != offerValue {
			return false, fmt.Sprintf("%s is %q, instances run where it is %s", c.fieldName(), offerValue, describe(v, ok))
		}
		return true, ""
	case GroupBy:
		return c.checkGroupBy(offerValue, placed)
	case MaxPer:
		count := 0
		for _, p := range placed {
			if v, ok := c.placedValue(p); ok && v == offerValue {
				count++
			}
		}
		if count > 0 && count >= c.n { // Marathon lets a value without instances pass, even under MAX_PER 0
			return false, fmt.Sprintf("%d instances already run where %s is %q, at most %d allowed", count, c.fieldName(), offerValue, c.n)
		}
		return true, ""
	case Like:
		if !c.re.MatchString(offerValue) {
			return false, fmt.Sprintf("%s %q does not match %q", c.fieldName(), offerValue, c.Value)
		}
		return true, ""
	case Unlike:
		if c.re.MatchString(offerValue) {
			return false, fmt.Sprintf("%s %q matches %q", c.fieldName(), offerValue, c.Value)
		}
		return true, ""
	case Is:
		want := c.Value
		if isPlainDecimal(want) {
			if f, err := strconv.ParseFloat(want, 64); err == nil {
				want = formatScalar(f)
			}
		}
		if offerValue != want {
			return false, fmt.Sprintf("%s is %q, not %q", c.fieldName(), offerValue, want)
		}
		return true, ""
	}
	return false, fmt.Sprintf("unknown operator %q", c.Operator) // prepare rejects these
}

// groupKey is a GROUP_BY group: instances with a value, or those without.
type groupKey struct {
	value string
	has   bool
}

func (c Constraint) checkGroupBy(offerValue string, placed []Placed) (bool, string) {
	counts := map[groupKey]int{}
	for _, p := range placed {
		v, ok := c.placedValue(p)
		counts[groupKey{v, ok}]++
	}
	mine, seen := counts[groupKey{offerValue, true}]
	if !seen {
		return true, "" // a value not yet in use always balances
	}
	smallest := math.MaxInt
	for _, n := range counts {
		smallest = min(smallest, n)
	}
	if len(counts) < c.n {
		return false, fmt.Sprintf("%s %q already has %d instances and only %d of %d groups are in use", c.fieldName(), offerValue, mine, len(counts), c.n)
	}
	if mine != smallest {
		return false, fmt.Sprintf("%s %q has %d instances, the smallest group has %d", c.fieldName(), offerValue, mine, smallest)
	}
	return true, ""
}

func (c Constraint) fieldName() string {
	switch c.Field {
	case FieldHostname, fieldHostname2:
		return "hostname"
	case fieldRegion, fieldZone:
		return "fault domain " + c.Field
	}
	return "attribute " + strconv.Quote(c.Field)
}

func (c Constraint) offerValue(o mesos.Offer) (string, bool) {
	return c.read(o.Hostname, o.Attributes)
}

func (c Constraint) placedValue(p Placed) (string, bool) {
	return c.read(p.Hostname, p.Attributes)
}

func (c Constraint) read(hostname string, attrs mesos.Attributes) (string, bool) {
	switch c.Field {
	case FieldHostname, fieldHostname2:
		return hostname, true
	case fieldRegion, fieldZone:
		return "", false
	}
	v, ok := attrs.Get(c.Field)
	if !ok {
		return "", false
	}
	return AttributeValue(v), true
}

func offerName(o mesos.Offer) string {
	if o.Hostname != "" {
		return strconv.Quote(o.Hostname)
	}
	return strconv.Quote(o.AgentID)
}

func describe(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return strconv.Quote(v)
}

// AttributeValue formats an agent attribute's value as Marathon does before
// comparing it: Mesos reads "[..]" as ranges, "{..}" as a set, a number as
// a scalar and anything else as text, and Marathon prints ranges as
// "[b-e,...]" in order, sets as "{a,b}" sorted, and scalars with at most
// three decimals, rounded half-even, without trailing zeros
// (java.text.DecimalFormat("0.###")). A value Mesos could not parse is
// returned unchanged.
func AttributeValue(v string) string {
	switch {
	case strings.HasPrefix(v, "["):
		rs, err := mesos.ParseRanges(v)
		if err != nil {
			return v
		}
		parts := make([]string, len(rs))
		for i, r := range rs {
			parts[i] = strconv.FormatUint(r.Begin, 10) + "-" + strconv.FormatUint(r.End, 10)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case strings.HasPrefix(v, "{"):
		if !strings.HasSuffix(v, "}") {
			return v
		}
		var items []string
		for _, it := range strings.Split(v[1:len(v)-1], ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		slices.Sort(items)
		return "{" + strings.Join(items, ",") + "}"
	}
	if f, ok := parseDecimal(v); ok {
		return formatScalar(f)
	}
	return v
}

// formatScalar rounds to thousandths, half-even on the exact binary value
// (1.0005 reads "1", 1.1005 reads "1.101"), and drops trailing zeros, as
// Java's DecimalFormat("0.###") does.
func formatScalar(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// parseDecimal reports whether s is a scalar attribute value. It accepts
// what corral/mesos treats as a number in agent attributes (a finite
// decimal, optionally signed or with an exponent), so that the values
// /master/state shows as numbers are the ones compared as numbers here.
func parseDecimal(s string) (float64, bool) {
	if s == "" || strings.Trim(s, "0123456789.eE+-") != "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// isPlainDecimal matches Marathon's MesosScalarValue, [0-9]+(\.[0-9]+)?,
// the form of IS values it formats as scalars before comparing.
func isPlainDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
