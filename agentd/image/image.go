// Package image pulls OCI and Docker images (a Marathon app's
// container.docker.image) with go-containerregistry and unpacks each one once
// per manifest digest into a root file system that tasks start from.
//
// On disk, under Config.Dir:
//
//	sha256-<hex>/rootfs       the image's file system, layers applied in order
//	sha256-<hex>/config.json  the image config blob as pulled
//	refs/<sha256 of ref>.json the digest a reference last resolved to
//	tmp/                      unpacks in progress, emptied by NewStore
//
// An image directory is built under tmp/ and renamed into place only when
// complete, so one that exists is whole.
package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"corral/atomicfile"
)

// Config configures a Store.
type Config struct {
	// Dir holds the unpacked images, one directory per digest. The agent's
	// container processes never see it, so it is private to root (0700).
	Dir string
	// Insecure lists registries (host:port, or host for any port) reached over
	// plain HTTP. Loopback registries (127.0.0.0/8, ::1, localhost) are
	// always allowed plain HTTP; every other registry needs HTTPS.
	Insecure []string
	// Timeout bounds one Get: resolving the reference, downloading and
	// unpacking. Zero means no bound beyond the caller's context.
	Timeout time.Duration
}

// DefaultConfig returns the configuration agentd uses with work directory
// workDir.
func DefaultConfig(workDir string) Config {
	return Config{
		Dir:     filepath.Join(workDir, "images"),
		Timeout: 10 * time.Minute,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if !filepath.IsAbs(c.Dir) {
		return fmt.Errorf("invalid image dir %q, must be an absolute path", c.Dir)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("invalid image pull timeout %v, must not be negative", c.Timeout)
	}
	for _, r := range c.Insecure {
		if u, err := url.Parse("//" + r); r == "" || err != nil || u.Host != r {
			return fmt.Errorf("invalid insecure registry %q, must be host or host:port without a scheme", r)
		}
	}
	return nil
}

// ImageConfig is what an image says about running it, for tasks that give no
// command of their own.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=value
	WorkingDir string
	User       string // user[:group], names or ids, as the image gives it
}

// Store pulls images into Config.Dir and hands out their root file systems.
// Callers must not write into a returned rootfs: tasks of the same image
// share it.
type Store struct {
	cfg       Config
	log       *slog.Logger
	transport http.RoundTripper
	platform  v1.Platform
	chown     bool // ownership from the image is applied only as root

	mu      sync.Mutex         // guards flights
	flights map[string]*flight // unpacks in progress, by image directory name
}

// flight is one unpack that concurrent Gets of the same digest wait for.
type flight struct {
	done      chan struct{}
	err       error
	abandoned bool // the pulling caller's context ended, not the pull itself
}

// NewStore checks cfg, creates its directories and removes what an
// interrupted unpack left behind.
func NewStore(cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = log.With("component", "image")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating image dir: %w", err)
	}
	tmp := filepath.Join(cfg.Dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("removing interrupted unpacks: %w", err)
	}
	for _, d := range []string{tmp, filepath.Join(cfg.Dir, "refs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating image dir: %w", err)
		}
	}
	chown := os.Geteuid() == 0
	if !chown {
		log.Warn("not running as root: image files will be owned by the agent's user")
	}
	return &Store{
		cfg:       cfg,
		log:       log,
		transport: newTransport(cfg.Insecure),
		platform:  v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		chown:     chown,
		flights:   make(map[string]*flight),
	}, nil
}

// remoteOptions configure go-containerregistry for one Get. An index
// resolves to the image for this machine's linux/GOARCH. Pulls are
// anonymous: registry credentials are not supported yet.
func (s *Store) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(s.transport),
		remote.WithPlatform(s.platform),
		remote.WithUserAgent("corral-agentd"),
	}
}

// Get returns the root file system of ref ("busybox", "127.0.0.1:5000/app:1",
// "repo@sha256:…") and the digest of its image manifest, pulling and
// unpacking the image unless that digest is already on disk. A tag is
// resolved at the registry on every call; when the registry cannot be reached
// (no connection, timeout, 5xx) and an earlier Get of the same ref succeeded,
// that image is used again with a warning. An answer from the registry, such
// as an unknown tag, is never overridden. A digest reference already on disk
// needs no registry at all.
func (s *Store) Get(ctx context.Context, ref string) (rootfs string, digest string, err error) {
	r, err := s.parseRef(ref)
	if err != nil {
		return "", "", fmt.Errorf("pulling %s: %w", ref, err)
	}
	if d, ok := r.(name.Digest); ok {
		if h, err := v1.NewHash(d.DigestStr()); err == nil && s.complete(h) {
			return s.rootfs(h), h.String(), nil
		}
		// An index digest maps to a platform's image digest for good.
		if h, ok := s.recorded(r); ok && s.complete(h) {
			return s.rootfs(h), h.String(), nil
		}
	}

	pullCtx := ctx
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		pullCtx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	img, err := remote.Image(r, s.remoteOptions(pullCtx)...)
	if err != nil {
		if ctx.Err() == nil && unreachable(err) {
			if h, ok := s.recorded(r); ok && s.complete(h) {
				s.log.Warn("registry unreachable, using the image this ref last resolved to",
					"ref", ref, "digest", h.String(), "err", err)
				return s.rootfs(h), h.String(), nil
			}
		}
		return "", "", fmt.Errorf("pulling %s: %w", ref, err)
	}
	h, err := img.Digest()
	if err != nil {
		return "", "", fmt.Errorf("pulling %s: computing digest: %w", ref, err)
	}
	if err := s.ensure(pullCtx, ref, h, img); err != nil {
		return "", "", err
	}
	if err := s.record(r, h); err != nil {
		s.log.Warn("cannot record image digest", "ref", ref, "digest", h.String(), "err", err)
	}
	return s.rootfs(h), h.String(), nil
}

// ensure unpacks img unless it is on disk; concurrent calls for one digest
// unpack once.
func (s *Store) ensure(ctx context.Context, ref string, h v1.Hash, img v1.Image) error {
	key := dirName(h)
	for {
		if s.complete(h) {
			return nil
		}
		s.mu.Lock()
		f, ok := s.flights[key]
		if !ok {
			f = &flight{done: make(chan struct{})}
			s.flights[key] = f
			s.mu.Unlock()

			f.err = s.pull(ctx, ref, h, img)
			f.abandoned = f.err != nil && ctx.Err() != nil
			s.mu.Lock()
			delete(s.flights, key)
			s.mu.Unlock()
			close(f.done)
			return f.err
		}
		s.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("pulling %s: waiting for another pull of %s: %w", ref, h, ctx.Err())
		}
		if f.err == nil {
			return nil
		}
		if !f.abandoned {
			return f.err
		}
		// The caller that was pulling gave up; this one still wants the image.
	}
}

// ImageConfig returns how the image with the given manifest digest (as Get
// returned it) wants to be run. It fails with an error wrapping
// fs.ErrNotExist if that image has not been pulled.
func (s *Store) ImageConfig(digest string) (ImageConfig, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return ImageConfig{}, fmt.Errorf("reading image config: invalid digest %q: %w", digest, err)
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, dirName(h), "config.json"))
	if err != nil {
		return ImageConfig{}, fmt.Errorf("reading image config of %s: %w", digest, err)
	}
	defer f.Close()
	cf, err := v1.ParseConfigFile(f)
	if err != nil {
		return ImageConfig{}, fmt.Errorf("reading image config of %s: %w", digest, err)
	}
	return ImageConfig{
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		Env:        cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir,
		User:       cf.Config.User,
	}, nil
}

// dirName is the directory of the image with manifest digest h. NewHash has
// checked that h is an algorithm name and lower-case hex.
func dirName(h v1.Hash) string { return h.Algorithm + "-" + h.Hex }

func (s *Store) rootfs(h v1.Hash) string {
	return filepath.Join(s.cfg.Dir, dirName(h), "rootfs")
}

// complete reports whether the image is unpacked; image directories appear
// whole, by rename.
func (s *Store) complete(h v1.Hash) bool {
	fi, err := os.Stat(s.rootfs(h))
	return err == nil && fi.IsDir()
}

// refRecord is what refs/ keeps about a reference.
type refRecord struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

func (s *Store) recordPath(r name.Reference) string {
	sum := sha256.Sum256([]byte(r.Name()))
	return filepath.Join(s.cfg.Dir, "refs", hex.EncodeToString(sum[:])+".json")
}

// recorded returns the digest r last resolved to.
func (s *Store) recorded(r name.Reference) (v1.Hash, bool) {
	b, err := os.ReadFile(s.recordPath(r))
	if err != nil {
		return v1.Hash{}, false
	}
	var rec refRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Ref != r.Name() {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash(rec.Digest)
	return h, err == nil
}

// record notes that r resolved to h, replacing the record atomically.
func (s *Store) record(r name.Reference, h v1.Hash) error {
	if old, ok := s.recorded(r); ok && old == h {
		return nil
	}
	b, err := json.Marshal(refRecord{Ref: r.Name(), Digest: h.String()})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.recordPath(r), b, 0o644)
}

// parseRef parses ref, marking loopback and configured insecure registries so
// that go-containerregistry falls back to plain HTTP for them.
func (s *Store) parseRef(ref string) (name.Reference, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, errors.New("empty image reference")
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if plainHTTPAllowed(r.Context().RegistryStr(), s.cfg.Insecure) {
		return name.ParseReference(ref, name.Insecure)
	}
	return r, nil
}
