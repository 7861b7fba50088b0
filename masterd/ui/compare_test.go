package ui_test

import (
	"flag"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// beforeDir, when set, makes BenchmarkAppsPageTasksChanging measure two
// versions of the page in the same run, one restart each in turn: the
// static files in this directory (for example those of main:
// git archive main masterd/ui/static | tar -x -C /tmp/before) and those of
// this tree. Each is served by a proxy in front of the same masterd, so
// both pay the same for the proxy.
var beforeDir = flag.String("ui.before", "", "also measure the page of this static directory (the old masterd/ui/static), in turn with this tree's")

// pageVersion is a version of the page's static files to measure.
type pageVersion struct {
	name string // prefix of its metrics: "" for this tree's
	url  string // where the apps page opens
}

// pageVersions returns the versions to measure: masterd's own page, or
// with -ui.before the old and this tree's static files behind proxies.
func pageVersions(t testing.TB, marathonURL string) []pageVersion {
	if *beforeDir == "" {
		return []pageVersion{{url: marathonURL + "/"}}
	}
	return []pageVersion{
		{name: "before-", url: assetProxy(t, marathonURL, *beforeDir)},
		{name: "", url: assetProxy(t, marathonURL, "static")},
	}
}

// assetProxy serves the page (/) and its assets (/ui/…) from dir and
// passes every other request (the API, the event stream) to target, until
// the test ends; it returns the page's URL.
func assetProxy(t testing.TB, target, dir string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	api := httputil.NewSingleHostReverseProxy(u) // flushes event streams as they come
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		switch {
		case r.URL.Path == "/":
			name = "index.html"
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			name = filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/ui/"))
		default:
			api.ServeHTTP(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.Clean("/"+name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if ct := mime.TypeByExtension(filepath.Ext(name)); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections() // the browser's event stream, if it is still open
		srv.Close()
	})
	return srv.URL + "/"
}
