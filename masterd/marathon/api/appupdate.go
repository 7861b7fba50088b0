package api

import (
	"encoding/json"
	"maps"

	"corral/marathon"
)

// decodeObject parses a body that must be a JSON object.
func decodeObject(body []byte) (map[string]any, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidJSON("/", errObject)
	}
	return m, nil
}

// checkSameID refuses the id of a PUT /v2/apps/{id} body that names
// another app than the path (relative IDs are taken from the root): the
// body would otherwise replace the path's app with what the client meant
// for another. PATCH ignores the body's id, as its RAML says.
func checkSameID(p *problems, id string, u map[string]any) {
	switch raw := u["id"].(type) {
	case nil:
	case string:
		if got, err := marathon.CanonicalID(raw, marathon.RootID); err != nil || got != id {
			p.invalid("/id", "does not equal "+id)
		}
	default:
		p.badJSON("/id", errString)
	}
}

// checkVersionOnly reads the "version" of an app update at path: given, it
// asks for a rollback to that version, and the update may hold nothing but
// the app's id besides (versionInfo, which clients send back from a GET,
// is ignored). It returns the version, "" when there is none, and records
// what is wrong in p.
func checkVersionOnly(p *problems, path string, u map[string]any) string {
	raw, ok := u["version"]
	if !ok || raw == nil {
		return ""
	}
	version, ok := raw.(string)
	if !ok {
		p.badJSON(path+"/version", errString)
		return ""
	}
	for k, v := range u {
		switch k {
		case "id", "version", "versionInfo":
		default:
			if v != nil {
				p.invalid(subPath(path, "/"), msgVersionAlone)
				return ""
			}
		}
	}
	return version
}

// rolledBack is a stored version of app id as the new definition: the
// backend stamps its version anew.
func rolledBack(id string, a marathon.App) marathon.App {
	a.ID = id
	a.Version, a.VersionInfo = "", nil
	return a
}

// buildApp makes the app id from an update body, as Marathon's AppUpdate
// does. With current, the members the update gives replace the app's
// (each wholesale: an update's labels or container replace the app's) and
// the others keep their values; without, the update is the whole
// definition. The body's id is ignored: the path names the app. The
// result is parsed, normalised and validated as a posted app is, with
// ParseAppWith's results.
func buildApp(id string, current *marathon.App, update map[string]any, o marathon.Options) (marathon.App, []marathon.ErrorDetail, error) {
	merged := map[string]any{}
	if current != nil {
		var err error
		if merged, err = appMembers(*current); err != nil {
			return marathon.App{}, nil, err
		}
		dropSuperseded(merged, update)
	}
	for k, v := range update {
		if v != nil { // null means "not given", as for Play's optional members
			merged[k] = v
		}
	}
	delete(merged, "version")
	delete(merged, "versionInfo")
	merged["id"] = id
	body, err := json.Marshal(merged)
	if err != nil {
		return marathon.App{}, nil, err
	}
	app, details, err := marathon.ParseAppWith(body, "", o)
	if err != nil || len(details) > 0 {
		return app, details, err
	}
	app.Version, app.VersionInfo = "", nil
	return app, nil, nil
}

// appMembers is an app's JSON as members, numbers kept exact.
func appMembers(a marathon.App) (map[string]any, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return maps.Clone(m), nil
}

// dropSuperseded removes from the members of a stored app those that
// merely derive from others, and those that an update's deprecated
// members replace, so that the two do not contradict each other: ports
// repeats the service ports, uris replace fetch, ports replace
// portDefinitions, and ipAddress or container.docker.network replace
// networks.
func dropSuperseded(current, update map[string]any) {
	delete(current, "ports")
	given := func(k string) bool { return update[k] != nil }
	if given("ports") {
		delete(current, "portDefinitions")
	}
	if given("uris") {
		delete(current, "fetch")
	}
	if given("ipAddress") {
		delete(current, "networks")
		delete(current, "portDefinitions")
	}
	if c, ok := update["container"].(map[string]any); ok {
		if d, ok := c["docker"].(map[string]any); ok && d["network"] != nil {
			delete(current, "networks")
		}
	}
}
