package watch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// maxEventBytes bounds one event: Marathon's largest (a deployment_info of
// a big group) stay well below it; a stream that sends more is broken.
const maxEventBytes = 16 << 20

// sseEvent is one server-sent event: its name and its data lines joined.
type sseEvent struct {
	Name string
	Data []byte
}

// sseReader reads the text/event-stream format (WHATWG HTML, "Server-sent
// events"): fields "event" and "data", events ended by a blank line,
// comments (":") and unknown fields ignored, CRLF or LF line ends.
type sseReader struct {
	r *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next event with data; io.EOF at the stream's end. An
// event cut off by the end of the stream is not returned.
func (s *sseReader) Next() (sseEvent, error) {
	var ev sseEvent
	var data bytes.Buffer
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if hasData {
				ev.Data = data.Bytes()
				return ev, nil
			}
			ev = sseEvent{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxEventBytes {
				return sseEvent{}, fmt.Errorf("event stream: event larger than %d bytes", maxEventBytes)
			}
			data.Write(value)
			hasData = true
		}
	}
}

func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(line)+len(frag) > maxEventBytes {
			return nil, fmt.Errorf("event stream: line longer than %d bytes", maxEventBytes)
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		return line, nil
	}
}
