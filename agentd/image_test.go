package main_test

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"corral/agentd/shim"
	"corral/masterd/master/mastertest"
	"corral/mesos"
)

// appSource is the whole of the test image: a static binary that reports
// what it sees from inside its container.
const appSource = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	_, err := os.Stat("/etc/debian_version")
	msg := fmt.Sprintf("%s %s host-files=%v", os.Getenv("GREETING"), os.Getenv("MESOS_TASK_ID"), err == nil)
	os.WriteFile("/mnt/mesos/sandbox/out.txt", []byte(msg), 0o644)
	time.Sleep(time.Hour)
}
`

// pushTestImage builds the image and pushes it to a registry on loopback.
func pushTestImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(appSource), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module app\n\ngo 1.22\n"), 0o644)
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the image's binary: %v\n%s", err, out)
	}
	bin, _ := os.ReadFile(filepath.Join(dir, "app"))
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg})
	tw.Write(bin)
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/app"}, Env: []string{"GREETING=hello-from-image"}})
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	ref := strings.TrimPrefix(reg.URL, "http://") + "/corral/app:1"
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func TestImageTaskFromLoopbackRegistry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("image tasks need linux isolation, which needs root")
	}
	ref := pushTestImage(t)
	m := mastertest.Start(t, nil)
	f := m.Subscribe(t, "test")
	work := t.TempDir()
	startAgent(t, m, shim.Linux, work)
	id := agentID(t, m)

	noShell := false
	task := mesos.TaskInfo{
		Name: "img", TaskID: "img", Resources: mesos.MustParseResources("cpus:0.1;mem:64"),
		Command:   &mesos.CommandInfo{Shell: &noShell},
		Container: &mesos.ContainerInfo{Type: "MESOS", Image: ref},
	}
	f.Launch(t, id, task)
	f.WaitUpdate(t, 60*time.Second, "img", mesos.TaskRunning)
	out := filepath.Join(sandbox(t, work, "img"), "out.txt")
	mastertest.WaitFor(t, 10*time.Second, "the image's program to report", func() bool { return readFile(t, out) != "" })
	if got, want := readFile(t, out), "hello-from-image img host-files=false"; got != want {
		t.Fatalf("image task reported %q, want %q", got, want)
	}
	f.Kill(t, "img")
	f.WaitUpdate(t, 10*time.Second, "img", mesos.TaskKilled)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), work) {
		t.Fatalf("the image task's root is still mounted after it ended")
	}

	// An image that does not exist fails the task with the reason.
	missing := task
	missing.TaskID, missing.Name = "nope", "nope"
	missing.Container = &mesos.ContainerInfo{Type: "MESOS", Image: strings.Replace(ref, "app:1", "nope:1", 1)}
	f.Launch(t, id, missing)
	failed := f.WaitUpdate(t, 30*time.Second, "nope", mesos.TaskFailed)
	if !strings.Contains(failed.Message, "nope:1") {
		t.Fatalf("missing image reported %q, want the image named", failed.Message)
	}
}
