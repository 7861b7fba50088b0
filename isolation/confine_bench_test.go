package isolation

import (
	"runtime"
	"testing"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkSeccompProfile is what Start adds to build a container's
// configuration: Docker's profile resolved for its capabilities and
// converted to libcontainer's form.
func BenchmarkSeccompProfile(b *testing.B) {
	for b.Loop() {
		if _, err := specconv.SetupSeccomp(DefaultSeccomp(DefaultCapabilities)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeccompLoad is what the container's init adds before it runs the
// task's command: libseccomp compiles the profile to BPF and the kernel
// loads it. Each filter goes on a thread of its own, locked and let go
// with its goroutine, so the benchmark's other threads stay unfiltered.
// "default" is what Start loads (DefaultSeccomp: without x32 on a kernel
// that lacks it), "docker" the profile with every architecture of Docker's
// archMap, "native" the same profile for the machine's own ABI alone.
func BenchmarkSeccompLoad(b *testing.B) {
	if !SeccompSupported {
		b.Skip("built without the seccomp tag")
	}
	docker := defaultSeccomp(DefaultCapabilities, runtime.GOARCH, runningKernel(), true)
	native := DefaultSeccomp(DefaultCapabilities)
	native.Architectures = native.Architectures[:min(1, len(native.Architectures))]
	for _, bb := range []struct {
		name    string
		profile *specs.LinuxSeccomp
	}{{"default", DefaultSeccomp(DefaultCapabilities)}, {"docker", docker}, {"native", native}} {
		b.Run(bb.name, func(b *testing.B) {
			cfg, err := specconv.SetupSeccomp(bb.profile)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				errc := make(chan error)
				go func() {
					runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
					_, err := seccomp.InitSeccomp(cfg)
					errc <- err
				}()
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
