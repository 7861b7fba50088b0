package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// helloBin is a static binary built by TestMain, or "" without a Go toolchain.
var helloBin string

const helloSrc = `package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println("hello from the image", os.Getenv("GREETING")) }
`

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helloBin, err = buildHello(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the test binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildHello builds helloSrc with CGO_ENABLED=0 into dir.
func buildHello(dir string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", nil
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloSrc), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command(gobin, "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return bin, nil
}

func requireHello(t *testing.T) []byte {
	t.Helper()
	if helloBin == "" {
		t.Skip("no go toolchain to build the image's binary")
	}
	b, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRegistry is go-containerregistry's registry on loopback, counting the
// blob downloads it serves.
type testRegistry struct {
	host     string // 127.0.0.1:port
	srv      *httptest.Server
	blobGets atomic.Int64

	mu     sync.Mutex                         // guards tamper
	tamper func(path string, b []byte) []byte // alters blob downloads
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	tr := &testRegistry{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			reg.ServeHTTP(w, r)
			return
		}
		tr.blobGets.Add(1)
		tr.mu.Lock()
		tamper := tr.tamper
		tr.mu.Unlock()
		if tamper == nil {
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		body := tamper(r.URL.Path, rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) push(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(tr.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref.String()
}

// layer makes an image layer from tar entries.
func layer(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	b := layerTar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func image(t *testing.T, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

var helloConfig = v1.Config{
	Entrypoint: []string{"/bin/hello"},
	Cmd:        []string{"--loud"},
	Env:        []string{"PATH=/bin", "GREETING=hi"},
	WorkingDir: "/srv",
	User:       "1000:1000",
}

// helloImage is a static binary at /bin/hello and a second layer that
// deletes /etc/gone by whiteout.
func helloImage(t *testing.T) v1.Image {
	bin := requireHello(t)
	base := layer(t,
		dir("bin/", 0o755),
		file("bin/hello", string(bin), 0o755),
		symlink("bin/hi", "hello"),
		dir("etc/", 0o755),
		file("etc/gone", "to be deleted", 0o644),
		file("etc/kept", "kept", 0o644),
		owned(dir("srv/", 0o755), 1000, 1000),
	)
	top := layer(t,
		dir("etc/", 0o755),
		file("etc/.wh.gone", "", 0o644),
		hardlink("bin/hello2", "bin/hello"),
	)
	return image(t, helloConfig, base, top)
}

func newTestStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "images")
	}
	s, err := NewStore(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGet(t *testing.T) {
	reg := newTestRegistry(t)
	img := helloImage(t)
	ref := reg.push(t, "app:1", img)
	wantDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, Config{Timeout: time.Minute})
	reg.blobGets.Store(0)

	rootfs, digest, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("Get(%q): %v", ref, err)
	}
	if digest != wantDigest.String() {
		t.Errorf("Get(%q) digest = %s, want %s", ref, digest, wantDigest)
	}
	if want := filepath.Join(s.cfg.Dir, "sha256-"+wantDigest.Hex, "rootfs"); rootfs != want {
		t.Errorf("Get(%q) rootfs = %s, want %s", ref, rootfs, want)
	}
	// The config and both layers, once each.
	if got := reg.blobGets.Load(); got != 3 {
		t.Errorf("first Get downloaded %d blobs, want 3", got)
	}

	out, err := exec.Command(filepath.Join(rootfs, "bin/hello")).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hello from the image") {
		t.Errorf("running the unpacked bin/hello = %q, %v", out, err)
	}
	for p, want := range map[string]string{
		"etc/gone":     "absent",
		"etc/.wh.gone": "absent",
		"etc/kept":     "file:kept",
		"bin/hi":       "link:hello",
		"srv":          "dir",
		"bin/hello2":   "file:" + string(requireHello(t)),
	} {
		if got := describe(t, filepath.Join(rootfs, p)); got != want {
			t.Errorf("%s is %.40s, want %.40s", p, got, want)
		}
	}
	fi, err := os.Stat(filepath.Join(rootfs, "bin/hello"))
	if err != nil || fi.Mode() != 0o755 {
		t.Errorf("bin/hello mode = %v (%v), want 0755", fi.Mode(), err)
	}

	ic, err := s.ImageConfig(digest)
	if err != nil {
		t.Fatalf("ImageConfig(%s): %v", digest, err)
	}
	want := ImageConfig{
		Entrypoint: helloConfig.Entrypoint,
		Cmd:        helloConfig.Cmd,
		Env:        helloConfig.Env,
		WorkingDir: helloConfig.WorkingDir,
		User:       helloConfig.User,
	}
	if !reflect.DeepEqual(ic, want) {
		t.Errorf("ImageConfig(%s) = %+v, want %+v", digest, ic, want)
	}

	// Mark the unpacked image to show a second Get does not unpack again.
	marker := filepath.Join(rootfs, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs2, digest2, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("second Get(%q): %v", ref, err)
	}
	if rootfs2 != rootfs || digest2 != digest {
		t.Errorf("second Get(%q) = %s, %s, want %s, %s", ref, rootfs2, digest2, rootfs, digest)
	}
	if got := reg.blobGets.Load(); got != 3 {
		t.Errorf("second Get downloaded %d more blobs, want 0", got-3)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("second Get unpacked again: %v", err)
	}
	tmp, err := os.ReadDir(filepath.Join(s.cfg.Dir, "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("tmp holds %v (%v), want nothing", tmp, err)
	}
}

func TestGetConcurrent(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", helloImage(t))
	s := newTestStore(t, Config{})
	reg.blobGets.Store(0)

	const n = 8
	type result struct{ rootfs, digest string }
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i].rootfs, results[i].digest, errs[i] = s.Get(t.Context(), ref)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Get %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Errorf("Get %d = %v, Get 0 = %v", i, results[i], results[0])
		}
	}
	if got := reg.blobGets.Load(); got != 3 {
		t.Errorf("%d concurrent Gets downloaded %d blobs, want 3", n, got)
	}
}

// TestGetCallerGivesUp: when the caller whose Get is pulling gives up, the
// Gets waiting for the same image pull it themselves.
func TestGetCallerGivesUp(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", image(t, v1.Config{}, layer(t, file("f", "f", 0o644))))
	blocked, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the registry closes
	var calls atomic.Int64
	reg.mu.Lock()
	reg.tamper = func(_ string, b []byte) []byte {
		if calls.Add(1) == 1 {
			close(blocked)
			<-release
		}
		return b
	}
	reg.mu.Unlock()
	s := newTestStore(t, Config{})

	ctxA, cancelA := context.WithCancel(t.Context())
	errA := make(chan error, 1)
	go func() {
		_, _, err := s.Get(ctxA, ref)
		errA <- err
	}()
	<-blocked
	errB := make(chan error, 1)
	go func() {
		_, _, err := s.Get(t.Context(), ref)
		errB <- err
	}()
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("Get waiting for the cancelled pull = %v, want success", err)
	}
}

func TestGetMultiArch(t *testing.T) {
	reg := newTestRegistry(t)
	other := "riscv64"
	if runtime.GOARCH == other {
		other = "s390x"
	}
	mine := image(t, v1.Config{}, layer(t, file("arch", runtime.GOARCH, 0o644)))
	theirs := image(t, v1.Config{}, layer(t, file("arch", other, 0o644)))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: theirs, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref, err := name.ParseReference(reg.host + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	mineDigest, err := mine.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, Config{})
	for _, r := range []string{ref.String(), reg.host + "/multi@" + idxDigest.String()} {
		rootfs, digest, err := s.Get(t.Context(), r)
		if err != nil {
			t.Fatalf("Get(%q): %v", r, err)
		}
		if digest != mineDigest.String() {
			t.Errorf("Get(%q) digest = %s, want the %s image %s", r, digest, runtime.GOARCH, mineDigest)
		}
		if got := describe(t, filepath.Join(rootfs, "arch")); got != "file:"+runtime.GOARCH {
			t.Errorf("Get(%q): arch is %s, want file:%s", r, got, runtime.GOARCH)
		}
	}
}

func TestGetErrors(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, "app:1", image(t, v1.Config{}, layer(t, file("f", "f", 0o644))))
	s := newTestStore(t, Config{})
	tests := []struct {
		ref  string
		want []string
	}{
		{reg.host + "/app:nope", []string{"pulling " + reg.host + "/app:nope", "MANIFEST_UNKNOWN"}},
		{reg.host + "/nosuchrepo:1", []string{"pulling " + reg.host + "/nosuchrepo:1", "NAME_UNKNOWN"}},
		{reg.host + "/app@sha256:" + strings.Repeat("0", 64), []string{"pulling", "MANIFEST_UNKNOWN"}},
		{"UPPER/case", []string{"pulling UPPER/case", "could not parse reference"}},
		{"", []string{"empty image reference"}},
		{"10.255.255.1:5000/app:1", []string{"refusing plain HTTP to 10.255.255.1:5000"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			// Short: for the plain HTTP case HTTPS is tried first, and a
			// network that drops packets to 10/8 makes it wait.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, _, err := s.Get(ctx, tt.ref)
			if err == nil {
				t.Fatalf("Get(%q) succeeded, want an error", tt.ref)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Get(%q) = %v, want it to contain %q", tt.ref, err, w)
				}
			}
		})
	}
}

// TestGetOffline: a digest on disk needs no registry, a tag pulled before is
// reused while the registry is down, and an answer from the registry is not
// overridden by what was pulled before.
func TestGetOffline(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", image(t, v1.Config{}, layer(t, file("f", "v1", 0o644))))
	gone := reg.push(t, "app:gone", image(t, v1.Config{}, layer(t, file("f", "gone", 0o644))))
	s := newTestStore(t, Config{Timeout: 20 * time.Second})
	rootfs, digest, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	goneRef, _ := name.ParseReference(gone)
	if err := remote.Delete(goneRef); err != nil {
		t.Fatalf("deleting %s: %v", gone, err)
	}
	if _, _, err := s.Get(t.Context(), gone); err == nil || !strings.Contains(err.Error(), "pulling "+gone) {
		t.Errorf("Get(%q) of a deleted tag = %v, want the registry's error", gone, err)
	}

	reg.srv.Close()
	byDigest := reg.host + "/app@" + digest
	for _, r := range []string{byDigest, ref} {
		got, gotDigest, err := s.Get(t.Context(), r)
		if err != nil {
			t.Errorf("Get(%q) with the registry down: %v", r, err)
			continue
		}
		if got != rootfs || gotDigest != digest {
			t.Errorf("Get(%q) with the registry down = %s, %s, want %s, %s", r, got, gotDigest, rootfs, digest)
		}
	}
	never := reg.host + "/app:2"
	if _, _, err := s.Get(t.Context(), never); err == nil || !strings.Contains(err.Error(), "pulling "+never) {
		t.Errorf("Get(%q) never pulled, registry down = %v, want an error naming it", never, err)
	}
}

func TestGetMaliciousLayer(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.push(t, "evil:1", image(t, v1.Config{},
		layer(t, file("ok", "ok", 0o644)),
		layer(t, file("../escape", "x", 0o644)),
	))
	parent := t.TempDir()
	s := newTestStore(t, Config{Dir: filepath.Join(parent, "images")})
	_, _, err := s.Get(t.Context(), ref)
	if err == nil || !strings.Contains(err.Error(), `"../escape"`) || !strings.Contains(err.Error(), ref) {
		t.Fatalf("Get(%q) = %v, want an error naming the ref and the entry", ref, err)
	}
	t.Logf("error: %v", err)
	requireNoImages(t, s)
	filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.Name() == "escape" {
			t.Errorf("%s written", p)
		}
		return nil
	})
}

// TestGetCorruptLayer: a layer that fails its digest check after its files
// were written leaves no image behind, and a later good download succeeds.
func TestGetCorruptLayer(t *testing.T) {
	reg := newTestRegistry(t)
	img := image(t, v1.Config{}, layer(t, file("a", "a", 0o644), file("b", strings.Repeat("b", 4096), 0o644)))
	ref := reg.push(t, "app:1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	reg.mu.Lock()
	reg.tamper = func(p string, b []byte) []byte {
		if strings.HasSuffix(p, ld.String()) && len(b) > 0 {
			b = slices.Clone(b)
			b[len(b)-1] ^= 0xff // the gzip trailer: every file is out before this shows
		}
		return b
	}
	reg.mu.Unlock()
	s := newTestStore(t, Config{})
	if _, _, err := s.Get(t.Context(), ref); err == nil {
		t.Fatalf("Get(%q) of a corrupt layer succeeded", ref)
	} else {
		t.Logf("error: %v", err)
	}
	requireNoImages(t, s)

	reg.mu.Lock()
	reg.tamper = nil
	reg.mu.Unlock()
	if _, _, err := s.Get(t.Context(), ref); err != nil {
		t.Fatalf("Get(%q) after the registry recovered: %v", ref, err)
	}
}

// requireNoImages fails unless s holds no image and no unpack in progress.
func requireNoImages(t *testing.T, s *Store) {
	t.Helper()
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "tmp" && e.Name() != "refs" {
			t.Errorf("%s left in the image dir", e.Name())
		}
	}
	if tmp, err := os.ReadDir(filepath.Join(s.cfg.Dir, "tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("tmp holds %v (%v), want nothing", tmp, err)
	}
}

func TestNewStoreRemovesInterruptedUnpacks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	half := filepath.Join(dir, "tmp", "sha256-"+strings.Repeat("a", 64)+"-123", "rootfs", "bin")
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, Config{Dir: dir})
	requireNoImages(t, s)
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	if s.complete(h) {
		t.Errorf("an interrupted unpack counts as complete")
	}
}

func TestImageConfigErrors(t *testing.T) {
	s := newTestStore(t, Config{})
	for _, d := range []string{"", "sha256:../../etc", "sha256:" + strings.Repeat("a", 64)} {
		if _, err := s.ImageConfig(d); err == nil {
			t.Errorf("ImageConfig(%q) succeeded, want an error", d)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{DefaultConfig("/var/lib/corral/agent"), ""},
		{Config{Dir: "/x", Insecure: []string{"reg.local:5000", "10.0.0.1", "[fd00::1]:5000"}}, ""},
		{Config{Dir: ""}, `invalid image dir ""`},
		{Config{Dir: "images"}, `invalid image dir "images", must be an absolute path`},
		{Config{Dir: "/x", Timeout: -time.Second}, "invalid image pull timeout -1s"},
		{Config{Dir: "/x", Insecure: []string{"http://reg:5000"}}, `invalid insecure registry "http://reg:5000"`},
		{Config{Dir: "/x", Insecure: []string{"reg/path"}}, `invalid insecure registry "reg/path"`},
		{Config{Dir: "/x", Insecure: []string{""}}, `invalid insecure registry ""`},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
}
