package marathon

import (
	"bytes"
	"encoding/json"
	"time"
)

// TimestampLayout is how Marathon writes versions and times:
// ISO 8601 in UTC with milliseconds, "2015-09-30T09:09:17.614Z".
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// FormatTimestamp writes t as Marathon does.
func FormatTimestamp(t time.Time) string { return t.UTC().Format(TimestampLayout) }

// ParseTimestamp reads a Marathon timestamp; it accepts any RFC 3339 time,
// with or without fractional seconds, as Marathon's date-time reader does.
func ParseTimestamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// orEmpty makes a nil slice encode as [] instead of null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orEmptyMap makes a nil map encode as {} instead of null.
func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// mergeObjects appends the members of the JSON object extra to the JSON
// object base.
func mergeObjects(base, extra []byte) []byte {
	extra = bytes.TrimSpace(extra)
	if len(extra) <= 2 { // {}
		return base
	}
	base = bytes.TrimSpace(base)
	out := make([]byte, 0, len(base)+len(extra))
	out = append(out, base[:len(base)-1]...)
	if len(base) > 2 {
		out = append(out, ',')
	}
	return append(out, extra[1:]...)
}

// members is an ordered JSON object under construction.
type members struct {
	buf bytes.Buffer
	err error
}

func (m *members) add(name string, v any) {
	if m.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		m.err = err
		return
	}
	if m.buf.Len() == 0 {
		m.buf.WriteByte('{')
	} else {
		m.buf.WriteByte(',')
	}
	k, _ := json.Marshal(name)
	m.buf.Write(k)
	m.buf.WriteByte(':')
	m.buf.Write(b)
}

func (m *members) bytes() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.buf.Len() == 0 {
		return []byte("{}"), nil
	}
	m.buf.WriteByte('}')
	return m.buf.Bytes(), nil
}
