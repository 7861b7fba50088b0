package mesos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type testRecord struct {
	Type string `json:"type"`
	N    int    `json:"n,omitempty"`
	Text string `json:"text,omitempty"`
}

func TestRecordIORoundTrip(t *testing.T) {
	records := []testRecord{
		{Type: "SUBSCRIBED", N: 1},
		{Type: "HEARTBEAT"},
		{Type: "MESSAGE", Text: "line one\nline two\n12\n"},
		{Type: "UPDATE", Text: strings.Repeat("x", 10000)},
		{Type: "UNICODE", Text: "héllo, 世界"},
	}
	var buf bytes.Buffer
	w := NewRecordWriter(&buf)
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%v): %v", r, err)
		}
	}
	wire := buf.Bytes()

	readers := map[string]func() io.Reader{
		"whole":       func() io.Reader { return bytes.NewReader(wire) },
		"byte a time": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire)) },
		"half a time": func() io.Reader { return iotest.HalfReader(bytes.NewReader(wire)) },
	}
	for name, src := range readers {
		t.Run(name, func(t *testing.T) {
			rr := NewRecordReader(src())
			for i, want := range records {
				var got testRecord
				if err := rr.Read(&got); err != nil {
					t.Fatalf("Read() of record %d: %v", i, err)
				}
				if got != want {
					t.Errorf("Read() of record %d = %+v, want %+v", i, got, want)
				}
			}
			var extra testRecord
			if err := rr.Read(&extra); err != io.EOF {
				t.Errorf("Read() after the last record = %v (%+v), want io.EOF", err, extra)
			}
		})
	}
}

func TestRecordWriterFraming(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{map[string]int{"a": 1}, "7\n{\"a\":1}"},
		{"héllo", "8\n\"héllo\""}, // length counts bytes, not runes
		{nil, "4\nnull"},
		{[]testRecord{{Type: "A"}, {Type: "B"}}, "27\n[{\"type\":\"A\"},{\"type\":\"B\"}]"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var buf bytes.Buffer
			if err := NewRecordWriter(&buf).Write(tt.v); err != nil {
				t.Fatalf("Write(%v): %v", tt.v, err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("Write(%v) wrote %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestRecordWriterErrors(t *testing.T) {
	if err := NewRecordWriter(io.Discard).Write(make(chan int)); err == nil || !strings.Contains(err.Error(), "encoding record") {
		t.Errorf("Write(chan) = %v, want an encoding error", err)
	}
	failing := errors.New("connection reset")
	if err := NewRecordWriter(errWriter{failing}).Write(1); !errors.Is(err, failing) {
		t.Errorf("Write to a failing writer = %v, want %v", err, failing)
	}
}

func TestRecordReaderCleanEOF(t *testing.T) {
	for _, in := range []string{"", "2\n{}"} {
		rr := NewRecordReader(strings.NewReader(in))
		var err error
		for range 2 {
			var v any
			if err = rr.Read(&v); err != nil {
				break
			}
		}
		if err != io.EOF {
			t.Errorf("reading %q to the end = %v, want io.EOF", in, err)
		}
	}
}

func TestRecordReaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"truncated record", "10\n{\"a\":", "reading record of 10 bytes"},
		{"length without record", "5\n", "reading record of 5 bytes"},
		{"truncated after a good record", "2\n{}7\n{\"a\"", "reading record of 7 bytes"},
		{"length without newline", "12", "reading record length"},
		{"oversized length", fmt.Sprintf("%d\n", MaxRecordSize+1), fmt.Sprint(MaxRecordSize + 1)},
		{"length overflows int", "99999999999999999999999\n{}", "99999999999999999999999"},
		{"negative length", "-1\n{}", `"-1"`},
		{"signed length", "+2\n{}", `"+2"`},
		{"empty length", "\n{}", `""`},
		{"text length", "abc\n{}", `"abc"`},
		{"spaced length", " 2\n{}", `" 2"`},
		{"CRLF length", "2\r\n{}", `"2\r"`},
		{"long garbage without newline", strings.Repeat("9", 10000), "reading record length"},
		{"not JSON", "3\nabc", "decoding record"},
		{"empty record", "0\n", "decoding record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := NewRecordReader(strings.NewReader(tt.in))
			var err error
			for range 3 { // skip the good records some inputs start with
				var v any
				if err = rr.Read(&v); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatalf("reading %q gave no error, want one containing %q", tt.in, tt.wantErr)
			}
			if errors.Is(err, io.EOF) {
				t.Errorf("reading %q = %v, want an error that is not io.EOF", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("reading %q error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestRecordReaderTruncationIsUnexpectedEOF(t *testing.T) {
	for _, in := range []string{"5\n", "5\n{}", "12"} {
		var v any
		if err := NewRecordReader(strings.NewReader(in)).Read(&v); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Read() of %q = %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
}

func TestRecordReaderContinuesAfterBadJSON(t *testing.T) {
	rr := NewRecordReader(strings.NewReader("3\nabc7\n{\"n\":2}"))
	var v struct{ N int }
	if err := rr.Read(&v); err == nil {
		t.Fatalf("Read() of %q = nil, want a decoding error", "abc")
	}
	if err := rr.Read(&v); err != nil || v.N != 2 {
		t.Errorf("Read() after a bad record = %+v, %v, want {N:2}, nil", v, err)
	}
	if err := rr.Read(&v); err != io.EOF {
		t.Errorf("Read() at the end = %v, want io.EOF", err)
	}
}
