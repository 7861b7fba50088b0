package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of /proc/stat's counters (USER_HZ, 100 on every
// Linux architecture Go supports).
const userHZ = 100

// busyCPU returns the CPU time the whole machine has spent busy since boot:
// /proc/stat's user, nice, system, irq, softirq and steal, summed over
// every CPU. The difference of two readings is the CPU a burst took, every
// process's included, the runtimes' own (shims, runc, container inits)
// and whatever else runs at the time.
func busyCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	var ticks uint64
	// user nice system idle iowait irq softirq steal: idle and iowait are
	// not busy.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat line %q: %w", line, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
