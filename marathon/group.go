package marathon

import "encoding/json"

// Group is a group as /v2/groups returns and takes it: apps, subgroups and
// pods (kept as given; Corral does not run pods) under an ID.
type Group struct {
	ID           string            `json:"id"`
	Apps         []AppInfo         `json:"apps"`
	Groups       []Group           `json:"groups"`
	Pods         []json.RawMessage `json:"pods"`
	Dependencies []string          `json:"dependencies"`
	Version      string            `json:"version,omitempty"`
	EnforceRole  *bool             `json:"enforceRole,omitempty"`
}

// MarshalJSON writes the lists as [] rather than null.
func (g Group) MarshalJSON() ([]byte, error) {
	type alias Group
	v := alias(g)
	v.Apps = orEmpty(v.Apps)
	v.Groups = orEmpty(v.Groups)
	v.Pods = orEmpty(v.Pods)
	v.Dependencies = orEmpty(v.Dependencies)
	return json.Marshal(v)
}

// FindApp returns the app with the given ID anywhere in the group's tree.
func (g *Group) FindApp(id string) (*AppInfo, bool) {
	for i := range g.Apps {
		if g.Apps[i].ID == id {
			return &g.Apps[i], true
		}
	}
	for i := range g.Groups {
		if IDIncludes(g.Groups[i].ID, id) {
			if a, ok := g.Groups[i].FindApp(id); ok {
				return a, true
			}
		}
	}
	return nil, false
}

// FindGroup returns the group with the given ID within the group's tree.
func (g *Group) FindGroup(id string) (*Group, bool) {
	if canonicalID(g.ID, RootID) == canonicalID(id, RootID) {
		return g, true
	}
	for i := range g.Groups {
		if IDIncludes(g.Groups[i].ID, id) {
			return g.Groups[i].FindGroup(id)
		}
	}
	return nil, false
}

// TransitiveApps returns every app in the group's tree, depth first.
func (g *Group) TransitiveApps() []AppInfo {
	out := append([]AppInfo(nil), g.Apps...)
	for i := range g.Groups {
		out = append(out, g.Groups[i].TransitiveApps()...)
	}
	return out
}
