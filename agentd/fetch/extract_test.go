package fetch

import (
	"archive/tar"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/mesos"
)

// appTarBz2 is app/hello.txt ("hello bz2\n") as made by tar cjf: the
// standard library reads bzip2 but cannot write it.
const appTarBz2 = `QlpoOTFBWSZTWSInajgAAIj7gMqQAQBAAf+ACARyRN5QBAggAHUMqYnqDQAbSBoAkpAGmhoAAGkO
2vdUSpANnSQiyZ7Gg6RhSTCEMAjipOhg5HQcgJMFQEaOGVbfYT4KHzYxeiMIX6IqkG7SPAyOw+IQ
PfiuDxIPxdyRThQkCInajgA=`

func TestFetch(t *testing.T) {
	bz2, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(appTarBz2, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	app := tarBytes(t,
		entry{name: "app/", kind: tar.TypeDir},
		entry{name: "app/bin/run", body: "#!/bin/sh\necho hi\n", mode: 0o755},
		entry{name: "app/secret", body: "s", mode: 0o4600}, // set-uid dropped
		entry{name: "app/current", kind: tar.TypeSymlink, link: "bin/run"},
		entry{name: "app/up", kind: tar.TypeSymlink, link: "../app/bin"},
		entry{name: "app/run2", kind: tar.TypeLink, link: "app/bin/run"},
		entry{name: "./conf/app.conf", body: "port=1"},
	)
	appTree := map[string]string{
		"app/bin/run":   "#!/bin/sh\necho hi\n",
		"app/secret":    "s",
		"app/current":   "-> bin/run",
		"app/up":        "-> ../app/bin",
		"app/run2":      "#!/bin/sh\necho hi\n",
		"conf/app.conf": "port=1",
	}
	appZip := zipBytes(t,
		entry{name: "app/", mode: fs.ModeDir | 0o755},
		entry{name: "app/bin/run", body: "#!/bin/sh\necho hi\n", mode: 0o755},
		entry{name: "app/current", kind: tar.TypeSymlink, link: "bin/run"},
		entry{name: `conf\app.conf`, body: "port=1"},
	)
	srv := serve(t, map[string][]byte{
		"/hello.txt":     []byte("hello"),
		"/run.sh":        []byte("#!/bin/sh\n"),
		"/app.tar":       app,
		"/app.tgz":       gzipBytes(t, app),
		"/app.tar.gz":    gzipBytes(t, app),
		"/gzipped.tar":   gzipBytes(t, app), // tar -xf looks at the contents
		"/app.tar.bz2":   bz2,
		"/app.zip":       appZip,
		"/notes.txt.gz":  gzipBytes(t, []byte("notes")),
		"/data.bin":      []byte("raw"),
		"/over/data.bin": []byte("second"),
	})
	tests := []struct {
		name  string
		uris  []mesos.CommandURI
		want  map[string]string      // see checkTree
		modes map[string]fs.FileMode // permission bits
		gone  []string               // must not exist
	}{
		{
			name:  "plain file",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/hello.txt?token=1", Extract: true}),
			want:  map[string]string{"hello.txt": "hello"},
			modes: map[string]fs.FileMode{"hello.txt": 0o644},
		},
		{
			name:  "executable",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/run.sh", Executable: true}),
			want:  map[string]string{"run.sh": "#!/bin/sh\n"},
			modes: map[string]fs.FileMode{"run.sh": 0o755},
		},
		{
			name:  "executable archive is not extracted",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tgz", Executable: true, Extract: true}),
			want:  map[string]string{"app.tgz": string(gzipBytes(t, app))},
			modes: map[string]fs.FileMode{"app.tgz": 0o755},
			gone:  []string{"app"},
		},
		{
			name: "extract false",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tgz"}),
			want: map[string]string{"app.tgz": ""},
			gone: []string{"app"},
		},
		{
			name:  "tar",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tar", Extract: true}),
			want:  merge(appTree, map[string]string{"app.tar": string(app)}),
			modes: map[string]fs.FileMode{"app/bin/run": 0o755, "app/secret": 0o600, "app": 0o755},
		},
		{
			name:  "tgz",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tgz", Extract: true}),
			want:  merge(appTree, map[string]string{"app.tgz": ""}),
			modes: map[string]fs.FileMode{"app/bin/run": 0o755},
		},
		{
			name: "tar.gz",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tar.gz", Extract: true}),
			want: appTree,
		},
		{
			name: "gzip-compressed .tar",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/gzipped.tar", Extract: true}),
			want: appTree,
		},
		{
			name: "tar.bz2",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.tar.bz2", Extract: true}),
			want: map[string]string{"app/hello.txt": "hello bz2\n", "app.tar.bz2": ""},
		},
		{
			name: "zip",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/app.zip", Extract: true}),
			want: map[string]string{
				"app.zip":       "",
				"app/bin/run":   "#!/bin/sh\necho hi\n",
				"app/current":   "-> bin/run",
				"conf/app.conf": "port=1",
			},
			modes: map[string]fs.FileMode{"app/bin/run": 0o755},
		},
		{
			name:  "gz",
			uris:  uris(srv.URL, mesos.CommandURI{Value: "{srv}/notes.txt.gz", Extract: true}),
			want:  map[string]string{"notes.txt": "notes", "notes.txt.gz": ""},
			modes: map[string]fs.FileMode{"notes.txt": 0o644},
		},
		{
			name: "same name twice, last wins",
			uris: uris(srv.URL, mesos.CommandURI{Value: "{srv}/data.bin"}, mesos.CommandURI{Value: "{srv}/over/data.bin"}),
			want: map[string]string{"data.bin": "second"},
		},
		{
			name: "several",
			uris: uris(srv.URL,
				mesos.CommandURI{Value: "{srv}/app.zip", Extract: true},
				mesos.CommandURI{Value: "{srv}/run.sh", Executable: true},
				mesos.CommandURI{Value: "{srv}/data.bin", Extract: true},
			),
			want:  map[string]string{"app/bin/run": "#!/bin/sh\necho hi\n", "run.sh": "#!/bin/sh\n", "data.bin": "raw"},
			modes: map[string]fs.FileMode{"run.sh": 0o755},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox, parent := newSandbox(t)
			if err := Fetch(t.Context(), DefaultConfig(), tt.uris, sandbox); err != nil {
				t.Fatalf("Fetch(%v) = %v", tt.uris, err)
			}
			checkTree(t, sandbox, tt.want)
			for name, mode := range tt.modes {
				checkMode(t, sandbox, name, mode)
			}
			for _, name := range tt.gone {
				if _, err := os.Lstat(filepath.Join(sandbox, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists (Lstat: %v), want it absent", name, err)
				}
			}
			checkNothingBeside(t, parent)
		})
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestFetchUnsafeArchives(t *testing.T) {
	tests := []struct {
		name    string
		file    string // name served
		archive func(t *testing.T) []byte
		want    string   // substring of the error
		gone    []string // must not exist in the sandbox afterwards
	}{
		{
			name:    "tar parent traversal",
			file:    "evil.tar",
			archive: func(t *testing.T) []byte { return tarBytes(t, entry{name: "../evil.txt", body: "x"}) },
			want:    `entry "../evil.txt": path escapes the sandbox`,
		},
		{
			name: "tgz traversal after a good entry",
			file: "evil.tgz",
			archive: func(t *testing.T) []byte {
				return gzipBytes(t, tarBytes(t, entry{name: "ok"}, entry{name: "a/../../evil.txt", body: "x"}))
			},
			want: `entry "a/../../evil.txt": path escapes the sandbox`,
		},
		{
			name:    "tar absolute path",
			file:    "evil.tar",
			archive: func(t *testing.T) []byte { return tarBytes(t, entry{name: "/tmp/corral-fetch-evil", body: "x"}) },
			want:    `entry "/tmp/corral-fetch-evil": path escapes the sandbox`,
		},
		{
			name: "tar absolute symlink",
			file: "evil.tar",
			archive: func(t *testing.T) []byte {
				return tarBytes(t, entry{name: "etc", kind: tar.TypeSymlink, link: "/etc"}, entry{name: "etc/evil", body: "x"})
			},
			want: `entry "etc": symlink to "/etc" points outside the sandbox`,
			gone: []string{"etc"},
		},
		{
			name: "tar relative symlink out",
			file: "evil.tar",
			archive: func(t *testing.T) []byte {
				return tarBytes(t, entry{name: "a/up", kind: tar.TypeSymlink, link: "../../.."})
			},
			want: `entry "a/up": symlink to "../../.." points outside the sandbox`,
			gone: []string{"a/up"},
		},
		{
			name: "tar symlink chain through a parent link",
			file: "evil.tar",
			archive: func(t *testing.T) []byte {
				return tarBytes(t,
					entry{name: "a", kind: tar.TypeSymlink, link: "."},
					entry{name: "a/b", kind: tar.TypeSymlink, link: ".."}, // lands as b → ..
				)
			},
			want: `symlink "b" resolves to a path outside the sandbox`,
			gone: []string{"b"},
		},
		{
			name: "tar symlink chain through its target",
			file: "evil.tar",
			archive: func(t *testing.T) []byte {
				return tarBytes(t,
					entry{name: "d/here", kind: tar.TypeSymlink, link: ".."},
					entry{name: "d/out", kind: tar.TypeSymlink, link: "here/.."}, // lexically d, really the parent
				)
			},
			want: `symlink "d/out" resolves to a path outside the sandbox`,
			gone: []string{"d/out"},
		},
		{
			name: "tar hard link out",
			file: "evil.tar",
			archive: func(t *testing.T) []byte {
				return tarBytes(t, entry{name: "passwd", kind: tar.TypeLink, link: "../../../etc/passwd"})
			},
			want: `entry "passwd": hard link to "../../../etc/passwd": path escapes the sandbox`,
		},
		{
			name:    "zip slip",
			file:    "evil.zip",
			archive: func(t *testing.T) []byte { return zipBytes(t, entry{name: "../evil.txt", body: "x"}) },
			want:    `entry "../evil.txt": path escapes the sandbox`,
		},
		{
			name:    "zip slip with backslashes",
			file:    "evil.zip",
			archive: func(t *testing.T) []byte { return zipBytes(t, entry{name: `..\evil.txt`, body: "x"}) },
			want:    `entry "..\\evil.txt": path escapes the sandbox`,
		},
		{
			name:    "zip absolute path",
			file:    "evil.zip",
			archive: func(t *testing.T) []byte { return zipBytes(t, entry{name: "/tmp/corral-fetch-evil", body: "x"}) },
			want:    `entry "/tmp/corral-fetch-evil": path escapes the sandbox`,
		},
		{
			name: "zip symlink out",
			file: "evil.zip",
			archive: func(t *testing.T) []byte {
				return zipBytes(t, entry{name: "pw", kind: tar.TypeSymlink, link: "/etc/passwd"})
			},
			want: `entry "pw": symlink to "/etc/passwd" points outside the sandbox`,
			gone: []string{"pw"},
		},
		{
			name:    "xz",
			file:    "app.tar.xz",
			archive: func(*testing.T) []byte { return append(append([]byte{}, xzMagic...), "rest"...) },
			want:    "extracting app.tar.xz: xz compression is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, map[string][]byte{"/" + tt.file: tt.archive(t)})
			sandbox, parent := newSandbox(t)
			uri := srv.URL + "/" + tt.file
			err := Fetch(t.Context(), DefaultConfig(), []mesos.CommandURI{{Value: uri, Extract: true}}, sandbox)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), uri) {
				t.Fatalf("Fetch(%s) = %v, want an error naming the URI and containing %q", uri, err, tt.want)
			}
			for _, name := range tt.gone {
				if _, err := os.Lstat(filepath.Join(sandbox, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists (Lstat: %v), want it removed", name, err)
				}
			}
			checkNothingBeside(t, parent)
			if _, err := os.Lstat("/tmp/corral-fetch-evil"); err == nil {
				t.Errorf("/tmp/corral-fetch-evil was written")
			}
		})
	}
}
