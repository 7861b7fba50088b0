package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procMem is a process's memory from /proc/<pid>/status.
type procMem struct {
	RSS, HWM int64 // VmRSS and VmHWM (peak RSS) in bytes
}

// readProcMem reads the memory of pid ("self" for the harness).
func readProcMem(pid string) (procMem, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return procMem{}, fmt.Errorf("reading memory of process %s: %w", pid, err)
	}
	return parseProcStatus(string(b))
}

// parseProcStatus extracts VmRSS and VmHWM from a /proc/<pid>/status text.
func parseProcStatus(s string) (procMem, error) {
	var m procMem
	var found int
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return procMem{}, fmt.Errorf("malformed %s line %q, want \"<n> kB\"", name, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("malformed %s line %q: %w", name, line, err)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		found++
	}
	if found != 2 {
		return procMem{}, fmt.Errorf("VmRSS or VmHWM missing from process status")
	}
	return m, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// readProcCPU returns the user plus system CPU time pid has used.
func readProcCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of process %s: %w", pid, err)
	}
	return parseProcStat(string(b))
}

// parseProcStat extracts utime+stime from a /proc/<pid>/stat line. The
// command name in parentheses may hold spaces, so fields count from the last
// ')'; utime and stime are fields 14 and 15 of the line.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed process stat %q", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed process stat %q, too few fields", s)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed process stat %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
