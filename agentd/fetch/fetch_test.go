package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/mesos"
)

// entry is one member of a test archive.
type entry struct {
	name string
	body string
	link string      // target of a symlink or hard link
	kind byte        // tar type flag; 0 means a regular file
	mode fs.FileMode // 0 means 0644 (0755 for directories)
}

func tarBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.kind, Linkname: e.link, Mode: int64(e.mode), Size: int64(len(e.body))}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing tar header %q: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("writing tar entry %q: %v", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipBytes builds a zip; an entry with kind tar.TypeSymlink becomes a zip
// symlink, one whose name ends in "/" a directory.
func zipBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		body := e.body
		if e.kind == tar.TypeSymlink {
			mode, body = fs.ModeSymlink|0o777, e.link
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatalf("writing zip header %q: %v", e.name, err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatalf("writing zip entry %q: %v", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serve serves files by path on loopback; other paths get 404.
func serve(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// uris returns CommandURIs for values, with "{srv}" replaced by base.
func uris(base string, in ...mesos.CommandURI) []mesos.CommandURI {
	out := make([]mesos.CommandURI, len(in))
	for i, u := range in {
		u.Value = strings.ReplaceAll(u.Value, "{srv}", base)
		out[i] = u
	}
	return out
}

// newSandbox returns an empty sandbox inside an otherwise empty directory,
// so that tests can tell whether anything landed beside it.
func newSandbox(t *testing.T) (sandbox, parent string) {
	t.Helper()
	parent = t.TempDir()
	sandbox = filepath.Join(parent, "sandbox")
	if err := os.Mkdir(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	return sandbox, parent
}

// checkNothingBeside fails the test if parent holds more than the sandbox.
func checkNothingBeside(t *testing.T, parent string) {
	t.Helper()
	des, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() != "sandbox" {
			t.Errorf("%s was written beside the sandbox", de.Name())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"default", DefaultConfig(), ""},
		{"zero timeout", Config{MaxBytes: 1}, "invalid Timeout 0s, must be positive"},
		{"negative max bytes", Config{Timeout: time.Second, MaxBytes: -1}, "invalid MaxBytes -1, must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFetchErrors(t *testing.T) {
	srv := serve(t, map[string][]byte{
		"/ok.txt":     []byte("ok"),
		"/broken.tgz": append(append([]byte{}, gzipMagic...), "not really gzip"...),
	})
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	tests := []struct {
		name string
		uris []mesos.CommandURI
		want []string // substrings of the error
	}{
		{
			name: "404",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/missing.tgz", Extract: true}),
			want: []string{`artifact "` + srv.URL + `/missing.tgz"`, "HTTP status 404 Not Found"},
		},
		{
			name: "500",
			uris: []mesos.CommandURI{{Value: failing.URL + "/app.tgz"}},
			want: []string{failing.URL + "/app.tgz", "HTTP status 500 Internal Server Error"},
		},
		{
			name: "second URI fails",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/ok.txt"}, mesos.CommandURI{Value: "{srv}/nope.txt"}),
			want: []string{srv.URL + "/nope.txt", "404"},
		},
		{
			name: "unsupported scheme",
			uris: []mesos.CommandURI{{Value: "ftp://example.com/app.tgz"}},
			want: []string{`artifact "ftp://example.com/app.tgz"`, `unsupported scheme "ftp", want http, https or file`},
		},
		{
			name: "relative path",
			uris: []mesos.CommandURI{{Value: "bin/app"}},
			want: []string{`artifact "bin/app"`, "not a URI or an absolute path"},
		},
		{
			name: "no file name",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/dir/"}),
			want: []string{srv.URL + "/dir/", `no file name in path "/dir/"`},
		},
		{
			name: "connection refused",
			uris: []mesos.CommandURI{{Value: "http://127.0.0.1:1/app.tgz"}},
			want: []string{"http://127.0.0.1:1/app.tgz", "requesting", "connection refused"},
		},
		{
			name: "password redacted",
			uris: []mesos.CommandURI{{Value: strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/missing"}},
			want: []string{"user:xxxxx@", "404"},
		},
		{
			name: "file URI on another host",
			uris: []mesos.CommandURI{{Value: "file://other/etc/hosts"}},
			want: []string{`artifact "file://other/etc/hosts"`, `file URI names host "other"`},
		},
		{
			name: "missing local file",
			uris: []mesos.CommandURI{{Value: "/nonexistent/app.tgz"}},
			want: []string{`artifact "/nonexistent/app.tgz"`, "opening local file", "no such file"},
		},
		{
			name: "local directory",
			uris: []mesos.CommandURI{{Value: "/etc/"}},
			want: []string{`artifact "/etc/"`, "no file name"},
		},
		{
			name: "corrupt archive",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/broken.tgz", Extract: true}),
			want: []string{srv.URL + "/broken.tgz", "extracting broken.tgz: reading gzip"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox, _ := newSandbox(t)
			err := Fetch(t.Context(), DefaultConfig(), tt.uris, sandbox)
			if err == nil {
				t.Fatalf("Fetch(%v) = nil, want an error containing %q", tt.uris, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Fetch(%v) = %q, want it to contain %q", tt.uris, err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Fetch(%v) = %q, which shows the password", tt.uris, err)
			}
		})
	}
}

func TestFetchInvalidConfig(t *testing.T) {
	sandbox, _ := newSandbox(t)
	err := Fetch(t.Context(), Config{}, []mesos.CommandURI{{Value: "/etc/hostname"}}, sandbox)
	if want := "invalid fetch config: invalid Timeout 0s, must be positive"; errString(err) != want {
		t.Errorf("Fetch(Config{}) = %v, want %q", err, want)
	}
}

func TestFetchLocal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.tgz"), gzipBytes(t, tarBytes(t, entry{name: "app/run", body: "run"})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.txt"), []byte("conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	sandbox, _ := newSandbox(t)
	err := Fetch(t.Context(), DefaultConfig(), []mesos.CommandURI{
		{Value: filepath.Join(dir, "tool"), Executable: true},
		{Value: "file://" + filepath.Join(dir, "app.tgz"), Extract: true},
		{Value: "file://localhost" + filepath.Join(dir, "conf.txt")},
	}, sandbox)
	if err != nil {
		t.Fatalf("Fetch = %v", err)
	}
	checkTree(t, sandbox, map[string]string{
		"tool":     "#!/bin/sh\n",
		"app.tgz":  "",
		"app/run":  "run",
		"conf.txt": "conf",
	})
	checkMode(t, sandbox, "tool", 0o755)
}

// checkTree checks the files of sandbox: want maps a path to its content,
// "-> target" for a symlink, "" for anything (a directory, an archive).
func checkTree(t *testing.T, sandbox string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		p := filepath.Join(sandbox, name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got string
		switch {
		case w == "":
			continue
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			got = "-> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got = string(b)
		}
		if got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

func checkMode(t *testing.T, sandbox, name string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(sandbox, name))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %v, want %v", name, got, want)
	}
}

func TestFetchSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big.bin": // Content-Length known up front
			w.Header().Set("Content-Length", "102400")
			w.Write(big)
		case "/chunked.bin": // size learnt only by reading
			for i := 0; i < 100; i++ {
				w.Write(big[:1<<10])
				w.(http.Flusher).Flush()
			}
		case "/half.bin":
			w.Write(big[:40<<10])
		case "/bomb.gz":
			w.Write(gzipBytes(t, make([]byte, 1<<20)))
		case "/bomb.tgz":
			w.Write(gzipBytes(t, tarBytes(t, entry{name: "zeros", body: string(make([]byte, 1<<20))})))
		}
	}))
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.MaxBytes = 64 << 10
	tests := []struct {
		name   string
		uris   []mesos.CommandURI
		absent string // what must not be left behind
	}{
		{"content length", uris(srv.URL, mesos.CommandURI{Value: "{srv}/big.bin"}), "big.bin"},
		{"chunked", uris(srv.URL, mesos.CommandURI{Value: "{srv}/chunked.bin"}), "chunked.bin"},
		{"all URIs together", uris(srv.URL, mesos.CommandURI{Value: "{srv}/half.bin"}, mesos.CommandURI{Value: "{srv}/chunked.bin"}), "chunked.bin"},
		{"gzip bomb", uris(srv.URL, mesos.CommandURI{Value: "{srv}/bomb.gz", Extract: true}), ""},
		{"tar bomb", uris(srv.URL, mesos.CommandURI{Value: "{srv}/bomb.tgz", Extract: true}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox, _ := newSandbox(t)
			err := Fetch(t.Context(), cfg, tt.uris, sandbox)
			want := "artifacts exceed the fetch limit of 65536 bytes"
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("Fetch(%v) = %v, want an error naming the URI and containing %q", tt.uris, err, want)
			}
			if tt.absent != "" {
				if _, err := os.Lstat(filepath.Join(sandbox, tt.absent)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("partial %s left in the sandbox (Lstat: %v)", tt.absent, err)
				}
			}
		})
	}
}

// stallingServer answers every request with headers and then nothing until
// the client goes away; started receives a value per request.
func stallingServer(t *testing.T) (srv *httptest.Server, started chan struct{}) {
	t.Helper()
	started = make(chan struct{}, 1)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("some"))
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, started
}

func TestFetchCancel(t *testing.T) {
	srv, started := stallingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-started
		cancel()
	}()
	sandbox, _ := newSandbox(t)
	uri := srv.URL + "/slow.tgz"
	err := Fetch(ctx, DefaultConfig(), []mesos.CommandURI{{Value: uri, Extract: true}}, sandbox)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), uri) {
		t.Fatalf("Fetch after cancel = %v, want context.Canceled naming %s", err, uri)
	}
	if _, err := os.Lstat(filepath.Join(sandbox, "slow.tgz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial download left in the sandbox (Lstat: %v)", err)
	}
}

func TestFetchTimeout(t *testing.T) {
	srv, _ := stallingServer(t)
	cfg := DefaultConfig()
	cfg.Timeout = 100 * time.Millisecond
	sandbox, _ := newSandbox(t)
	uri := srv.URL + "/slow.bin"
	err := Fetch(t.Context(), cfg, []mesos.CommandURI{{Value: uri}}, sandbox)
	want := `artifact "` + uri + `": timed out after 100ms`
	if errString(err) != want {
		t.Fatalf("Fetch from a stalled server = %v, want %q", err, want)
	}
}
