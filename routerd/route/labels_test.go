package route

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		ports   int
		want    []PortLabels
		errs    map[int]string // substrings
		ignored []string
	}{
		{
			name:  "defaults",
			ports: 1,
			want:  []PortLabels{{Balance: RoundRobin, Enabled: true}},
		},
		{
			name: "every honoured label",
			labels: map[string]string{
				"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "A.example.com, b.example.com", "HAPROXY_0_PATH": "-i /x /y",
				"HAPROXY_0_MODE": "HTTP", "HAPROXY_0_BALANCE": "leastconn", "HAPROXY_0_PORT": "8080", "HAPROXY_0_BIND_ADDR": "127.0.0.2",
				"HAPROXY_0_STICKY": "true", "HAPROXY_0_REDIRECT_TO_HTTPS": "true", "HAPROXY_0_AUTH": "realm:bob:$6$salt$hash",
				"HAPROXY_0_SSL_CERT": "/etc/ssl/a.pem", "HAPROXY_0_BACKEND_WEIGHT": "3", "HAPROXY_1_GROUP": "internal",
				"HAPROXY_1_ENABLED": "false",
			},
			ports: 2,
			want: []PortLabels{
				{Mode: ModeHTTP, Balance: LeastConn, Port: 8080, BindAddr: "127.0.0.2", VHosts: []string{"a.example.com", "b.example.com"},
					Paths: []string{"/x", "/y"}, RedirectHTTPS: true, Sticky: true, Auth: &BasicAuth{Realm: "realm", User: "bob", Hash: "$6$salt$hash"},
					Enabled: true, Groups: []string{"external"}, SSLCert: "/etc/ssl/a.pem", Weight: 3},
				{Balance: RoundRobin, Enabled: false, Groups: []string{"internal"}},
			},
		},
		{
			name:   "a bad label spoils only its port",
			labels: map[string]string{"HAPROXY_0_BALANCE": "fastest", "HAPROXY_1_PORT": "70000", "HAPROXY_2_MODE": "tcp"},
			ports:  3,
			want: []PortLabels{{Balance: RoundRobin, Enabled: true}, {Balance: RoundRobin, Enabled: true},
				{Mode: ModeTCP, Balance: RoundRobin, Enabled: true}},
			errs: map[int]string{0: "balance must be roundrobin, leastconn or source", 1: "port must be a number in [1, 65535]"},
		},
		{
			name: "templates, unknown labels and ports the app lacks are ignored",
			labels: map[string]string{"HAPROXY_HEAD": "x", "HAPROXY_0_BACKEND_HEAD": "x", "HAPROXY_0_FRONTEND_HEAD": "x",
				"HAPROXY_5_VHOST": "x.example.com", "HAPROXY_DEPLOYMENT_COLOUR": "blue", "HAPROXY_0_USE_HSTS": "true", "OTHER": "x"},
			ports:   1,
			want:    []PortLabels{{Balance: RoundRobin, Enabled: true}},
			ignored: []string{"HAPROXY_0_BACKEND_HEAD", "HAPROXY_0_FRONTEND_HEAD", "HAPROXY_0_USE_HSTS", "HAPROXY_5_VHOST", "HAPROXY_HEAD"},
		},
		{
			name:   "bad vhost, path, auth, bind address",
			labels: map[string]string{"HAPROXY_0_VHOST": "bad host!", "HAPROXY_1_PATH": "nope", "HAPROXY_2_AUTH": "onlyrealm", "HAPROXY_3_BIND_ADDR": "eth0"},
			ports:  4,
			want: []PortLabels{{Balance: RoundRobin, Enabled: true}, {Balance: RoundRobin, Enabled: true},
				{Balance: RoundRobin, Enabled: true}, {Balance: RoundRobin, Enabled: true}},
			errs: map[int]string{0: "is not a host name", 1: "must start with /", 2: "realm:user:crypted-password", 3: "must be an IP address"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseLabels(tt.labels, tt.ports)
			if !reflect.DeepEqual(got.Ports, tt.want) {
				t.Errorf("ParseLabels(%v).Ports =\n%+v\nwant\n%+v", tt.labels, got.Ports, tt.want)
			}
			if len(got.Errors) != len(tt.errs) {
				t.Errorf("errors = %v, want %v", got.Errors, tt.errs)
			}
			for i, sub := range tt.errs {
				if !strings.Contains(got.Errors[i], sub) {
					t.Errorf("port %d error = %q, want it to contain %q", i, got.Errors[i], sub)
				}
			}
			if !reflect.DeepEqual(got.Ignored, tt.ignored) {
				t.Errorf("ignored = %v, want %v", got.Ignored, tt.ignored)
			}
		})
	}
}

// FuzzParseLabels: any labels parse without a panic, every port gets a
// value, and an error names the label.
func FuzzParseLabels(f *testing.F) {
	f.Add("HAPROXY_0_VHOST", "a.example.com", "HAPROXY_0_PATH", "/x", 2)
	f.Add("HAPROXY_99999_PORT", "1", "HAPROXY_GROUP", ",,", 1)
	f.Add("HAPROXY_-1_MODE", "http", "HAPROXY_0_AUTH", "::", 0)
	f.Add("HAPROXY_0_", "", "HAPROXY__0", "x", 3)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, ports int) {
		if ports < 0 || ports > 64 {
			return
		}
		got := ParseLabels(map[string]string{k1: v1, k2: v2}, ports)
		if len(got.Ports) != ports {
			t.Fatalf("%d ports, want %d", len(got.Ports), ports)
		}
		for i, msg := range got.Errors {
			if i < 0 || i >= ports || !strings.HasPrefix(msg, "label HAPROXY_") {
				t.Fatalf("error for port %d: %q", i, msg)
			}
		}
	})
}
