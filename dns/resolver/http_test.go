package resolver

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func getJSON(t *testing.T, r *Resolver, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + r.HTTPAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func TestHTTPAPI(t *testing.T) {
	r := start(t, nil, false)

	var version map[string]string
	getJSON(t, r, "/v1/version", &version)
	if version["Service"] != "Mesos-DNS" || version["Version"] != "corral" || version["URL"] == "" {
		t.Errorf("/v1/version = %v", version)
	}

	var cfg map[string]any
	getJSON(t, r, "/v1/config", &cfg)
	for k, want := range map[string]any{"Domain": "mesos", "TTL": 60.0, "SOASerial": 1700000000.0, "Mname": "ns1.mesos.",
		"Email": "root.ns1.mesos.", "HttpOn": true, "DnsOn": true, "ExternalOn": false, "Listener": "127.0.0.1",
		"RecordsUpdated": "2023-11-14T22:13:20Z"} {
		if cfg[k] != want {
			t.Errorf("/v1/config %s = %v, want %v", k, cfg[k], want)
		}
	}
	if age, _ := cfg["RecordsAgeSeconds"].(float64); age <= 0 {
		t.Errorf("/v1/config RecordsAgeSeconds = %v, want the records' age", cfg["RecordsAgeSeconds"])
	}

	type host struct{ Host, IP string }
	var hosts []host
	getJSON(t, r, "/v1/hosts/APIServer.marathon.mesos", &hosts)
	want := []host{{"apiserver.marathon.mesos.", "9.0.0.5"}, {"apiserver.marathon.mesos.", "fd01:b::2:8000:2"}}
	if len(hosts) != 2 || hosts[0] != want[0] || hosts[1] != want[1] {
		t.Errorf("/v1/hosts = %v, want %v", hosts, want)
	}
	getJSON(t, r, "/v1/hosts/nope.mesos.", &hosts)
	if len(hosts) != 1 || hosts[0] != (host{}) {
		t.Errorf("/v1/hosts of an unknown name = %v, want one empty record as Mesos-DNS", hosts)
	}

	type service struct{ Service, Host, IP, Port string }
	var services []service
	getJSON(t, r, "/v1/services/_http._apiserver._tcp.marathon.mesos.", &services)
	wantS := []service{
		{"_http._apiserver._tcp.marathon.mesos.", "apiserver-7wr3h-s2.marathon.mesos.", "9.0.0.5", "8080"},
		{"_http._apiserver._tcp.marathon.mesos.", "apiserver-7wr3h-s2.marathon.mesos.", "fd01:b::2:8000:2", "8080"},
	}
	if len(services) != 2 || services[0] != wantS[0] || services[1] != wantS[1] {
		t.Errorf("/v1/services = %v, want %v", services, wantS)
	}

	var enum struct {
		Frameworks []struct {
			Name  string
			Tasks []struct {
				Name, ID string
				Records  []struct{ Name, Host, Rtype string }
			}
		}
	}
	getJSON(t, r, "/v1/enumerate", &enum)
	if len(enum.Frameworks) != 4 || enum.Frameworks[0].Name != "marathon" || len(enum.Frameworks[2].Tasks) != 0 {
		t.Fatalf("/v1/enumerate = %+v", enum)
	}
	rec := enum.Frameworks[0].Tasks[0].Records[0]
	if rec.Name != "web.marathon.mesos." || rec.Host != "10.0.1.11" || rec.Rtype != "A" {
		t.Errorf("/v1/enumerate first record = %+v", rec)
	}
}

func TestHTTPEnumerateOff(t *testing.T) {
	r := start(t, func(c *Config) { c.Enumerate = false }, false)
	if code := getJSON(t, r, "/v1/enumerate", new(any)); code != http.StatusNotFound {
		t.Errorf("/v1/enumerate with enumeration off: status %d, want 404", code)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	for _, tc := range []struct {
		desc string
		edit func(*Config)
		want string
	}{
		{"nothing", func(c *Config) { c.Listen, c.HTTPListen = "", "" }, "invalid listen and HTTP listen addresses, both empty, at least one must be set"},
		{"listen", func(c *Config) { c.Listen = "53" }, `invalid listen address "53", must be host:port`},
		{"port", func(c *Config) { c.HTTPListen = ":99999" }, `invalid HTTP listen address ":99999", port must be in [0, 65535]`},
		{"records", func(c *Config) { c.Records.Domain = "" }, `invalid domain "", must not be empty`},
		{"resolver", func(c *Config) { c.Resolvers = []string{"dns.google"} }, `invalid resolver "dns.google", must be IP or IP:port`},
		{"timeout", func(c *Config) { c.ForwardTimeout = 0 }, "invalid forward timeout 0s, must be positive"},
		{"sockets", func(c *Config) { c.UDPSockets = -1 }, "invalid UDP sockets -1, must be in [0, 1024]"},
		{"edns", func(c *Config) { c.EDNSSize = 100 }, "invalid EDNS size 100, must be in [512, 65535]"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if err := c.Validate(); err == nil || err.Error() != tc.want {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"10.0.0.1", "10.0.0.1:5353", "[2001:db8::1]:53", "2001:db8::1"} {
		c := DefaultConfig()
		c.Resolvers = []string{ok}
		if err := c.Validate(); err != nil {
			t.Errorf("resolver %q: %v", ok, err)
		}
	}
}
