package isolation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// cgroupMode is the host's cgroup layout, detected once per Runtime.
// libcontainer makes the same choice through cgroups.IsCgroup2UnifiedMode:
// its fs2 manager on a unified host, its fs (v1) manager otherwise, which
// on a hybrid host also joins the container to /sys/fs/cgroup/unified.
type cgroupMode struct {
	unified bool   // cgroup v2 mounted at /sys/fs/cgroup
	hybrid  bool   // v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified
	v1Root  string // where the v1 hierarchies are mounted (v1 and hybrid)
	memsw   bool   // v1 swap accounting (memory.memsw.*) is on
}

func detectCgroups() (cgroupMode, error) {
	if cgroups.IsCgroup2UnifiedMode() {
		return cgroupMode{unified: true}, nil
	}
	mem, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		return cgroupMode{}, fmt.Errorf("finding the memory cgroup controller: %w", err)
	}
	return cgroupMode{
		hybrid: cgroups.IsCgroup2HybridMode(),
		v1Root: filepath.Dir(mem),
		memsw:  cgroups.PathExists(filepath.Join(mem, "memory.memsw.limit_in_bytes")),
	}, nil
}

func (m cgroupMode) String() string {
	switch {
	case m.unified:
		return "v2"
	case m.hybrid:
		return "hybrid"
	default:
		return "v1"
	}
}

// v1Hierarchy is the v1 controllers Stats reads, each only if mounted.
// containerd's default set would also read every kmem and memsw file, some
// of which newer kernels or swapaccount=0 do not have.
func (m cgroupMode) v1Hierarchy() ([]cgroup1.Subsystem, error) {
	var ignore []string
	for _, mod := range []string{"kmem", "kmem.tcp"} {
		if !cgroups.PathExists(filepath.Join(m.v1Root, "memory", "memory."+mod+".usage_in_bytes")) {
			ignore = append(ignore, mod)
		}
	}
	if !m.memsw {
		ignore = append(ignore, "memsw")
	}
	all := []cgroup1.Subsystem{
		cgroup1.NewCpuacct(m.v1Root),
		cgroup1.NewMemory(m.v1Root, cgroup1.IgnoreModules(ignore...)),
		cgroup1.NewPids(m.v1Root),
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		if cgroups.PathExists(filepath.Join(m.v1Root, string(s.Name()))) {
			out = append(out, s)
		}
	}
	return out, nil
}

// unlimited is what v1 reports as a memory limit when there is none
// (PAGE_COUNTER_MAX pages), and what v2 "max" reads as.
const unlimited = 1 << 62

// stats reads the usage of the cgroup at path (e.g. /corral/<id>).
func (m cgroupMode) stats(path string) (Stats, error) {
	if m.unified {
		return statsV2(path, "/sys/fs/cgroup")
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(m.v1Hierarchy))
	if err != nil {
		return Stats{}, fmt.Errorf("loading cgroup %s: %w", path, err)
	}
	mt, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, fmt.Errorf("reading cgroup %s: %w", path, err)
	}
	var st Stats
	if u := mt.GetCPU().GetUsage(); u != nil {
		st.CPUUserSeconds = float64(u.User) / 1e9
		st.CPUSystemSeconds = float64(u.Kernel) / 1e9
	}
	if mem := mt.GetMemory(); mem != nil {
		st.MemUsageBytes = mem.GetUsage().GetUsage()
		st.MemRSSBytes = mem.TotalRSS
		if l := mem.GetUsage().GetLimit(); l < unlimited {
			st.MemLimitBytes = l
		}
	}
	st.OOMKills = mt.GetMemoryOomControl().GetOomKill()
	st.Pids = mt.GetPids().GetCurrent()
	return st, nil
}

// statsV2 reads the usage of the cgroup at path under the cgroup2 mount.
func statsV2(path, mountpoint string) (Stats, error) {
	if _, err := os.Stat(filepath.Join(mountpoint, path)); err != nil {
		return Stats{}, fmt.Errorf("loading cgroup %s: %w", path, err)
	}
	cg, err := cgroup2.Load(path, cgroup2.WithMountpoint(mountpoint))
	if err != nil {
		return Stats{}, fmt.Errorf("loading cgroup %s: %w", path, err)
	}
	mt, err := cg.Stat()
	if err != nil {
		return Stats{}, fmt.Errorf("reading cgroup %s: %w", path, err)
	}
	var st Stats
	if cpu := mt.GetCPU(); cpu != nil {
		st.CPUUserSeconds = float64(cpu.UserUsec) / 1e6
		st.CPUSystemSeconds = float64(cpu.SystemUsec) / 1e6
	}
	if mem := mt.GetMemory(); mem != nil {
		st.MemUsageBytes = mem.Usage
		st.MemRSSBytes = mem.Anon
		if mem.UsageLimit < unlimited {
			st.MemLimitBytes = mem.UsageLimit
		}
	}
	st.OOMKills = mt.GetMemoryEvents().GetOomKill()
	st.Pids = mt.GetPids().GetCurrent()
	return st, nil
}

// signalCgroup sends sig to every process in the cgroup m manages, as
// runc's signalAllProcesses does: SIGKILL through cgroup.kill where the
// kernel has it (5.14; v2, or the unified hierarchy of a hybrid host),
// otherwise freeze, signal each process, thaw, so that none forks away.
func signalCgroup(m cgroups.Manager, sig unix.Signal) error {
	if !m.Exists() {
		return nil
	}
	if sig == unix.SIGKILL {
		if p := m.Path(""); p != "" {
			err := cgroups.WriteFile(p, "cgroup.kill", "1")
			if err == nil {
				return nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("killing cgroup %s: %w", p, err)
			}
		}
	}
	frozen := m.Freeze(cgroups.Frozen) == nil
	pids, err := m.GetAllPids()
	for _, pid := range pids {
		if kerr := unix.Kill(pid, sig); kerr != nil && kerr != unix.ESRCH && err == nil {
			err = fmt.Errorf("signalling pid %d: %w", pid, kerr)
		}
	}
	if frozen {
		if terr := m.Freeze(cgroups.Thawed); terr != nil && err == nil {
			err = terr
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil // the cgroup went away meanwhile
	}
	return err
}
