package records

import (
	"crypto/sha1"
	"encoding/base32"
	"strings"
)

// labelFunc turns an arbitrary string into one DNS label (possibly empty).
type labelFunc func(string) string

// RFC1123 mangles name into a host name label as Mesos-DNS does by default
// (its labels.RFC1123): letters are lowered, '.', '_' and '-' become '-',
// every other character is dropped, leading dashes are trimmed and the
// result is cut to 63 characters without trailing dashes.
func RFC1123(name string) string { return label(name, 63, "-") }

// RFC952 mangles name into a label under the older, stricter rules Mesos-DNS
// applies with enforceRFC952: at most 24 characters, and no leading digits.
func RFC952(name string) string { return label(name, 24, "-0123456789") }

func label(name string, maxlen int, left string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+('a'-'A'))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-' || c == '.' || c == '_':
			b = append(b, '-')
		}
	}
	return string(trimCut(b, maxlen, left, "-"))
}

// trimCut trims the left cutset from the front, cuts to maxlen and trims the
// right cutset from the end. Where the cut leaves trailing dashes, Mesos-DNS
// fills the freed room from what follows the cut (its dashes trimmed first):
// "hello----…----f" cut at 24 becomes "hellof". Kept for identical names.
func trimCut(lab []byte, maxlen int, left, right string) []byte {
	trim := trimLeft(lab, left)
	size := min(len(trim), maxlen)
	head := trimRight(trim[:size], right)
	if len(head) == size {
		return head
	}
	tail := trimLeft(trim[size:], right)
	if len(tail) > 0 {
		return append(head[:len(head):len(head)], tail[:min(len(tail), size-len(head))]...)
	}
	return head
}

func trimLeft(b []byte, cut string) []byte {
	for len(b) > 0 && strings.IndexByte(cut, b[0]) >= 0 {
		b = b[1:]
	}
	return b
}

func trimRight(b []byte, cut string) []byte {
	for len(b) > 0 && strings.IndexByte(cut, b[len(b)-1]) >= 0 {
		b = b[:len(b)-1]
	}
	return b
}

// domainFrag mangles a name that may hold several labels separated by dots
// (a framework name such as "marathon.prod") label by label, dropping labels
// that mangle to nothing, as Mesos-DNS's labels.DomainFrag.
func domainFrag(name string, lf labelFunc) string {
	var out []string
	for part := range strings.SplitSeq(name, ".") {
		if l := lf(part); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}

// zbase32 is z-base-32, the human-oriented base 32 Mesos-DNS uses (through
// tv42/zbase32) for the task ID hash in canonical names.
var zbase32 = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

// hashString is the first 5 z-base-32 characters of the SHA-1 of s: the
// task ID part of a canonical task name.
func hashString(s string) string {
	sum := sha1.Sum([]byte(s))
	return zbase32.EncodeToString(sum[:])[:5]
}

// agentIDTail is the part of an agent ID after its last '-', lowered: "s3"
// of "20160107-001256-134875658-5050-27524-S3".
func agentIDTail(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '-')+1:])
}

// validName reports whether name (fully qualified, with the trailing dot)
// can be served: labels of 1 to 63 bytes of [a-z0-9_-], 255 bytes in all on
// the wire.
func validName(name string) bool {
	if len(name) < 2 || len(name) > 254 || name[len(name)-1] != '.' {
		return false
	}
	n := 0
	for i := 0; i < len(name)-1; i++ {
		switch c := name[i]; {
		case c == '.':
			if n == 0 {
				return false
			}
			n = 0
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			n++
			if n > 63 {
				return false
			}
		default:
			return false
		}
	}
	return n > 0
}
