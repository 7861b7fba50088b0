package mesos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// RecordIO is the framing of the Mesos v1 streaming APIs: each record is its
// length in bytes as decimal digits, a newline, then the record (here JSON).
const RecordIOContentType = "application/recordio"

// MaxRecordSize bounds one record so that a broken peer cannot make a reader
// allocate without limit.
const MaxRecordSize = 64 << 20

// RecordWriter writes JSON records in RecordIO framing.
type RecordWriter struct {
	w io.Writer
}

// NewRecordWriter returns a writer of records to w.
func NewRecordWriter(w io.Writer) *RecordWriter { return &RecordWriter{w: w} }

// Write encodes v as JSON and writes it as one record.
func (rw *RecordWriter) Write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	buf := make([]byte, 0, len(b)+12)
	buf = strconv.AppendInt(buf, int64(len(b)), 10)
	buf = append(buf, '\n')
	buf = append(buf, b...)
	_, err = rw.w.Write(buf)
	return err
}

// RecordReader reads JSON records in RecordIO framing.
type RecordReader struct {
	r *bufio.Reader
}

// NewRecordReader returns a reader of records from r.
func NewRecordReader(r io.Reader) *RecordReader { return &RecordReader{r: bufio.NewReader(r)} }

// Read decodes the next record into v. It returns io.EOF at a clean end.
func (rr *RecordReader) Read(v any) error {
	line, err := rr.r.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			if len(line) == 0 {
				return io.EOF
			}
			// A stream cut inside the length is truncated, not cleanly ended.
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading record length: %w", err)
	}
	digits := line[:len(line)-1]
	n, err := strconv.Atoi(string(digits))
	if err != nil || !isDigits(digits) || n > MaxRecordSize {
		return fmt.Errorf("invalid record length %q, must be decimal digits up to %d", digits, MaxRecordSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rr.r, buf); err != nil {
		if err == io.EOF {
			// ReadFull says EOF when no byte came; after a length that is truncation.
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading record of %d bytes: %w", n, err)
	}
	if err := json.Unmarshal(buf, v); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	return nil
}

// isDigits reports whether b is non-empty and all ASCII digits; Atoi alone
// would also take a sign.
func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
