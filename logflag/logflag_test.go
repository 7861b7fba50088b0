package logflag

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func parse(args ...string) (*Flags, error) {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Register(fs, slog.LevelInfo)
	return f, fs.Parse(args)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		level   slog.Level
		format  string
		wantErr string // a substring of the flag error
	}{
		{args: nil, level: slog.LevelInfo, format: Text},
		{args: []string{"--log-level", "debug"}, level: slog.LevelDebug, format: Text},
		{args: []string{"--log-level", "WARN", "--log-format", "json"}, level: slog.LevelWarn, format: JSON},
		{args: []string{"--log-level=error", "--log-format=text"}, level: slog.LevelError, format: Text},
		{args: []string{"--log-format", "xml"}, wantErr: `invalid value "xml" for flag -log-format: must be text or json`},
		{args: []string{"--log-format", "JSON"}, wantErr: `must be text or json`},
		{args: []string{"--log-format", ""}, wantErr: `must be text or json`},
		{args: []string{"--log-level", "verbose"}, wantErr: `invalid value "verbose" for flag -log-level: must be debug, info, warn or error`},
		{args: []string{"--log-level", "warning"}, wantErr: `must be debug, info, warn or error`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f, err := parse(tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tc.args, err)
			}
			if f.Level() != tc.level || f.Format() != tc.format {
				t.Fatalf("Parse(%q) = level %v format %q, want %v %q", tc.args, f.Level(), f.Format(), tc.level, tc.format)
			}
		})
	}
}

func TestLoggerJSON(t *testing.T) {
	f, err := parse("--log-format", "json", "--log-level", "warn")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := f.Logger(&buf).With("component", "test")
	log.Info("dropped below the level")
	log.Warn("task failed health check", "task", "web.1")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("logged %q, want one line (info is below warn)", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("log line %q is not JSON: %v", lines[0], err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "task failed health check" || rec["task"] != "web.1" || rec["component"] != "test" {
		t.Fatalf("log record = %v, want level WARN, the message and its attributes", rec)
	}
}

func TestLoggerText(t *testing.T) {
	f, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.Logger(&buf).Debug("below info")
	f.Logger(&buf).Info("agentd starting", "isolation", "linux")
	if got := buf.String(); strings.Contains(got, "below info") || !strings.Contains(got, `level=INFO msg="agentd starting" isolation=linux`) {
		t.Fatalf("text log = %q, want the info line in key=value form only", got)
	}
}
