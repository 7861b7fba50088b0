// Package ui is masterd's web UI: plain JavaScript modules (Preact and htm,
// vendored under static/vendor) embedded in the binary and served at / of
// the Marathon port, where Marathon's UI lives. The pages read the
// Marathon v2 API, /master/state and the agents' sandboxes through
// masterd's /agent/<id>/files proxy, all on the same origin, and follow
// /v2/events for live changes, so basic auth and TLS apply to them as to
// the API.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// file is one embedded asset, read once.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the UI: the page at / and its assets under /ui/.
type Handler struct {
	files map[string]file // by path below static/
	csp   string
}

// New returns the UI's handler.
func New() *Handler {
	h := &Handler{files: map[string]file{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
		h.files[strings.TrimPrefix(p, "static/")] = file{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("ui: reading the embedded assets: " + err.Error()) // the build embeds them
	}
	h.csp = "default-src 'self'; script-src 'self' " + inlineScriptHashes(h.files["index.html"].body) +
		"; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
	return h
}

// inlineScriptHashes lists the CSP hashes of the page's inline scripts
// (its import map): the page runs those and the served modules, nothing
// else.
func inlineScriptHashes(page []byte) string {
	var hashes []string
	for rest := page; ; {
		i := bytes.Index(rest, []byte("<script type=\"importmap\">"))
		if i < 0 {
			break
		}
		rest = rest[i+len("<script type=\"importmap\">"):]
		j := bytes.Index(rest, []byte("</script>"))
		if j < 0 {
			break
		}
		sum := sha256.Sum256(rest[:j])
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		rest = rest[j:]
	}
	return strings.Join(hashes, " ")
}

// ServeHTTP answers GET / with the page and GET /ui/<asset> with an asset;
// assets revalidate by ETag, so a new masterd's UI applies at once.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := "index.html"
	if r.URL.Path != "/" {
		name = strings.TrimPrefix(r.URL.Path, "/ui/")
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if name == "index.html" {
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("Referrer-Policy", "same-origin")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}

// Redirect sends a browser from the Mesos port's / to the UI on the
// Marathon port of the same host.
func Redirect(marathonPort int, tls bool) http.Handler {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		http.Redirect(w, r, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(marathonPort))+"/", http.StatusTemporaryRedirect)
	})
}
