package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// groupUpdate is a GroupUpdate body: what to change in one group. A list
// that is given replaces the group's direct apps or subgroups (those not
// listed go); one that is not keeps them.
type groupUpdate struct {
	id          string
	apps        []marathon.App
	hasApps     bool
	groups      []groupUpdate
	hasGroups   bool
	deps        []string
	hasDeps     bool
	scaleBy     *float64
	version     string
	enforceRole *bool
}

// parseGroupBody reads the body of POST or PUT /v2/groups/{id}: the
// group's ID is the body's id taken relative to the path's, or the path's.
func parseGroupBody(body []byte, pathID string, o marathon.Options) (groupUpdate, error) {
	m, err := decodeObject(body)
	if err != nil {
		return groupUpdate{}, err
	}
	var p problems
	id, err := marathon.CanonicalID(pathID, marathon.RootID)
	if err != nil {
		p.invalid("/id", err.Error())
		return groupUpdate{}, p.err()
	}
	switch raw := m["id"].(type) {
	case nil:
	case string:
		if id, err = marathon.CanonicalID(raw, id); err != nil {
			p.invalid("/id", err.Error())
			return groupUpdate{}, p.err()
		}
	default:
		p.badJSON("/id", errString)
	}
	u := parseGroup(&p, "", m, id, o)
	return u, p.err()
}

// parseGroup reads the members of the group update m at path for group id.
func parseGroup(p *problems, path string, m map[string]any, id string, o marathon.Options) groupUpdate {
	u := groupUpdate{id: id}
	if list, ok := arrayMember(p, path, m, "apps"); ok {
		u.hasApps = true
		for i, e := range list {
			at := fmt.Sprintf("%s/apps(%d)", path, i)
			if _, ok := e.(map[string]any); !ok {
				p.badJSON(at, errObject)
				continue
			}
			body, err := json.Marshal(e)
			if err != nil {
				p.badJSON(at, err.Error())
				continue
			}
			app, details, err := marathon.ParseAppWith(body, id, o)
			p.parsed(at, details, err)
			if err != nil || len(details) > 0 {
				continue
			}
			if marathon.ParentID(app.ID) != id || marathon.IsRootID(app.ID) {
				p.invalid(at+"/id", notChild(app.ID, id))
				continue
			}
			app.Version, app.VersionInfo = "", nil
			u.apps = append(u.apps, app)
		}
	}
	if list, ok := arrayMember(p, path, m, "groups"); ok {
		u.hasGroups = true
		for i, e := range list {
			at := fmt.Sprintf("%s/groups(%d)", path, i)
			sub, ok := e.(map[string]any)
			if !ok {
				p.badJSON(at, errObject)
				continue
			}
			raw, ok := sub["id"].(string)
			switch {
			case sub["id"] == nil:
				p.badJSON(at+"/id", errPathMissing)
				continue
			case !ok:
				p.badJSON(at+"/id", errString)
				continue
			}
			sid, err := marathon.CanonicalID(raw, id)
			switch {
			case err != nil:
				p.invalid(at+"/id", err.Error())
				continue
			case marathon.ParentID(sid) != id || marathon.IsRootID(sid):
				p.invalid(at+"/id", notChild(sid, id))
				continue
			}
			u.groups = append(u.groups, parseGroup(p, at, sub, sid, o))
		}
	}
	if list, ok := arrayMember(p, path, m, "dependencies"); ok {
		u.hasDeps, u.deps = true, []string{}
		for i, e := range list {
			at := fmt.Sprintf("%s/dependencies(%d)", path, i)
			d, ok := e.(string)
			if !ok {
				p.badJSON(at, errString)
				continue
			}
			dep, err := marathon.CanonicalID(d, marathon.ParentID(id))
			if err != nil {
				p.invalid(at, err.Error())
				continue
			}
			u.deps = append(u.deps, dep)
		}
	}
	switch v := m["scaleBy"].(type) {
	case nil:
	case json.Number:
		f, err := v.Float64()
		switch {
		case err != nil:
			p.badJSON(path+"/scaleBy", errNumber)
		case f < 0:
			p.invalid(path+"/scaleBy", fmt.Sprintf("got %s, expected 0.0 or more", decimal(f)))
		default:
			u.scaleBy = &f
		}
	default:
		p.badJSON(path+"/scaleBy", errNumber)
	}
	switch v := m["version"].(type) {
	case nil:
	case string:
		if _, err := marathon.ParseTimestamp(v); err != nil {
			p.badJSON(path+"/version", "error.expected.date.isoformat")
		}
		u.version = v
	default:
		p.badJSON(path+"/version", errString)
	}
	switch v := m["enforceRole"].(type) {
	case nil:
	case bool:
		u.enforceRole = &v
	default:
		p.badJSON(path+"/enforceRole", errBool)
	}
	return u
}

// arrayMember reads member name of m, which must be an array when given.
func arrayMember(p *problems, path string, m map[string]any, name string) ([]any, bool) {
	v := m[name]
	if v == nil {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		p.badJSON(path+"/"+name, errArray)
	}
	return list, ok
}

// decimal writes f as Marathon's validators do: always with a fraction.
func decimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func notChild(id, group string) string {
	return fmt.Sprintf("identifier %s is not child of %s. Hint: use relative paths.", id, group)
}

func unknownGroup(id string) *marathon.Error {
	return notFound(fmt.Sprintf("Group '%s' does not exist", id))
}

// hasGroup reports whether group id exists in r, recorded or implied by
// an app; the root always does.
func hasGroup(r model.Root, id string) bool {
	return slices.Contains(r.GroupIDs(), id)
}

// applyGroupUpdate puts the update into r. Every group it names gets a
// record, so that a group created empty stays.
func applyGroupUpdate(r *model.Root, u groupUpdate) {
	rec := r.Groups[u.id]
	rec.ID = u.id
	if u.hasDeps {
		rec.Dependencies = u.deps
	}
	if u.enforceRole != nil {
		rec.EnforceRole = u.enforceRole
	}
	if !marathon.IsRootID(u.id) || len(rec.Dependencies) > 0 || rec.EnforceRole != nil {
		r.Groups[u.id] = rec
	}
	if u.hasApps {
		given := map[string]bool{}
		for _, a := range u.apps {
			given[a.ID] = true
		}
		for id := range r.Apps {
			if marathon.ParentID(id) == u.id && !given[id] {
				delete(r.Apps, id)
			}
		}
		for _, a := range u.apps {
			r.Apps[a.ID] = a
		}
	}
	if u.hasGroups {
		given := map[string]bool{}
		for _, g := range u.groups {
			given[g.id] = true
		}
		for _, gid := range r.GroupIDs() {
			if !marathon.IsRootID(gid) && marathon.ParentID(gid) == u.id && !given[gid] {
				removeGroup(r, gid)
			}
		}
		for _, g := range u.groups {
			applyGroupUpdate(r, g)
		}
	}
}

// msgSameID is Marathon's message for an ID that is both an app and a
// group.
const msgSameID = "Groups and Applications may not have the same identifier"

// keepIDsDistinct wraps a change of the root so that it fails, as Marathon's
// root group validation does, when it makes an ID both an app and a group:
// a group /p/web cannot hold /p/web/sub while /p/web is an app. Such IDs
// stored before they were refused do not block other changes.
func keepIDsDistinct(change func(*model.Root) error) func(*model.Root) error {
	return func(root *model.Root) error {
		before := sameIDs(*root)
		if err := change(root); err != nil {
			return err
		}
		var added []string
		for _, id := range sameIDs(*root) {
			if !slices.Contains(before, id) {
				added = append(added, id)
			}
		}
		if len(added) > 0 {
			return marathon.NotValid([]marathon.ErrorDetail{{Path: "/", Errors: []string{msgSameID + ": " + strings.Join(added, ", ")}}})
		}
		return nil
	}
}

// sameIDs lists the IDs that are both an app and a group of r, sorted.
func sameIDs(r model.Root) []string {
	var out []string
	for _, gid := range r.GroupIDs() {
		if _, ok := r.Apps[gid]; ok {
			out = append(out, gid)
		}
	}
	return out
}

// inGroup reports whether app id lies in group gid or below it. An app
// whose ID is the group's own is not in it.
func inGroup(gid, id string) bool { return id != gid && marathon.IDIncludes(gid, id) }

// removeGroup removes group id, its subgroups and their apps from r; the
// root is emptied.
func removeGroup(r *model.Root, id string) {
	for aid := range r.Apps {
		if inGroup(id, aid) {
			delete(r.Apps, aid)
		}
	}
	for gid := range r.Groups {
		if marathon.IDIncludes(id, gid) {
			delete(r.Groups, gid)
		}
	}
}

// scaleGroup multiplies the instances of every app below group id by
// factor, rounding up, as Marathon's scaleBy does.
func scaleGroup(r *model.Root, id string, factor float64) {
	for aid, a := range r.Apps {
		if inGroup(id, aid) {
			a.Instances = int(math.Ceil(float64(a.Instances) * factor))
			r.Apps[aid] = a
		}
	}
}

// groupAt reconstructs the apps of group id as they were at version:
// each app now in the group at its newest stored version not after it.
// Apps that did not exist then are left out; apps deleted since cannot be
// recovered, as their versions went with them.
func (s *server) groupAt(r *http.Request, b Backend, root model.Root, id, version string) (map[string]marathon.App, error) {
	at, err := marathon.ParseTimestamp(version)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("invalid version %q: %v", version, err))
	}
	out := map[string]marathon.App{}
	for _, aid := range appsBelow(root, id) {
		vs, err := b.Versions(r.Context(), aid)
		if err != nil {
			return nil, err
		}
		best, bestAt := "", at
		for _, v := range vs {
			t, err := marathon.ParseTimestamp(v)
			if err != nil || t.After(at) || (best != "" && !t.After(bestAt)) {
				continue
			}
			best, bestAt = v, t
		}
		if best == "" {
			continue
		}
		a, ok, err := b.Version(r.Context(), aid, best)
		if err != nil {
			return nil, err
		}
		if ok {
			out[aid] = a
		}
	}
	return out, nil
}
