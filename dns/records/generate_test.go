package records

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"corral/mesos"
)

// hosts returns the data of name's records of type t, sorted.
func hosts(rs RecordSet, name string, t Type) []string {
	var out []string
	for _, r := range rs.Lookup(name) {
		if r.Type == t {
			out = append(out, r.Host())
		}
	}
	slices.Sort(out)
	return out
}

func TestGenerateNoLeader(t *testing.T) {
	st := loadState(t)
	st.Leader = ""
	if _, err := Generate(st, DefaultConfig()); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Generate(no leader) error = %v, want ErrNoLeader", err)
	}
	st.LeaderInfo = &mesos.MasterInfo{PID: "master@10.0.0.7:5050"}
	rs, err := Generate(st, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(rs, "leader.mesos.", TypeA); !slices.Equal(got, []string{"10.0.0.7"}) {
		t.Errorf("leader from leader_info = %v, want [10.0.0.7]", got)
	}
}

func TestMasterRecords(t *testing.T) {
	type want struct {
		name string
		t    Type
		data []string
	}
	for _, tc := range []struct {
		desc    string
		masters []string
		leader  string
		want    []want
	}{
		{"malformed leader", nil, "master@nowhere", []want{{"leader.mesos.", TypeA, nil}, {"master0.mesos.", TypeA, nil}}},
		{"no masters", nil, "master@10.0.0.6:7", []want{
			{"leader.mesos.", TypeA, []string{"10.0.0.6"}},
			{"master.mesos.", TypeA, []string{"10.0.0.6"}},
			{"master0.mesos.", TypeA, []string{"10.0.0.6"}},
			{"_leader._tcp.mesos.", TypeSRV, []string{"leader.mesos.:7"}},
			{"_leader._udp.mesos.", TypeSRV, []string{"leader.mesos.:7"}},
		}},
		{"IPv6 leader", nil, "master@[2001:db8::1]:7", []want{
			{"leader.mesos.", TypeAAAA, []string{"2001:db8::1"}},
			{"master0.mesos.", TypeAAAA, []string{"2001:db8::1"}},
		}},
		{"leader not listed", []string{"10.0.0.8:9"}, "master@10.0.0.6:7", []want{
			{"master.mesos.", TypeA, []string{"10.0.0.6", "10.0.0.8"}},
			{"master0.mesos.", TypeA, []string{"10.0.0.8"}},
			{"master1.mesos.", TypeA, []string{"10.0.0.6"}},
		}},
		{"duplicates", []string{"10.0.0.8:9", "10.0.0.8:9", "10.0.0.6:7", "10.0.0.6:7"}, "master@10.0.0.6:7", []want{
			{"master0.mesos.", TypeA, []string{"10.0.0.8"}},
			{"master1.mesos.", TypeA, []string{"10.0.0.6"}},
			{"master2.mesos.", TypeA, nil},
		}},
		{"host names", []string{"m2.example:5050", "m1.example:5050", "unknown.example:5050"}, "master@10.0.0.1:5050", []want{
			{"master.mesos.", TypeA, []string{"10.0.0.1", "10.0.0.2"}},
			{"master0.mesos.", TypeA, []string{"10.0.0.2"}},
			{"master1.mesos.", TypeA, []string{"10.0.0.1"}},
			{"master2.mesos.", TypeA, nil},
		}},
		{"leader in the middle", []string{"10.0.0.8:9", "10.0.0.6:7", "[2001:db8::1]:0"}, "master@10.0.0.6:7", []want{
			{"master.mesos.", TypeAAAA, []string{"2001:db8::1"}},
			{"master1.mesos.", TypeA, []string{"10.0.0.6"}},
			{"master2.mesos.", TypeAAAA, []string{"2001:db8::1"}},
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Masters = tc.masters
			cfg.LookupHost = func(h string) []netip.Addr {
				switch h {
				case "m1.example":
					return []netip.Addr{netip.MustParseAddr("10.0.0.1")}
				case "m2.example":
					return []netip.Addr{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("10.0.0.2")}
				}
				return nil
			}
			rs, err := Generate(mesos.MasterState{Leader: tc.leader}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if got := hosts(rs, w.name, w.t); !slices.Equal(got, w.data) {
					t.Errorf("%s %v = %v, want %v", w.name, w.t, got, w.data)
				}
			}
		})
	}
}

func TestGenerateOptions(t *testing.T) {
	for _, tc := range []struct {
		desc string
		edit func(*Config)
		name string
		t    Type
		want []string
	}{
		{"unhealthy left out", func(*Config) {}, "sick.marathon.mesos.", TypeA, nil},
		{"unhealthy kept", func(c *Config) { c.HealthyOnly = false }, "sick.marathon.mesos.", TypeA, []string{"10.0.1.11"}},
		{"host source only", func(c *Config) { c.IPSources = []string{"host"} }, "apiserver.marathon.mesos.", TypeA, []string{"10.0.1.12"}},
		{"host source has no v6", func(c *Config) { c.IPSources = []string{"host"} }, "apiserver.marathon.mesos.", TypeAAAA, nil},
		{"netinfo only", func(c *Config) { c.IPSources = []string{"netinfo"} }, "db.marathon.mesos.", TypeA, nil},
		{"mesos label", func(c *Config) { c.IPSources = []string{"mesos", "host"} }, "db.marathon.mesos.", TypeA, []string{"172.17.0.2"}},
		{"docker label absent", func(c *Config) { c.IPSources = []string{"docker", "host"} }, "db.marathon.mesos.", TypeA, []string{"10.0.1.11"}},
		{"netinfo v6 then host v4", func(*Config) {}, "cache.marathon.mesos.", TypeA, []string{"10.0.1.11"}},
		{"RFC 952", func(c *Config) { c.EnforceRFC952 = true }, "a-very-long-task-name-th.chronoswithspace.prod.mesos.", TypeA, []string{"10.0.1.12"}},
		{"domain lowered", func(c *Config) { c.Domain = "Corral.Example." }, "web.marathon.corral.example.", TypeA, []string{"10.0.1.11", "10.0.1.12"}},
		{"weight", func(c *Config) { c.SRVWeight = 7 }, "_leader._tcp.mesos.", TypeSRV, []string{"leader.mesos.:5050"}},
		{"lookup", func(c *Config) {
			c.LookupHost = func(h string) []netip.Addr {
				if h != "metronome.example.com" {
					return nil
				}
				return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.20"), netip.MustParseAddr("10.0.0.21"), netip.MustParseAddr("2001:db8::20")}
			}
		}, "metronome.mesos.", TypeA, []string{"10.0.0.20"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cfg := goldenConfig()
			tc.edit(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			rs, err := Generate(loadState(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := hosts(rs, tc.name, tc.t); !slices.Equal(got, tc.want) {
				t.Errorf("%s %v = %v, want %v", tc.name, tc.t, got, tc.want)
			}
		})
	}
}

func TestSRVWeight(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SRVWeight = 7
	rs, err := Generate(mesos.MasterState{Leader: "master@10.0.0.1:5050"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Lookup("_leader._tcp.mesos.") {
		if r.SRV.Weight != 7 || r.SRV.Priority != 0 {
			t.Errorf("SRV %+v, want priority 0 weight 7", r.SRV)
		}
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
		{"empty domain", func(c *Config) { c.Domain = "" }, `invalid domain "", must not be empty`},
		{"bad domain", func(c *Config) { c.Domain = "me_sos" }, `invalid domain "me_sos", labels must hold only letters, digits and '-'`},
		{"dash", func(c *Config) { c.Domain = "-mesos" }, `invalid domain "-mesos", labels must not start or end with '-'`},
		{"ttl", func(c *Config) { c.TTL = 1 << 31 }, "invalid TTL 2147483648, must be in [0, 2147483647]"},
		{"no sources", func(c *Config) { c.IPSources = nil }, "invalid IP sources [], must list at least one of netinfo, mesos, docker, host"},
		{"bad source", func(c *Config) { c.IPSources = []string{"rkt"} }, `invalid IP source "rkt", must be one of netinfo, mesos, docker, host`},
		{"mname", func(c *Config) { c.SOAMname = "" }, `invalid SOA mname "", must not be empty`},
		{"master", func(c *Config) { c.Masters = []string{"10.0.0.1"} }, `invalid master "10.0.0.1", must be IP:port or host:port`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	st := loadState(b)
	cfg := goldenConfig()
	for b.Loop() {
		if _, err := Generate(st, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
