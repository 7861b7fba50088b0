package marathon

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// App and group IDs are paths: "/" is the root group, "/prod/web" the app
// (or group) web in the group /prod. An ID given without a leading slash is
// relative to a base group; "." and ".." segments resolve against it, and
// ".." never climbs above the root.

// idSegmentPattern is Marathon's PathId segment rule as its message shows
// it; Java matches it against the whole segment.
const idSegmentPattern = `^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$`

var idSegmentRE = regexp.MustCompile(`^(?:(?:(?:[a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*(?:[a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|\.|\.\.)$`)

// Messages of Marathon's path validation.
var (
	msgIDPattern  = "must fully match regular expression '" + idSegmentPattern + "'"
	msgIDReserved = "must not end with any of the following reserved keywords: " + strings.Join(reservedIDs, ", ")
	msgIDEmpty    = "Path must contain at least one path element"
	msgIDRelative = "Path needs to be absolute"
)

// reservedIDs may not end an app ID: they name sub-resources of
// /v2/apps/{id}.
var reservedIDs = []string{"restart", "tasks", "versions"}

// MaxIDLength bounds an app ID. Marathon sets no bound, but an ID must fit
// the names agents give a task: its task ID is SafeID(app ID) + "." + a
// UUID, and agentd names the task's directory, cgroup and network record
// "<framework ID>_<task ID>" plus a suffix, one file name of at most 255
// bytes. 128 leaves room for framework IDs of up to about 80 bytes; a
// longer app ID could be stored but never launched.
const MaxIDLength = 128

// RootID is the root group's ID.
const RootID = "/"

// splitID splits id into its non-empty segments, as Marathon's PathId does.
func splitID(id string) (segs []string, absolute bool) {
	for _, s := range strings.Split(id, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs, strings.HasPrefix(id, "/")
}

func joinSegments(segs []string) string { return "/" + strings.Join(segs, "/") }

// resolve canonicalises id against the segments of an absolute base.
func resolve(id string, base []string) []string {
	segs, absolute := splitID(id)
	if !absolute {
		segs = append(slices.Clone(base), segs...)
	}
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return out
}

// canonicalID is CanonicalID without checks; base must be absolute.
func canonicalID(id, base string) string {
	b, _ := splitID(base)
	return joinSegments(resolve(id, b))
}

// CanonicalID returns id as an absolute path with "." and ".." resolved, a
// relative id being taken relative to the group base ("" means the root):
// CanonicalID("web", "/prod") is "/prod/web", CanonicalID("../db",
// "/prod/web") is "/prod/db". It fails when base is not absolute or a
// segment breaks Marathon's rule: lower-case letters, digits, dashes and
// dots, dot-separated labels that neither begin nor end with a dash.
func CanonicalID(id, base string) (string, error) {
	if base == "" {
		base = RootID
	}
	b, absolute := splitID(base)
	if !absolute {
		return "", fmt.Errorf("canonicalising %q: base %q is not absolute", id, base)
	}
	for _, s := range b {
		if !idSegmentRE.MatchString(s) || s == "." || s == ".." {
			return "", fmt.Errorf("canonicalising %q: invalid base %q, segment %q %s", id, base, s, msgIDPattern)
		}
	}
	segs := resolve(id, b)
	for _, s := range segs {
		if !idSegmentRE.MatchString(s) {
			return "", fmt.Errorf("invalid id %q, segment %q %s", id, s, msgIDPattern)
		}
	}
	return joinSegments(segs), nil
}

// Canonicalize makes the app's ID and dependencies absolute and resolves
// "." and "..": relative IDs are taken relative to the group base ("" means
// the root), as Marathon does for apps posted to /v2/apps (base "/") or
// within a group. Validate reports what is still invalid.
func (a *App) Canonicalize(base string) {
	if base == "" {
		base = RootID
	}
	a.ID = canonicalID(a.ID, base)
	for i, d := range a.Dependencies {
		a.Dependencies[i] = canonicalID(d, base)
	}
}

// IsRootID reports whether id names the root group.
func IsRootID(id string) bool {
	segs, _ := splitID(id)
	return len(segs) == 0
}

// ParentID returns the group that contains id: "/a/b" → "/a", "/a" → "/";
// the root is its own parent.
func ParentID(id string) string {
	segs, _ := splitID(id)
	if len(segs) == 0 {
		return RootID
	}
	return joinSegments(segs[:len(segs)-1])
}

// JoinID returns the ID of name within the group: JoinID("/a", "b") is
// "/a/b".
func JoinID(group, name string) string {
	g, _ := splitID(group)
	n, _ := splitID(name)
	return joinSegments(append(g, n...))
}

// IDSegments returns the segments of id: "/a/b" → ["a", "b"].
func IDSegments(id string) []string {
	segs, _ := splitID(id)
	return segs
}

// IDIncludes reports whether id is group or lies below it: IDIncludes("/a",
// "/a/b") and IDIncludes("/", anything) are true, IDIncludes("/a", "/ab")
// is false.
func IDIncludes(group, id string) bool {
	g, _ := splitID(group)
	s, _ := splitID(id)
	return len(s) >= len(g) && slices.Equal(s[:len(g)], g)
}

// SafeID writes id as Marathon writes it into task IDs: segments joined by
// "_", "/tools/docker/registry" → "tools_docker_registry".
func SafeID(id string) string {
	segs, _ := splitID(id)
	return strings.Join(segs, "_")
}

// IDFromSafe reverses SafeID: "tools_docker_registry" →
// "/tools/docker/registry". App IDs cannot hold "_", so it is unambiguous.
func IDFromSafe(s string) string {
	if s == "" {
		return RootID
	}
	return joinSegments(strings.Split(s, "_"))
}

// IDHostname writes id as a DNS name, innermost segment first, as Marathon
// and Mesos-DNS do: "/tools/docker/registry" → "registry.docker.tools".
func IDHostname(id string) string {
	segs, _ := splitID(id)
	slices.Reverse(segs)
	return strings.Join(segs, ".")
}

// validateID checks an app ID the way Marathon's PathId validators do.
func validateID(path, id string, d *details) {
	segs, absolute := splitID(id)
	if len(segs) == 0 {
		d.add(path, msgIDEmpty)
		return
	}
	if !absolute {
		d.add(path, msgIDRelative)
	}
	checkSegments(path, segs, d)
}

func checkSegments(path string, segs []string, d *details) {
	for _, s := range segs {
		if !idSegmentRE.MatchString(s) {
			d.add(path, msgIDPattern)
			break
		}
	}
	if len(segs) > 0 && slices.Contains(reservedIDs, segs[len(segs)-1]) {
		d.add(path, msgIDReserved)
	}
}
