// Package resources works out what an agent offers: cpus, mem and disk
// detected from the host unless the operator's --resources names them, and
// ports [31000-32000] by default, as the Mesos agent does.
package resources

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"corral/mesos"
)

// DefaultPorts is the agent port range of Mesos agents.
const DefaultPorts = "[31000-32000]"

// Host is what detection found.
type Host struct {
	CPUs   float64
	MemMB  float64
	DiskMB float64
}

// Detect reads the host's cpus, memory and the disk space under workDir.
// Like the Mesos agent it leaves headroom for the system: memory total less
// 1 GiB (or half the memory on small hosts), disk total less 5 GiB (or half).
func Detect(workDir string) (Host, error) {
	h := Host{CPUs: float64(runtime.NumCPU())}
	memKB, err := memTotalKB("/proc/meminfo")
	if err != nil {
		return h, err
	}
	h.MemMB = headroom(float64(memKB)/1024, 1024)
	var st syscall.Statfs_t
	if err := syscall.Statfs(workDir, &st); err != nil {
		return h, fmt.Errorf("reading disk space under %s: %w", workDir, err)
	}
	h.DiskMB = headroom(float64(st.Blocks)*float64(st.Bsize)/(1<<20), 5*1024)
	return h, nil
}

// headroom keeps reserve MB for the system, or half when the total is small.
func headroom(totalMB, reserveMB float64) float64 {
	if totalMB >= 2*reserveMB {
		return float64(int64(totalMB - reserveMB))
	}
	return float64(int64(totalMB / 2))
}

func memTotalKB(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			return strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no MemTotal in %s", path)
}

// Resolve combines the operator's --resources (Mesos syntax) with detection:
// named resources win, missing cpus, mem, disk and ports are filled in.
func Resolve(flag string, h Host) (mesos.Resources, error) {
	given, err := mesos.ParseResources(flag)
	if err != nil {
		return mesos.Resources{}, fmt.Errorf("invalid --resources: %w", err)
	}
	fill := mesos.Resources{Scalars: map[string]float64{}, Ranges: map[string]mesos.Ranges{}}
	for name, v := range map[string]float64{mesos.CPUs: h.CPUs, mesos.Mem: h.MemMB, mesos.Disk: h.DiskMB} {
		if _, ok := given.Scalars[name]; !ok && v > 0 {
			fill.Scalars[name] = v
		}
	}
	if _, ok := given.Ranges[mesos.Ports]; !ok {
		fill.Ranges[mesos.Ports], _ = mesos.ParseRanges(DefaultPorts)
	}
	out := given.Add(fill)
	if out.Scalar(mesos.CPUs) <= 0 || out.Scalar(mesos.Mem) <= 0 {
		return mesos.Resources{}, fmt.Errorf("invalid --resources %q: the agent must offer cpus and mem (got %s)", flag, out)
	}
	return out, nil
}
