package files_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"corral/agentd/files"
)

// sandboxes lays out sandboxes as agentd does, <base>/<task>/sandbox,
// and returns the base and a locator for real paths inside them.
func sandboxes(t *testing.T) (string, files.Locator) {
	base := filepath.Join(t.TempDir(), "tasks")
	locate := func(p string) (files.Location, bool) {
		rest, ok := strings.CutPrefix(p, base+"/")
		if !ok {
			return files.Location{}, false
		}
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 2 || parts[1] != "sandbox" || parts[0] == "." || parts[0] == ".." {
			return files.Location{}, false
		}
		loc := files.Location{Base: base, Sandbox: parts[0] + "/sandbox"}
		if len(parts) == 3 {
			loc.Rest = parts[2]
		}
		return loc, true
	}
	return base, locate
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, endpoint string, q url.Values) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, endpoint+"?"+q.Encode(), nil))
	return w
}

type page struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

// TestConfinement asks for paths in, around and out of a sandbox, through
// every endpoint: only what lies inside a sandbox is served.
func TestConfinement(t *testing.T) {
	base, locate := sandboxes(t)
	sb := filepath.Join(base, "fw_web.1", "sandbox")
	write(t, filepath.Join(sb, "stdout"), "hello\n")
	write(t, filepath.Join(sb, "d", "f"), "in d\n")
	write(t, filepath.Join(base, "fw_web.1", "task.json"), `{"secret":true}`)
	symlink(t, "/etc/passwd", filepath.Join(sb, "passwd"))
	symlink(t, "../task.json", filepath.Join(sb, "up"))
	symlink(t, "/nonexistent", filepath.Join(sb, "dangling"))
	symlink(t, "/etc", filepath.Join(sb, "etc"))
	symlink(t, "stdout", filepath.Join(sb, "alias"))
	symlink(t, "../stdout", filepath.Join(sb, "d", "alias"))
	symlink(t, filepath.Join(sb, "stdout"), filepath.Join(sb, "absolute"))
	// A task whose sandbox was removed, and one whose sandbox became a
	// symlink to the host's /etc.
	gone := filepath.Join(base, "fw_gone.1", "sandbox")
	write(t, filepath.Join(gone, "stdout"), "bye\n")
	if err := os.RemoveAll(filepath.Dir(gone)); err != nil {
		t.Fatal(err)
	}
	swapped := filepath.Join(base, "fw_swapped.1", "sandbox")
	os.MkdirAll(filepath.Dir(swapped), 0o755)
	symlink(t, "/etc", swapped)

	h := files.New(locate)
	tests := []struct {
		name   string
		path   string
		status int
		data   string // of a 200 read
	}{
		{"a file in the sandbox", sb + "/stdout", 200, "hello\n"},
		{"a file in a subdirectory", sb + "/d/f", 200, "in d\n"},
		{"dot-dot that stays inside", sb + "/d/../stdout", 200, "hello\n"},
		{"doubled slash", sb + "//stdout", 200, "hello\n"},
		{"symlink inside the sandbox", sb + "/alias", 200, "hello\n"},
		{"relative symlink up to a sibling inside", sb + "/d/alias", 200, "hello\n"},
		{"dot-dot out of the sandbox", sb + "/../task.json", 403, ""},
		{"dot-dot out from a subdirectory", sb + "/d/../../task.json", 403, ""},
		{"dot-dot far out", sb + "/../../../../../etc/passwd", 403, ""},
		{"symlink to an absolute host path", sb + "/passwd", 403, ""},
		{"symlink up out of the sandbox", sb + "/up", 403, ""},
		{"dangling symlink out", sb + "/dangling", 403, ""},
		{"through a symlinked directory out", sb + "/etc/passwd", 403, ""},
		{"absolute symlink back into the sandbox", sb + "/absolute", 403, ""},
		{"a sandbox swapped for a symlink", swapped + "/passwd", 403, ""},
		{"an absolute path outside every sandbox", "/etc/passwd", 404, ""},
		{"the task directory beside the sandbox", filepath.Join(base, "fw_web.1", "task.json"), 404, ""},
		{"dot-dot before the sandbox", base + "/../tasks/fw_web.1/sandbox/stdout", 404, ""},
		{"a relative path", "fw_web.1/sandbox/stdout", 404, ""},
		{"a file that does not exist", sb + "/nope", 404, ""},
		{"a path through a file", sb + "/stdout/x", 404, ""},
		{"a task that is gone", gone + "/stdout", 404, ""},
		{"a directory", sb + "/d", 400, ""},
		{"no path", "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ep := range []string{"/files/read", "/files/download", "/files/browse"} {
				status := tt.status
				if ep == "/files/browse" && status == 400 && tt.path != "" {
					status = 200 // a directory is what browse lists
				}
				w := get(t, h, ep, url.Values{"path": {tt.path}, "offset": {"0"}})
				if w.Code != status {
					t.Fatalf("GET %s?path=%s = %d %q, want %d", ep, tt.path, w.Code, w.Body, status)
				}
				if status != 200 {
					if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "root:") {
						t.Fatalf("GET %s?path=%s disclosed %q", ep, tt.path, w.Body)
					}
					continue
				}
				switch ep {
				case "/files/read":
					var p page
					if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Data != tt.data || p.Offset != 0 {
						t.Fatalf("read %s = %s, want data %q at offset 0", tt.path, w.Body, tt.data)
					}
				case "/files/download":
					if w.Body.String() != tt.data {
						t.Fatalf("download %s = %q, want %q", tt.path, w.Body, tt.data)
					}
				}
			}
		})
	}
}

// TestBrowse lists a sandbox as Mesos does; a symlink leading out is
// listed as a link, without its target's size.
func TestBrowse(t *testing.T) {
	base, locate := sandboxes(t)
	sb := filepath.Join(base, "fw_t", "sandbox")
	write(t, filepath.Join(sb, "stdout"), "hello\n")
	write(t, filepath.Join(sb, "d", "f"), "x")
	os.Chmod(filepath.Join(sb, "d"), 0o750)
	symlink(t, "/etc/passwd", filepath.Join(sb, "passwd"))
	w := get(t, files.New(locate), "/files/browse", url.Values{"path": {sb + "/"}})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("browse = %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var list []files.FileInfo
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path, mode string
		size       int64
	}{
		{sb + "/d", "drwxr-x---", -1},
		{sb + "/passwd", "lrwxrwxrwx", int64(len("/etc/passwd"))},
		{sb + "/stdout", "-rw-r--r--", 6},
	}
	if len(list) != len(want) {
		t.Fatalf("browse listed %+v, want %d entries", list, len(want))
	}
	for i, e := range want {
		got := list[i]
		if got.Path != e.path || got.Mode != e.mode || (e.size >= 0 && got.Size != e.size) {
			t.Errorf("entry %d = %+v, want path %s mode %s size %d", i, got, e.path, e.mode, e.size)
		}
		if got.UID == "" || got.GID == "" || got.Nlink == 0 || got.Mtime == 0 {
			t.Errorf("entry %d = %+v, want owner, group, links and mtime", i, got)
		}
	}
	// Browsing a file lists nothing, as in Mesos.
	if w := get(t, files.New(locate), "/files/browse", url.Values{"path": {sb + "/stdout"}}); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("browse of a file = %d %q, want 200 []", w.Code, w.Body)
	}
}

// TestRead covers offsets and lengths as the Mesos web UI's pailer and
// Mesos's /files/read use them.
func TestRead(t *testing.T) {
	base, locate := sandboxes(t)
	sb := filepath.Join(base, "fw_t", "sandbox")
	write(t, filepath.Join(sb, "stdout"), "0123456789")
	h := files.New(locate)
	tests := []struct {
		offset, length string
		status         int
		want           page
	}{
		{"", "", 200, page{"", 10}},   // no offset: the size, for tailing
		{"-1", "", 200, page{"", 10}}, // the pailer's first request
		{"-1", "-1", 200, page{"", 10}},
		{"0", "", 200, page{"0123456789", 0}},
		{"0", "-1", 200, page{"0123456789", 0}},
		{"3", "", 200, page{"3456789", 3}},
		{"3", "4", 200, page{"3456", 3}},
		{"8", "100", 200, page{"89", 8}},
		{"0", "0", 200, page{"", 0}},
		{"10", "", 200, page{"", 10}}, // at the end: nothing yet
		{"25", "", 200, page{"", 25}}, // past it (the file was rotated): as Mesos
		{"-2", "", 400, page{}},
		{"x", "", 400, page{}},
		{"1.5", "", 400, page{}},
		{"0", "-2", 400, page{}},
		{"0", "ten", 400, page{}},
	}
	for _, tt := range tests {
		q := url.Values{"path": {sb + "/stdout"}}
		if tt.offset != "" {
			q.Set("offset", tt.offset)
		}
		if tt.length != "" {
			q.Set("length", tt.length)
		}
		w := get(t, h, "/files/read", q)
		if w.Code != tt.status {
			t.Errorf("read offset=%q length=%q = %d %q, want %d", tt.offset, tt.length, w.Code, w.Body, tt.status)
			continue
		}
		if tt.status != 200 {
			if !strings.Contains(w.Body.String(), "offset") && !strings.Contains(w.Body.String(), "length") {
				t.Errorf("read offset=%q length=%q: error %q does not name the parameter", tt.offset, tt.length, w.Body)
			}
			continue
		}
		var got page
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got != tt.want {
			t.Errorf("read offset=%q length=%q = %s, want %+v", tt.offset, tt.length, w.Body, tt.want)
		}
	}
}

// TestLargeFile tails a file larger than a page through /files/read, as
// a log viewer does, and downloads it whole: pages are capped at
// MaxReadLength, no multi-byte character is split between two pages, and
// the pages put together are the file.
func TestLargeFile(t *testing.T) {
	base, locate := sandboxes(t)
	sb := filepath.Join(base, "fw_t", "sandbox")
	var content bytes.Buffer
	for i := 0; content.Len() < 4*int(files.MaxReadLength)+1000; i++ {
		content.WriteString("line ")
		content.WriteString(strings.Repeat("é€😀", i%7)) // 2-, 3- and 4-byte characters
		content.WriteString("\n")
	}
	write(t, filepath.Join(sb, "stdout"), content.String())
	h := httptest.NewServer(files.New(locate))
	defer h.Close()

	var got bytes.Buffer
	offset, pages := int64(0), 0
	for {
		resp, err := http.Get(h.URL + "/files/read?" + url.Values{"path": {sb + "/stdout"}, "offset": {strconv.FormatInt(offset, 10)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var p page
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || p.Offset != offset {
			t.Fatalf("read at %d = %+v, %v", offset, p, err)
		}
		if int64(len(p.Data)) > files.MaxReadLength {
			t.Fatalf("read at %d returned %d bytes, over the cap of %d", offset, len(p.Data), files.MaxReadLength)
		}
		if p.Data == "" {
			break
		}
		got.WriteString(p.Data)
		offset += int64(len(p.Data))
		pages++
	}
	if !bytes.Equal(got.Bytes(), content.Bytes()) {
		t.Fatalf("tailing read %d bytes in %d pages that differ from the %d-byte file", got.Len(), pages, content.Len())
	}
	if pages < 5 {
		t.Fatalf("read %d bytes in %d pages, want pages of at most %d", got.Len(), pages, files.MaxReadLength)
	}

	resp, err := http.Get(h.URL + "/files/download?" + url.Values{"path": {sb + "/stdout"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, content.Bytes()) {
		t.Fatalf("download = %d, %d bytes, want the %d-byte file", resp.StatusCode, len(body), content.Len())
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=stdout" {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if resp.ContentLength != int64(content.Len()) {
		t.Errorf("Content-Length = %d, want %d", resp.ContentLength, content.Len())
	}
}

// BenchmarkReadPage measures one full /files/read page of a log, the
// request a log viewer repeats while tailing.
func BenchmarkReadPage(b *testing.B) {
	base := filepath.Join(b.TempDir(), "tasks")
	sb := filepath.Join(base, "fw_t", "sandbox")
	os.MkdirAll(sb, 0o755)
	os.WriteFile(filepath.Join(sb, "stdout"), bytes.Repeat([]byte("a log line of some length\n"), 100_000), 0o644)
	h := files.New(func(string) (files.Location, bool) {
		return files.Location{Base: base, Sandbox: "fw_t/sandbox", Rest: "stdout"}, true
	})
	target := "/files/read?" + url.Values{"path": {sb + "/stdout"}, "offset": {"1000"}}.Encode()
	b.SetBytes(files.MaxReadLength)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	}
}
