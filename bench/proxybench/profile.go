package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuProfile samples pid with perf (call graphs by frame pointer, which Go
// keeps) for 4 s in the middle of a 6 s wrk run, and writes perf's flat and
// cumulative reports to outDir/perf-NAME{,-children}.txt.
func cpuProfile(ctx context.Context, name string, pid, port int, outDir string) error {
	data := filepath.Join(outDir, "perf-"+name+".data")
	wrk := exec.CommandContext(ctx, "taskset", wrkArgs(port, 6*time.Second)...)
	if err := wrk.Start(); err != nil {
		return err
	}
	time.Sleep(time.Second)
	rec := exec.CommandContext(ctx, "perf", "record", "-q", "-F", "1999", "-g", "-p", strconv.Itoa(pid), "-o", data, "--", "sleep", "4")
	recOut, recErr := rec.CombinedOutput()
	wrk.Wait()
	if recErr != nil {
		return fmt.Errorf("perf record: %w: %s", recErr, recOut)
	}
	for _, r := range []struct{ suffix, children string }{{"", "--no-children"}, {"-children", "--children"}} {
		out, err := exec.CommandContext(ctx, "perf", "report", "-i", data, "--stdio", r.children, "--sort", "symbol",
			"-g", "none", "--percent-limit", "0.5").Output()
		if err != nil {
			return fmt.Errorf("perf report: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, "perf-"+name+r.suffix+".txt"), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// syscallCount is how often one system call ran per request.
type syscallCount struct {
	Name   string
	PerReq float64
}

// countedSyscalls are the system calls counted one by one; the total
// counts every call.
var countedSyscalls = []string{"read", "write", "readv", "writev", "recvfrom", "sendto", "splice", "epoll_wait", "epoll_pwait",
	"futex", "nanosleep", "getsockopt", "setsockopt", "clock_gettime", "accept4", "connect", "close", "shutdown"}

// syscallsPerRequest counts pid's system calls (perf stat on the syscall
// tracepoints, all its threads) during a 4 s wrk run and divides by the
// requests wrk made. "EAGAIN" counts the calls that returned it: reads of
// sockets with nothing to read yet.
func syscallsPerRequest(ctx context.Context, t target, backendPID int, outDir string) ([]syscallCount, float64, error) {
	file := filepath.Join(outDir, "syscalls-"+t.name+".csv")
	args := []string{"stat", "-x,", "-o", file, "-p", strconv.Itoa(t.pids[0]),
		"-e", "raw_syscalls:sys_enter", "-e", "raw_syscalls:sys_exit", "--filter", "ret == -11"}
	for _, c := range countedSyscalls {
		args = append(args, "-e", "syscalls:sys_enter_"+c)
	}
	st := exec.CommandContext(ctx, "perf", args...)
	if err := st.Start(); err != nil {
		return nil, 0, err
	}
	time.Sleep(500 * time.Millisecond)
	r, err := measure(ctx, t, backendPID, 4*time.Second)
	st.Process.Signal(syscall.SIGINT)
	st.Wait()
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	counts, err := parseStatCSV(f)
	if err != nil {
		return nil, 0, err
	}
	total := float64(counts["raw_syscalls:sys_enter"]) / float64(r.Requests)
	var out []syscallCount
	for name, n := range counts {
		label := strings.TrimPrefix(name, "syscalls:sys_enter_")
		switch name {
		case "raw_syscalls:sys_enter":
			continue
		case "raw_syscalls:sys_exit":
			label = "(EAGAIN)"
		}
		out = append(out, syscallCount{label, float64(n) / float64(r.Requests)})
	}
	slices.SortFunc(out, func(a, b syscallCount) int {
		switch {
		case a.PerReq > b.PerReq:
			return -1
		case a.PerReq < b.PerReq:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, total, nil
}

// parseStatCSV reads perf stat -x, output: count,unit,event,...
func parseStatCSV(r io.Reader) (map[string]int64, error) {
	counts := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 3 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue // "<not counted>", comments
		}
		counts[f[2]] += n
	}
	if counts["raw_syscalls:sys_enter"] == 0 {
		return nil, fmt.Errorf("perf stat counted no system call")
	}
	return counts, sc.Err()
}

func printSyscalls(w io.Writer, name string, counts []syscallCount, total float64) {
	var parts []string
	for _, c := range counts {
		if c.PerReq >= 0.01 {
			parts = append(parts, fmt.Sprintf("%s %.2f", c.Name, c.PerReq))
		}
	}
	fmt.Fprintf(w, "| %s | %.2f | %s |\n", name, total, strings.Join(parts, ", "))
}
