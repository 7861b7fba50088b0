// Package files serves task sandboxes over HTTP as the Mesos agent's
// /files endpoints do: /files/browse lists a directory, /files/read returns
// a page of a file as {"data","offset"} (offset=-1 gives the size, for
// tailing), /files/download streams a file. Only sandboxes are served:
// a Locator names the sandbox a path lies in, and everything inside it is
// opened through an os.Root, so neither "..", nor a symlink, nor a
// sandbox replaced by one leads out (403); what does not exist, a removed
// sandbox included, is 404.
package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Location is where a requested path leads.
type Location struct {
	// Base is a directory the agent owns; the sandbox is opened beneath it,
	// so a sandbox replaced by a symlink cannot lead out either.
	Base string
	// Sandbox is the sandbox directory, relative to Base.
	Sandbox string
	// Rest is the path inside the sandbox as the client wrote it, "" for
	// the sandbox itself.
	Rest string
}

// Locator maps a path as clients name it to a location in a sandbox;
// false when it names no sandbox.
type Locator func(path string) (Location, bool)

// MaxReadLength caps what one /files/read returns: 16 pages, as Mesos.
var MaxReadLength = int64(16 * os.Getpagesize())

// Handler serves /files/browse, /files/read and /files/download, with
// Mesos's older .json aliases.
type Handler struct {
	locate Locator
	mux    *http.ServeMux
}

// New returns the handler.
func New(locate Locator) *Handler {
	h := &Handler{locate: locate, mux: http.NewServeMux()}
	for _, ext := range []string{"", ".json"} {
		h.mux.HandleFunc("GET /files/browse"+ext, h.browse)
		h.mux.HandleFunc("GET /files/read"+ext, h.read)
		h.mux.HandleFunc("GET /files/download"+ext, h.download)
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// httpError is a failure with the status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func fail(status int, format string, args ...any) *httpError {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, err error) {
	he, ok := errors.AsType[*httpError](err)
	if !ok {
		he = fail(http.StatusInternalServerError, "%v", err)
	}
	http.Error(w, he.msg, he.status)
}

// target is an opened sandbox and the path asked for inside it.
type target struct {
	root *os.Root
	rel  string // local to root, "." for the sandbox itself
	name string // the path as the client named it
}

// open finds the sandbox the query's path lies in and checks the rest
// of the path stays inside it lexically; symlinks are checked as each
// operation resolves them through the root.
func (h *Handler) open(r *http.Request) (*target, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return nil, fail(http.StatusBadRequest, "missing query parameter path: give the absolute path of a file or directory in a sandbox")
	}
	loc, ok := h.locate(p)
	if !ok {
		return nil, fail(http.StatusNotFound, "%s is in no task sandbox on this agent", p)
	}
	rel := strings.TrimLeft(loc.Rest, "/")
	if rel == "" {
		rel = "."
	}
	if !filepath.IsLocal(rel) {
		return nil, fail(http.StatusForbidden, "%s leads out of its sandbox", p)
	}
	base, err := os.OpenRoot(loc.Base)
	if err != nil {
		return nil, classify(p, err)
	}
	defer base.Close()
	root, err := base.OpenRoot(loc.Sandbox)
	if err != nil {
		return nil, classify(p, err)
	}
	return &target{root: root, rel: rel, name: p}, nil
}

// classify turns a failure to resolve a path into 404 (missing), 403
// (leads out of the sandbox, or unreadable) or 500.
func classify(name string, err error) error {
	pe, _ := errors.AsType[*fs.PathError](err)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fail(http.StatusNotFound, "%s not found", name)
	case pe != nil && pe.Err.Error() == "path escapes from parent": // os.Root's refusal
		return fail(http.StatusForbidden, "%s leads out of its sandbox", name)
	case errors.Is(err, fs.ErrPermission):
		return fail(http.StatusForbidden, "%s cannot be read: %v", name, err)
	}
	return fail(http.StatusInternalServerError, "opening %s: %v", name, err)
}

// openFile opens the target for reading; a directory is 400 as in Mesos.
func (t *target) openFile(what string) (*os.File, fs.FileInfo, error) {
	f, err := t.root.Open(t.rel)
	if err != nil {
		return nil, nil, classify(t.name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fail(http.StatusInternalServerError, "reading %s: %v", t.name, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, nil, fail(http.StatusBadRequest, "cannot %s a directory: %s", what, t.name)
	}
	return f, st, nil
}

// readResult is /files/read's answer.
type readResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

// read answers a page of a file. offset=-1 (or none) answers the size
// with no data, as the Mesos web UI's pailer asks first; an offset at or
// past the end answers no data at that offset; length (default: to the
// end) is capped at MaxReadLength.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	length, err := intParam(q.Get("length"), "length")
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.open(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer t.root.Close()
	f, st, err := t.openFile("read")
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	size := st.Size()
	res := readResult{Offset: offset}
	switch {
	case offset == -1:
		res.Offset = size
	case offset >= size || length == 0:
	default:
		n := size - offset
		if length > 0 {
			n = min(n, length)
		}
		buf := make([]byte, min(n, MaxReadLength))
		got, err := f.ReadAt(buf, offset)
		if err != nil && !errors.Is(err, io.EOF) { // EOF: the file shrank meanwhile (rotated)
			writeError(w, fail(http.StatusInternalServerError, "reading %s: %v", t.name, err))
			return
		}
		res.Data = string(wholeRunes(buf[:got]))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// wholeRunes drops a UTF-8 sequence cut at the end of a page (when
// something precedes it), so that offset + len(data) is where the next
// page starts and no character is split into two replacement characters.
func wholeRunes(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i < len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b // ASCII: nothing cut
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// intParam parses offset or length: absent is -1, else an integer >= -1.
func intParam(s, name string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -1 {
		return 0, fail(http.StatusBadRequest, "invalid %s %q: must be an integer >= -1", name, s)
	}
	return v, nil
}

// download streams a file (Range requests work too).
func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	t, err := h.open(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer t.root.Close()
	f, st, err := t.openFile("download")
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	base := path.Base(t.rel)
	ctype := mime.TypeByExtension(path.Ext(base))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	http.ServeContent(w, r, base, st.ModTime(), f)
}
