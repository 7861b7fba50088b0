// Package fetch puts a task's artifacts (Mesos CommandInfo.URIs, Marathon's
// fetch) into its sandbox before the task starts, as the Mesos fetcher does:
// each URI lands in the sandbox under its base name, archives are unpacked
// next to it (the archive stays), and executables get mode 0755.
//
// Sources are http and https URLs, file URLs and absolute local paths. The
// cache flag is accepted and ignored: every fetch downloads afresh.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"corral/mesos"
)

// Config bounds a fetch.
type Config struct {
	// Timeout bounds fetching all of one task's URIs.
	Timeout time.Duration
	// MaxBytes caps what a fetch writes into the sandbox, downloads and
	// extracted contents together, across all of the task's URIs.
	MaxBytes int64
	// Client downloads http and https URIs; nil means http.DefaultClient.
	Client *http.Client
}

// DefaultConfig returns a Config allowing 5 minutes and 4 GiB per task.
func DefaultConfig() Config {
	return Config{Timeout: 5 * time.Minute, MaxBytes: 4 << 30}
}

// Validate reports the first field of c that Fetch cannot work with.
func (c Config) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("invalid Timeout %v, must be positive", c.Timeout)
	}
	if c.MaxBytes <= 0 {
		return fmt.Errorf("invalid MaxBytes %d, must be positive", c.MaxBytes)
	}
	return nil
}

// Fetch fetches uris, in order, into the existing directory sandbox. An
// executable URI is made mode 0755 and never extracted; otherwise, when
// Extract is set and the name ends in .tar, .tgz, .tar.gz, .tbz2, .tar.bz2,
// .zip or .gz, it is unpacked into the sandbox (.txz and .tar.xz fail: the
// standard library has no xz decoder). Archive entries that would land or
// point outside the sandbox fail the fetch.
//
// Fetch stops at the first failure. Its error names the URI (with any
// password redacted) and what went wrong, fit for a TASK_FAILED message.
func Fetch(ctx context.Context, cfg Config, uris []mesos.CommandURI, sandbox string) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid fetch config: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("timed out after %v", cfg.Timeout))
	defer cancel()
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("opening sandbox: %w", err)
	}
	defer root.Close()
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	f := &fetcher{client: client, root: root, budget: budget{limit: cfg.MaxBytes}}
	for _, u := range uris {
		if err := f.fetch(ctx, u); err != nil {
			if ctx.Err() != nil {
				// Whatever failed, it failed because time ran out or
				// the caller gave up; say that rather than, say, "unexpected EOF".
				err = context.Cause(ctx)
			}
			return fmt.Errorf("artifact %q: %w", redact(u.Value), err)
		}
	}
	return nil
}

// fetcher fetches one task's URIs; it is used by one goroutine.
type fetcher struct {
	client *http.Client
	root   *os.Root // the sandbox
	budget budget
}

func (f *fetcher) fetch(ctx context.Context, u mesos.CommandURI) error {
	src, err := parseSource(u.Value)
	if err != nil {
		return err
	}
	if err := f.download(ctx, src); err != nil {
		return err
	}
	switch {
	case u.Executable:
		if err := f.root.Chmod(src.name, 0o755); err != nil {
			return fmt.Errorf("making %s executable: %w", src.name, err)
		}
	case u.Extract:
		return f.extract(ctx, src.name)
	}
	return nil
}

// source is where an artifact comes from and the name it gets.
type source struct {
	url  *url.URL // http or https; nil for a local file
	path string   // the local file
	name string   // base name in the sandbox
}

func parseSource(raw string) (source, error) {
	if strings.HasPrefix(raw, "/") {
		return localSource(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue repeats the URI, password and all
		}
		return source{}, fmt.Errorf("parsing URI: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return source{}, errors.New("URI has no host")
		}
		name, err := baseName(u.Path)
		return source{url: u, name: name}, err
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, fmt.Errorf("file URI names host %q, only local files can be fetched", u.Host)
		}
		if !path.IsAbs(u.Path) {
			return source{}, fmt.Errorf("file URI path %q is not absolute", u.Path)
		}
		return localSource(u.Path)
	case "":
		return source{}, errors.New("not a URI or an absolute path")
	default:
		return source{}, fmt.Errorf("unsupported scheme %q, want http, https or file", u.Scheme)
	}
}

func localSource(p string) (source, error) {
	name, err := baseName(p)
	return source{path: filepath.Clean(p), name: name}, err
}

func baseName(p string) (string, error) {
	name := path.Base(p)
	if strings.HasSuffix(p, "/") || name == "/" || name == "." || name == ".." {
		return "", fmt.Errorf("no file name in path %q", p)
	}
	return name, nil
}

// redact hides the password of a URI's user information.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// download writes src into the sandbox under src.name, replacing any file
// of that name, and removes what it wrote if it fails.
func (f *fetcher) download(ctx context.Context, src source) (retErr error) {
	verb := "copying"
	if src.url != nil {
		verb = "downloading"
	}
	body, size, err := f.open(ctx, src)
	if err != nil {
		return err
	}
	defer body.Close()
	if size > f.budget.left() {
		return f.budget.exceeded()
	}
	if err := f.root.Remove(src.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replacing %s: %w", src.name, err)
	}
	out, err := f.root.OpenFile(src.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", src.name, err)
	}
	defer func() {
		if retErr != nil {
			f.root.Remove(src.name)
		}
	}()
	_, err = io.Copy(f.budget.writer(out), withContext(ctx, body))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, src.name, err)
	}
	return nil
}

// open returns src's contents and their size, -1 when unknown.
func (f *fetcher) open(ctx context.Context, src source) (io.ReadCloser, int64, error) {
	if src.url == nil {
		file, err := os.Open(src.path)
		if err != nil {
			return nil, 0, fmt.Errorf("opening local file: %w", err)
		}
		st, err := file.Stat()
		if err != nil {
			file.Close()
			return nil, 0, fmt.Errorf("opening local file: %w", err)
		}
		if !st.Mode().IsRegular() {
			file.Close()
			return nil, 0, fmt.Errorf("%s is not a regular file", src.path)
		}
		return file, st.Size(), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.url.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("User-Agent", "corral-fetcher")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue repeats the URI, password and all
		}
		return nil, 0, fmt.Errorf("requesting: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// budget counts the bytes a fetch writes against Config.MaxBytes.
type budget struct {
	limit, used int64
}

func (b *budget) left() int64 { return b.limit - b.used }

func (b *budget) exceeded() error {
	return fmt.Errorf("artifacts exceed the fetch limit of %d bytes", b.limit)
}

// writer returns a Writer that writes to w while the budget lasts.
func (b *budget) writer(w io.Writer) io.Writer { return budgetWriter{w, b} }

type budgetWriter struct {
	w io.Writer
	b *budget
}

func (w budgetWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.b.left() {
		return 0, w.b.exceeded()
	}
	n, err := w.w.Write(p)
	w.b.used += int64(n)
	return n, err
}

// withContext returns a Reader that stops reading r once ctx is done, so
// that copying a local file or unpacking an archive honours cancellation.
func withContext(ctx context.Context, r io.Reader) io.Reader {
	return readFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
