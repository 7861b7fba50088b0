package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report is the results table, in the order rows were added.
type report struct {
	rows [][2]string
}

func (r *report) add(metric, format string, args ...any) {
	r.rows = append(r.rows, [2]string{metric, fmt.Sprintf(format, args...)})
}

// write prints the table as Markdown under a heading.
func (r *report) write(w io.Writer, title string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n| metric | value |\n|---|---|\n", title)
	for _, row := range r.rows {
		fmt.Fprintf(&b, "| %s | %s |\n", cell(row[0]), cell(row[1]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a value inside its table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// percentiles returns the p50, p99 and maximum of ds (zeros if empty).
func percentiles(ds []time.Duration) (p50, p99, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.50), at(0.99), s[len(s)-1]
}

// dur rounds d for reading: to 10µs below 10ms, else to 1ms.
func dur(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
