package status

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"

	"corral/mesos"
)

// logName is the name of a task's status update log inside its directory.
const logName = "updates.log"

// Record types.
const (
	recUpdate = "update"
	recAck    = "ack"
)

// record is one line of a task's log: an update as it was queued, or the
// acknowledgement of the update at the head of the queue.
type record struct {
	Type        string            `json:"type"`
	FrameworkID string            `json:"framework_id,omitempty"`
	Status      *mesos.TaskStatus `json:"status,omitempty"`
	UUID        string            `json:"uuid,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame turns a record's JSON into a log line: "<crc32c, 8 hex digits> <json>\n".
// JSON never holds a raw newline, so the newline ends the record; a record
// counts only once its newline is on disk.
func frame(js []byte) []byte {
	line := make([]byte, 0, len(js)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(js, castagnoli))
	line = append(line, js...)
	return append(line, '\n')
}

// parseLine decodes one log line, without its newline.
func parseLine(line []byte) (record, error) {
	var r record
	if len(line) < 10 || line[8] != ' ' {
		return r, errors.New("malformed record")
	}
	sum, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return r, errors.New("malformed checksum")
	}
	js := line[9:]
	if got := crc32.Checksum(js, castagnoli); got != uint32(sum) {
		return r, fmt.Errorf("checksum %08x, want %08x", got, sum)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, err
	}
	switch r.Type {
	case recUpdate:
		if r.Status == nil || r.Status.TaskID == "" || r.Status.UUID == "" {
			return r, errors.New("update record without a task ID or UUID")
		}
	case recAck:
		if r.UUID == "" {
			return r, errors.New("ack record without a UUID")
		}
	default:
		return r, fmt.Errorf("unknown record type %q", r.Type)
	}
	return r, nil
}

// readLog reads a task's log. A crash can only tear the record being
// appended, so bad bytes at the end are a torn write: readLog returns the
// records before them and how many bytes it dropped. A bad record followed by
// good ones is corruption, which it reports as an error.
func readLog(path string) (recs []record, torn int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	bad := -1 // offset of the first bad line
	for off := 0; off < len(b); {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 { // no newline: the last append did not complete
			if bad < 0 {
				bad = off
			}
			break
		}
		r, perr := parseLine(b[off : off+i])
		switch {
		case perr != nil && bad < 0:
			bad = off
		case perr == nil && bad >= 0:
			return nil, 0, fmt.Errorf("%s: corrupt record at offset %d followed by valid ones", path, bad)
		case perr == nil:
			recs = append(recs, r)
		}
		off += i + 1
	}
	if bad >= 0 {
		torn = len(b) - bad
	}
	return recs, torn, nil
}

// maxNameLen bounds a task directory's name well below NAME_MAX (255).
const maxNameLen = 200

// dirName maps a task to a directory name that is safe and distinct for
// every task: its framework and task IDs escaped (see escape) and joined by
// "+", which escaping never leaves in an ID, so no two tasks share a name
// and none is a name legacyDirName gives. Over-long names keep a prefix and
// add "~" and a hash of both IDs; "~" never appears otherwise.
func dirName(k TaskKey) string {
	return bound(escape(k.FrameworkID)+"+"+escape(k.TaskID), k.FrameworkID+"\x00"+k.TaskID)
}

// legacyDirName is the name agentd gave a task's directory when it was
// named by the task ID alone; Open still recovers such directories.
func legacyDirName(taskID string) string { return bound(escape(taskID), taskID) }

// escape keeps the bytes [A-Za-z0-9._-] of an ID and escapes the others,
// and a leading dot (".", ".." and hidden names), as %XX.
func escape(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		safe := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if safe && !(i == 0 && c == '.') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bound shortens an over-long name to a prefix, "~" and a hash of what it
// names.
func bound(name, named string) string {
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(named))
	return name[:maxNameLen-33] + "~" + hex.EncodeToString(sum[:16])
}
