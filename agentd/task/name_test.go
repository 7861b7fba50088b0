package task

import (
	"regexp"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct{ framework, task, want string }{
		{"m1-0001", "web.3f2a9c1e-5b6d-11ef-8c1a-0242ac120002", "m1-0001_web.3f2a9c1e-5b6d-11ef-8c1a-0242ac120002"},
		{"4c8e4a2e-7b0e-4a55-9d8b-6f1c1b7e3f2a-0000", "p_web.instance-1._app.1", "4c8e4a2e-7b0e-4a55-9d8b-6f1c1b7e3f2a-0000_p_web.instance-1._app.1"},
		{"fw", "t1", "fw_t1"},
		// What plain names could not tell apart is hashed.
		{"a_b", "c", "h--"},
		{"a", "b_c", "a_b_c"},
		{"fw", "web:1", "h--"},
		{"fw", "web;1", "h--"},
		{"fw", "../x", "h--"},
		{"fw--x", "t", "h--"},
		{".fw", "t", "h--"},
		{"fw", "", "h--"},
		{long, "t", "h--"},
		{"fw", long, "h--"},
	} {
		got := name(tc.framework, tc.task)
		if tc.want == "h--" && !strings.HasPrefix(got, "h--") || tc.want != "h--" && got != tc.want {
			t.Errorf("name(%q, %q) = %q, want %q", tc.framework, tc.task, got, tc.want)
		}
	}
	// Every task has its own name, one that libcontainer, cgroups, CNI
	// and the file system accept.
	cni := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)
	keys := [][2]string{
		{"a_b", "c"}, {"a", "b_c"}, {"fw", "web:1"}, {"fw", "web;1"}, {"fw", "web_1"}, {"m1-0001", "t1"}, {"m1-0002", "t1"},
		{"h", "--0_x"}, {long, "1"}, {long, "2"}, {"1", long}, {"2", long}, {"fw", ".."}, {"fw", "."},
	}
	seen := map[string][2]string{}
	for _, k := range keys {
		n := name(k[0], k[1])
		if other, ok := seen[n]; ok {
			t.Errorf("name(%q) = name(%q) = %q", k, other, n)
		}
		seen[n] = k
		if !cni.MatchString(n) || len(n) > maxNameLen {
			t.Errorf("name(%q) = %q, want at most %d bytes matching %s", k, n, maxNameLen, cni)
		}
	}
}

// Tasks of an agentd that did not record container IDs keep theirs.
func TestLegacyContainerID(t *testing.T) {
	for _, tc := range []struct{ framework, task, want string }{
		{"m1-0001", "web.1", "m1-0001_web.1"},
		{"fw", "a/b c", "fw_a_2Fb_20c"},
	} {
		if got := legacyContainerID(tc.framework, tc.task); got != tc.want {
			t.Errorf("legacyContainerID(%q, %q) = %q, want %q", tc.framework, tc.task, got, tc.want)
		}
		if plainTask.MatchString(tc.task) && name(tc.framework, tc.task) != tc.want {
			t.Errorf("name(%q, %q) = %q, want the name an older agentd gave it, %q", tc.framework, tc.task, name(tc.framework, tc.task), tc.want)
		}
	}
}
