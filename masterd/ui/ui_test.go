package ui_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"corral/masterd/ui"
)

// TestHandler: the page at /, its assets under /ui/ with their types and
// ETags (a revalidation gets 304), nothing else.
func TestHandler(t *testing.T) {
	h := ui.New()
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/", http.StatusOK, "text/html; charset=utf-8", `<script type="module" src="/ui/js/main.js">`},
		{"/ui/js/main.js", http.StatusOK, "text/javascript; charset=utf-8", "render("},
		{"/ui/app.css", http.StatusOK, "text/css; charset=utf-8", ":root"},
		{"/ui/vendor/preact.module.js", http.StatusOK, "text/javascript; charset=utf-8", ""},
		{"/ui/vendor/LICENSE-htm", http.StatusOK, "text/plain; charset=utf-8", "Apache License"},
		{"/ui/missing.js", http.StatusNotFound, "", ""},
		{"/ui/../ui.go", http.StatusNotFound, "", ""},
		{"/ui/", http.StatusNotFound, "", ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("GET %s = %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if tc.status != http.StatusOK {
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.body)
		}
		etag := rec.Header().Get("ETag")
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if etag == "" || rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", tc.path, etag, rec.Code)
		}
	}
}

// TestPageCSP: the page's policy allows its import map by hash and no
// other inline script.
func TestPageCSP(t *testing.T) {
	rec := httptest.NewRecorder()
	ui.New().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	m := regexp.MustCompile(`<script type="importmap">(.*?)</script>`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("the page has no import map")
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"
	if !strings.Contains(csp, want) || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q, want %q", csp, want)
	}
}

// TestRedirect: the Mesos port's / sends a browser to the UI on the
// Marathon port of the host it asked for.
func TestRedirect(t *testing.T) {
	for _, tc := range []struct {
		host string
		tls  bool
		want string
	}{
		{"master1:5050", false, "http://master1:8080/"},
		{"10.0.0.1:5050", true, "https://10.0.0.1:8080/"},
		{"[::1]:5050", false, "http://[::1]:8080/"},
		{"master1", false, "http://master1:8080/"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		ui.Redirect(8080, tc.tls).ServeHTTP(rec, req)
		if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != tc.want {
			t.Errorf("GET / of %s (tls %v) = %d %q, want 307 %q", tc.host, tc.tls, rec.Code, rec.Header().Get("Location"), tc.want)
		}
	}
}
