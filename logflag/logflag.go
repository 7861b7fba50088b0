// Package logflag is the --log-level and --log-format flag pair every Corral
// daemon and tool takes, and the *slog.Logger they choose.
package logflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Formats of --log-format.
const (
	Text = "text" // slog's key=value lines
	JSON = "json" // one JSON object a line, for log shippers
)

// Flags holds the parsed values of --log-level and --log-format.
type Flags struct {
	lvl    slog.Level
	format format
}

// Register adds --log-level (default level) and --log-format (default
// text) to fs. An invalid value fails fs.Parse with a message naming the
// valid ones.
func Register(fs *flag.FlagSet, def slog.Level) *Flags {
	f := &Flags{lvl: def, format: Text}
	fs.Var(level{&f.lvl}, "log-level", "log `level`: debug, info, warn or error")
	fs.Var(&f.format, "log-format", "log `format`: text (key=value) or json (an object a line)")
	return f
}

// Logger returns a logger writing to w at the chosen level and format.
func (f *Flags) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: f.lvl}
	if f.format == JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Level is the chosen --log-level.
func (f *Flags) Level() slog.Level { return f.lvl }

// Format is the chosen --log-format, Text or JSON.
func (f *Flags) Format() string { return string(f.format) }

// level points at the Flags' level, so that its zero value prints as ""
// and flag's usage shows every default.
type level struct{ l *slog.Level }

func (l level) String() string {
	if l.l == nil {
		return ""
	}
	return strings.ToLower(l.l.String())
}

func (l level) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*l.l = slog.LevelDebug
	case "info":
		*l.l = slog.LevelInfo
	case "warn":
		*l.l = slog.LevelWarn
	case "error":
		*l.l = slog.LevelError
	default:
		return errors.New("must be debug, info, warn or error")
	}
	return nil
}

type format string

func (f *format) String() string { return string(*f) }

func (f *format) Set(s string) error {
	switch s {
	case Text, JSON:
		*f = format(s)
	default:
		return fmt.Errorf("must be %s or %s", Text, JSON)
	}
	return nil
}
