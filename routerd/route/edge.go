package route

import (
	"fmt"
	"sort"
	"strings"
)

// edgeIndex routes the shared HTTP edge's requests: by Host, then by the
// longest path prefix; services with paths but no vhost match any Host;
// the X-Marathon-App-Id header names any HTTP service directly.
type edgeIndex struct {
	hosts    map[string][]edgeRoute // lower-case vhost → routes, longest path first
	wildcard []edgeRoute            // "*.example.com" vhosts, most specific first
	anyHost  []edgeRoute            // path-only services, longest path first
	appIDs   map[string]*Service
}

type edgeRoute struct {
	host string // the vhost, "" for path-only
	path string // "" matches every path
	svc  *Service
}

// MatchHTTP returns the service the edge routes a request to, or nil.
// host is the Host header (a port is ignored), appID the
// X-Marathon-App-Id header.
func (t *Table) MatchHTTP(host, path, appID string) *Service {
	if appID != "" {
		if s := t.edge.appIDs[appID]; s != nil {
			return s
		}
	}
	h := hostOnly(host)
	if rs, ok := t.edge.hosts[h]; ok {
		if s := matchPath(rs, path); s != nil {
			return s
		}
	}
	for _, r := range t.edge.wildcard {
		if strings.HasSuffix(h, r.host[1:]) && (r.path == "" || strings.HasPrefix(path, r.path)) {
			return r.svc
		}
	}
	return matchPath(t.edge.anyHost, path)
}

// HasEdgeRoutes reports whether any service is routed on the edge by host
// or path.
func (t *Table) HasEdgeRoutes() bool {
	return len(t.edge.hosts)+len(t.edge.wildcard)+len(t.edge.anyHost) > 0
}

func matchPath(rs []edgeRoute, path string) *Service {
	for _, r := range rs {
		if r.path == "" || strings.HasPrefix(path, r.path) {
			return r.svc
		}
	}
	return nil
}

// hostOnly lowers a Host header and drops its port.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func buildEdge(svcs []*Service, prev *Table) edgeIndex {
	e := edgeIndex{hosts: map[string][]edgeRoute{}, appIDs: map[string]*Service{}}
	owner := map[string]*Service{} // "host path" → service
	prevOwner := func(key string) string {
		if prev == nil {
			return ""
		}
		return prev.edge.ownerOf(key)
	}
	// Services are claimed by weight (HAPROXY_{n}_BACKEND_WEIGHT, largest
	// first), then the previous owner, then app ID order.
	order := append([]*Service(nil), svcs...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].weight > order[j].weight })
	for _, pass := range []bool{true, false} {
		for _, s := range order {
			if s.Mode != ModeHTTP {
				continue
			}
			if pass {
				if _, ok := e.appIDs[s.AppID]; !ok {
					e.appIDs[s.AppID] = s // an app's lowest HTTP port answers its ID
				}
			}
			for _, key := range edgeKeys(s) {
				if (prevOwner(key) == s.Key()) != pass {
					continue
				}
				if o := owner[key]; o != nil {
					if o != s && s.EdgeConflict == "" {
						s.EdgeConflict = fmt.Sprintf("host %q path %q is routed to %s port %d", keyHost(key), keyPath(key), o.AppID, o.PortIndex)
					}
					continue
				}
				owner[key] = s
			}
		}
	}
	keys := make([]string, 0, len(owner))
	for k := range owner {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := edgeRoute{host: keyHost(k), path: keyPath(k), svc: owner[k]}
		switch {
		case r.host == "":
			e.anyHost = append(e.anyHost, r)
		case strings.HasPrefix(r.host, "*."):
			e.wildcard = append(e.wildcard, r)
		default:
			e.hosts[r.host] = append(e.hosts[r.host], r)
		}
	}
	longestFirst := func(rs []edgeRoute) {
		sort.SliceStable(rs, func(i, j int) bool {
			if len(rs[i].host) != len(rs[j].host) {
				return len(rs[i].host) > len(rs[j].host)
			}
			return len(rs[i].path) > len(rs[j].path)
		})
	}
	for _, rs := range e.hosts {
		longestFirst(rs)
	}
	longestFirst(e.wildcard)
	longestFirst(e.anyHost)
	return e
}

// edgeKeys lists the "host path" pairs a service claims on the edge.
func edgeKeys(s *Service) []string {
	hosts, paths := s.VHosts, s.Paths
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	if len(paths) == 0 {
		paths = []string{""}
	}
	var out []string
	for _, h := range hosts {
		for _, p := range paths {
			if h == "" && p == "" {
				continue
			}
			out = append(out, h+" "+p)
		}
	}
	return out
}

func keyHost(k string) string { return k[:strings.IndexByte(k, ' ')] }
func keyPath(k string) string { return k[strings.IndexByte(k, ' ')+1:] }

func (e edgeIndex) ownerOf(key string) string {
	h, p := keyHost(key), keyPath(key)
	var rs []edgeRoute
	switch {
	case h == "":
		rs = e.anyHost
	case strings.HasPrefix(h, "*."):
		rs = e.wildcard
	default:
		rs = e.hosts[h]
	}
	for _, r := range rs {
		if r.host == h && r.path == p {
			return r.svc.Key()
		}
	}
	return ""
}
