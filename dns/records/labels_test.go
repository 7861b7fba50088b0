package records

import "testing"

func TestRFC1123(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"-", ""},
		{"web", "web"},
		{"Web_Server", "web-server"},
		{"api.v2_Server", "api-v2-server"},
		{"---a---b", "a---b"},
		{"a---", "a"},
		{"4abc123", "4abc123"},
		{"-4abc123", "4abc123"},
		{"API Server!", "apiserver"},
		{"not$1234", "not1234"},
		{"fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"},
		// Cut at 63, then the trailing dashes give way to what followed the cut.
		{"fd%gsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-", "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"},
	} {
		if got := RFC1123(tc.in); got != tc.want {
			t.Errorf("RFC1123(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRFC952(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"4abc123", "abc123"},
		{"-4abc123", "abc123"},
		{"89fdgsf---gs7-fgs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg1"},
		{"chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixe"},
		{"hello--------------------------------------------------------f", "hellof"},
	} {
		if got := RFC952(tc.in); got != tc.want {
			t.Errorf("RFC952(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDomainFrag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"...", ""},
		{"marathon", "marathon"},
		{"marathon.prod", "marathon.prod"},
		{".a..c.", "a.c"},
		{"(@ host . com", "host.com"},
		{"MiXeDcase.CoM", "mixedcase.com"},
		{"pod_123$abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.6.0-dev.mesos"},
	} {
		if got := domainFrag(tc.in, RFC1123); got != tc.want {
			t.Errorf("domainFrag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHashString(t *testing.T) {
	// Mesos-DNS's own test value for its task ID hash.
	if got := hashString("test"); got != "iffe9" {
		t.Errorf("hashString(%q) = %q, want %q", "test", got, "iffe9")
	}
}

func TestAgentIDTail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"20160107-001256-134875658-5050-27524-S3", "s3"},
		{"agent1", "agent1"},
		{"x-", ""},
	} {
		if got := agentIDTail(tc.in); got != tc.want {
			t.Errorf("agentIDTail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	long := "a123456789012345678901234567890123456789012345678901234567890123" // 64
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"web.marathon.mesos.", true},
		{"_web._tcp.marathon.mesos.", true},
		{"web.marathon.mesos", false},
		{".marathon.mesos.", false},
		{"web..mesos.", false},
		{"Web.mesos.", false},
		{"we b.mesos.", false},
		{long + ".mesos.", false},
		{long[:63] + ".mesos.", true},
	} {
		if got := validName(tc.in); got != tc.want {
			t.Errorf("validName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
