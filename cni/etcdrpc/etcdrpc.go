// Package etcdrpc is how corral-ipam reaches etcd: requests to etcd's v3
// JSON gateway (/v3/kv/range, /v3/kv/txn) through a Caller, the errors
// they end in, and the helper process, corral-ipam-etcd, that makes them
// for the plugin.
//
// The plugin is a new process per CNI command, and most commands never
// ask etcd anything (an ADD in a block the host owns is a line appended
// to a file). Linking net/http and crypto/tls into it cost every command
// their start-up (~150 more page faults, ~1.4 ms of an ADD+DEL, measured),
// so the plugin links only this package, and the code that speaks HTTP and
// TLS (cni/etcdgw) lives in the helper, which the plugin starts the first
// time a command needs etcd and which serves that command's requests over
// a pipe.
package etcdrpc

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Config says how to reach etcd.
type Config struct {
	Endpoints []string      `json:"endpoints"` // client URLs, http:// or https://
	CAFile    string        `json:"caFile,omitempty"`
	CertFile  string        `json:"certFile,omitempty"`
	KeyFile   string        `json:"keyFile,omitempty"`
	Timeout   time.Duration `json:"timeout"` // bound on dialling and the TLS handshake
}

// Caller posts a request body to a path of etcd's JSON gateway and returns
// the body of etcd's answer. It fails with an *Error when etcd answered
// with one, and with an error wrapping ErrUnreachable when no endpoint
// answered.
type Caller interface {
	Call(ctx context.Context, path string, body []byte) ([]byte, error)
	// Close ends the caller's connections (and process).
	Close() error
}

// Error is an error etcd answered with: a gRPC status code and message.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("etcd: %s (code %d)", e.Message, e.Code) }

// ErrUnreachable wraps a failure to reach any endpoint.
var ErrUnreachable = errors.New("etcd unreachable")

// gRPC status codes that clear up without a change of configuration.
const (
	CodeCanceled          = 1
	CodeDeadlineExceeded  = 4
	CodeResourceExhausted = 8
	CodeAborted           = 10
	CodeUnavailable       = 14
)

// Transient reports whether err is etcd being away or overloaded, which
// clears up without a change of configuration.
func Transient(err error) bool {
	if errors.Is(err, ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ee *Error
	if errors.As(err, &ee) {
		switch ee.Code {
		case CodeUnavailable, CodeDeadlineExceeded, CodeResourceExhausted, CodeAborted, CodeCanceled:
			return true
		}
	}
	return false
}
