package resolver

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/dns/records"
)

// HTTPHandler serves Mesos-DNS's HTTP API: /v1/version, /v1/config,
// /v1/hosts/{host}, /v1/services/{service} and /v1/enumerate, in its JSON
// shapes.
func (r *Resolver) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", r.restVersion)
	mux.HandleFunc("GET /v1/config", r.restConfig)
	mux.HandleFunc("GET /v1/hosts/{host}", r.restHost)
	mux.HandleFunc("GET /v1/services/{service}", r.restService)
	if r.cfg.Enumerate {
		mux.HandleFunc("GET /v1/enumerate", r.restEnumerate)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (r *Resolver) records() records.RecordSet {
	if t := r.table.Load(); t != nil {
		return t.rs
	}
	return records.RecordSet{}
}

func (r *Resolver) restVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{
		"Service": "Mesos-DNS",
		"URL":     "https://github.com/mesosphere/mesos-dns",
		"Version": r.cfg.Version,
	})
}

// configJSON is Mesos-DNS's configuration document, its keys as Mesos-DNS
// writes them (Email and Mname as in its HTTP docs, SOARname and SOAMname as
// in its code), plus the age of the records.
type configJSON struct {
	Masters                []string
	RefreshSeconds         int
	TTL                    uint32
	Port                   int
	Domain                 string
	Resolvers              []string
	Timeout                int
	Email                  string
	Mname                  string
	SOARname               string
	SOAMname               string
	SOASerial              uint32
	SOARefresh             uint32
	SOARetry               uint32
	SOAExpire              uint32
	SOAMinttl              uint32
	Listener               string
	HTTPListener           string
	HttpPort               int //nolint:revive // Mesos-DNS's key
	DnsOn                  bool
	HttpOn                 bool
	ExternalOn             bool
	RecurseOn              bool
	EnumerationOn          bool
	EnforceRFC952          bool
	IPSources              []string
	SRVRecordDefaultWeight uint16
	// RecordsUpdated is when the records served were generated (RFC 3339,
	// empty before the first update); RecordsAgeSeconds is how long ago.
	RecordsUpdated    string
	RecordsAgeSeconds float64
}

func (r *Resolver) restConfig(w http.ResponseWriter, _ *http.Request) {
	rc := r.cfg.Records
	soa := r.records().SOA()
	c := configJSON{
		Masters:                rc.Masters,
		RefreshSeconds:         r.cfg.RefreshSeconds,
		TTL:                    rc.TTL,
		Domain:                 strings.TrimSuffix(r.domain, "."),
		Resolvers:              r.cfg.Resolvers,
		Timeout:                int(r.cfg.ForwardTimeout / time.Second),
		Email:                  soa.Rname,
		Mname:                  soa.Mname,
		SOARname:               soa.Rname,
		SOAMname:               soa.Mname,
		SOARefresh:             rc.SOARefresh,
		SOARetry:               rc.SOARetry,
		SOAExpire:              rc.SOAExpire,
		SOAMinttl:              rc.SOAMinttl,
		DnsOn:                  r.cfg.Listen != "",
		HttpOn:                 r.cfg.HTTPListen != "",
		ExternalOn:             r.ra,
		RecurseOn:              r.ra,
		EnumerationOn:          r.cfg.Enumerate,
		EnforceRFC952:          rc.EnforceRFC952,
		IPSources:              rc.IPSources,
		SRVRecordDefaultWeight: rc.SRVWeight,
	}
	if c.Resolvers == nil {
		c.Resolvers = []string{}
	}
	c.Listener, c.Port = hostPort(r.Addr(), r.cfg.Listen)
	c.HTTPListener, c.HttpPort = hostPort(r.HTTPAddr(), r.cfg.HTTPListen)
	if at := r.Updated(); !at.IsZero() {
		c.SOASerial = uint32(at.Unix())
		c.RecordsUpdated = at.UTC().Format(time.RFC3339Nano)
		c.RecordsAgeSeconds = time.Since(at).Seconds()
	}
	writeJSON(w, c)
}

// hostPort is the bound address if there is one, else the configured one.
func hostPort(bound net.Addr, configured string) (string, int) {
	s := configured
	if bound != nil {
		s = bound.String()
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0
	}
	if host == "" {
		host = "0.0.0.0"
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// qualify lowers a name from a URL and gives it the trailing dot.
func qualify(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func (r *Resolver) restHost(w http.ResponseWriter, req *http.Request) {
	type record struct {
		Host string `json:"host"`
		IP   string `json:"ip"`
	}
	name := qualify(req.PathValue("host"))
	out := []record{}
	for _, rec := range r.records().Lookup(name) {
		if rec.Type == records.TypeA || rec.Type == records.TypeAAAA {
			out = append(out, record{name, rec.Addr.String()})
		}
	}
	if len(out) == 0 {
		out = append(out, record{}) // Mesos-DNS answers one empty record
	}
	writeJSON(w, out)
}

func (r *Resolver) restService(w http.ResponseWriter, req *http.Request) {
	type record struct {
		Service string `json:"service"`
		Host    string `json:"host"`
		IP      string `json:"ip"`
		Port    string `json:"port"`
	}
	service := req.PathValue("service")
	rs := r.records()
	out := []record{}
	for _, rec := range rs.Lookup(qualify(service)) {
		if rec.Type != records.TypeSRV {
			continue
		}
		port := strconv.Itoa(int(rec.SRV.Port))
		var haveA, haveAAAA bool // the first of each, as Mesos-DNS
		for _, a := range rs.Lookup(rec.SRV.Target) {
			if a.Type == records.TypeA && !haveA || a.Type == records.TypeAAAA && !haveAAAA {
				haveA = haveA || a.Type == records.TypeA
				haveAAAA = haveAAAA || a.Type == records.TypeAAAA
				out = append(out, record{service, rec.SRV.Target, a.Addr.String(), port})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, record{})
	}
	writeJSON(w, out)
}

func (r *Resolver) restEnumerate(w http.ResponseWriter, _ *http.Request) {
	fws := r.records().Enumerate()
	if fws == nil {
		fws = []records.Framework{}
	}
	writeJSON(w, map[string]any{"frameworks": fws})
}
