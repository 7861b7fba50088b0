package marathon

import (
	"strings"
	"testing"
)

func TestCanonicalID(t *testing.T) {
	tests := []struct {
		id, base string
		want     string
		wantErr  string // substring; "" for success
	}{
		{"web", "", "/web", ""},
		{"/web", "", "/web", ""},
		{"web", "/", "/web", ""},
		{"web", "/prod", "/prod/web", ""},
		{"/web", "/prod", "/web", ""},
		{"./web", "/prod", "/prod/web", ""},
		{"../db", "/prod/web", "/prod/db", ""},
		{"../../../db", "/prod/web", "/db", ""},
		{"/a/./b/../c", "", "/a/c", ""},
		{"//a//b/", "", "/a/b", ""},
		{"", "/prod", "/prod", ""},
		{"..", "/", "/", ""},
		{"my.app-1/x0", "/", "/my.app-1/x0", ""},
		{"Web", "/", "", "must fully match regular expression"},
		{"-web", "/", "", "must fully match regular expression"},
		{"web-", "/", "", "must fully match regular expression"},
		{"a..b", "/", "", "must fully match regular expression"},
		{"a_b", "/", "", "must fully match regular expression"},
		{"a b", "/", "", "must fully match regular expression"},
		{"web", "prod", "", "base \"prod\" is not absolute"},
		{"web", "/Prod", "", "invalid base"},
	}
	for _, tt := range tests {
		got, err := CanonicalID(tt.id, tt.base)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CanonicalID(%q, %q) = %q, %v, want error containing %q", tt.id, tt.base, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalID(%q, %q) = %q, %v, want %q", tt.id, tt.base, got, err, tt.want)
		}
	}
}

func TestAppCanonicalize(t *testing.T) {
	a := App{ID: "web", Dependencies: []string{"db", "../shared/cache", "/abs"}}
	a.Canonicalize("/prod")
	if a.ID != "/prod/web" {
		t.Errorf("ID = %q, want /prod/web", a.ID)
	}
	want := []string{"/prod/db", "/shared/cache", "/abs"}
	for i, d := range a.Dependencies {
		if d != want[i] {
			t.Errorf("Dependencies[%d] = %q, want %q", i, d, want[i])
		}
	}
}

func TestIDHelpers(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"ParentID nested", ParentID("/a/b/c"), "/a/b"},
		{"ParentID top level", ParentID("/a"), "/"},
		{"ParentID root", ParentID("/"), "/"},
		{"JoinID", JoinID("/a", "b"), "/a/b"},
		{"JoinID root", JoinID("/", "b"), "/b"},
		{"SafeID", SafeID("/tools/docker/registry"), "tools_docker_registry"},
		{"IDFromSafe", IDFromSafe("tools_docker_registry"), "/tools/docker/registry"},
		{"IDHostname", IDHostname("/tools/docker/registry"), "registry.docker.tools"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	includes := []struct {
		group, id string
		want      bool
	}{
		{"/", "/a/b", true},
		{"/a", "/a/b", true},
		{"/a", "/a", true},
		{"/a", "/ab", false},
		{"/a/b", "/a", false},
	}
	for _, tt := range includes {
		if got := IDIncludes(tt.group, tt.id); got != tt.want {
			t.Errorf("IDIncludes(%q, %q) = %v, want %v", tt.group, tt.id, got, tt.want)
		}
	}
	if !IsRootID("/") || !IsRootID("") || IsRootID("/a") {
		t.Errorf("IsRootID wrong")
	}
}
