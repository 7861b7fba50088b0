package status

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/mesos"
)

func TestDirName(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct{ id, want string }{
		{"web.3f2a9c1e-5b6d-11ef-8c1a-0242ac120002", "web.3f2a9c1e-5b6d-11ef-8c1a-0242ac120002"},
		{"group_web.1", "group_web.1"},
		{"a..b", "a..b"},
		{"a/b", "a%2Fb"},
		{"../etc", "%2E.%2Fetc"},
		{"..", "%2E."},
		{".", "%2E"},
		{".hidden", "%2Ehidden"},
		{"50%", "50%25"},
		{"x y~", "x%20y%7E"},
		{"a+b", "a%2Bb"},
		{"ü", "%C3%BC"},
	} {
		if got := legacyDirName(tc.id); got != tc.want {
			t.Errorf("legacyDirName(%q) = %q, want %q", tc.id, got, tc.want)
		}
		if got, want := dirName(TaskKey{"fw-1", tc.id}), "fw-1+"+tc.want; got != want {
			t.Errorf("dirName(fw-1, %q) = %q, want %q", tc.id, got, want)
		}
		if got, want := dirName(TaskKey{tc.id, "t"}), tc.want+"+t"; got != want {
			t.Errorf("dirName(%q, t) = %q, want %q", tc.id, got, want)
		}
	}
	// Every task has its own name, none of them a legacy one.
	keys := []TaskKey{
		{"a", "b+c"}, {"a+b", "c"}, {"a", "b_c"}, {"a_b", "c"}, {"m1-0001", "t1"}, {"m1-0002", "t1"},
		{long, "1"}, {long, "2"}, {long + "1", ""}, {"1", long}, {"2", long},
	}
	seen := map[string]TaskKey{}
	for _, k := range keys {
		name := dirName(k)
		if other, ok := seen[name]; ok {
			t.Errorf("dirName(%q) = dirName(%q) = %q", k, other, name)
		}
		seen[name] = k
		if len(name) > maxNameLen || strings.Contains(name, "/") {
			t.Errorf("dirName(%q) = %q, want at most %d bytes and no /", k, name, maxNameLen)
		}
		if len(name) == maxNameLen && !strings.Contains(name, "~") {
			t.Errorf("dirName(%q) = %q, want a long name shortened with ~", k, name)
		}
		for _, id := range []string{k.TaskID, k.FrameworkID + "+" + k.TaskID} {
			if legacyDirName(id) == name {
				t.Errorf("dirName(%q) = legacyDirName(%q) = %q", k, id, name)
			}
		}
	}
	a, b := legacyDirName(long+"1"), legacyDirName(long+"2")
	if a == b || len(a) > maxNameLen || !strings.Contains(a, "~") || strings.Contains(a, "/") {
		t.Errorf("legacyDirName of long IDs = %q, %q; want distinct, at most %d bytes, with ~", a, b, maxNameLen)
	}
}

func TestReadLog(t *testing.T) {
	line := func(taskID, uuid string) []byte {
		js, err := json.Marshal(record{Type: recUpdate, FrameworkID: "fw", Status: &mesos.TaskStatus{TaskID: taskID, State: mesos.TaskRunning, UUID: uuid}})
		if err != nil {
			t.Fatal(err)
		}
		return frame(js)
	}
	r1, r2, r3 := line("t", "u1"), line("t", "u2"), line("t", "u3")
	badSum := bytes.Clone(r3)
	badSum[20] ^= 1
	good := bytes.Join([][]byte{r1, r2}, nil)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name    string
		data    []byte
		records int
		torn    int
		err     bool
	}{
		{"empty", nil, 0, 0, false},
		{"whole", good, 2, 0, false},
		{"record without its newline", cat(good, r3[:len(r3)-1]), 2, len(r3) - 1, false},
		{"half a record", cat(good, r3[:15]), 2, 15, false},
		{"bad checksum at the end", cat(good, badSum), 2, len(badSum), false},
		{"zeros at the end", cat(good, make([]byte, 100)), 2, 100, false},
		{"garbage lines at the end", cat(good, []byte("x\n\x00\x00\n")), 2, 5, false},
		{"only a torn record", r3[:15], 0, 15, false},
		{"corrupt record in the middle", cat(r1, badSum, r2), 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), logName)
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			recs, torn, err := readLog(path)
			if (err != nil) != tc.err {
				t.Fatalf("readLog() error = %v, want error %v", err, tc.err)
			}
			if len(recs) != tc.records || torn != tc.torn {
				t.Fatalf("readLog() = %d records, %d torn bytes; want %d, %d", len(recs), torn, tc.records, tc.torn)
			}
		})
	}
}

func TestParseLineRejects(t *testing.T) {
	for _, js := range []string{
		`{"type":"update","framework_id":"fw"}`,
		`{"type":"update","status":{"task_id":"t","state":"TASK_RUNNING"}}`,
		`{"type":"ack"}`,
		`{"type":"launch","uuid":"u"}`,
		`not json`,
	} {
		if _, err := parseLine(bytes.TrimSuffix(frame([]byte(js)), []byte("\n"))); err == nil {
			t.Errorf("parseLine(%s) succeeded, want an error", js)
		}
	}
}
