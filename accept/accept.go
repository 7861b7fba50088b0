// Package accept keeps a listener accepting through errors that pass: the
// process out of file descriptors (EMFILE, ENFILE) or the kernel out of
// memory for a socket (ENOBUFS, ENOMEM). net/http backs off and retries
// on such errors; fasthttp's Serve returns, which left an HTTP service
// port bound but never accepting (its clients hung until they timed out)
// and, on the edge, stopped all of routerd. routerd's proxies and the
// resolver's TCP port use it.
package accept

import (
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// Backoff bounds: the first retry waits minDelay, each next one twice as
// long, up to maxDelay, as net/http's Server does.
const (
	minDelay = 5 * time.Millisecond
	maxDelay = time.Second
)

// Retrying returns ln whose Accept retries every error but the listener's
// closing, with backoff. It logs when accepting first fails and when it
// works again, not every failed try.
func Retrying(ln net.Listener, listen string, log *slog.Logger) net.Listener {
	return &listener{Listener: ln, listen: listen, log: log}
}

type listener struct {
	net.Listener
	listen string
	log    *slog.Logger
	failed atomic.Int64 // tries failed since the last accepted connection
}

func (l *listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.accepted()
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if l.failed.Add(1) == 1 {
			l.log.Warn("accepting connections failed; retrying with backoff", "listen", l.listen, "err", err)
		}
		delay = min(max(2*delay, minDelay), maxDelay)
		time.Sleep(delay)
	}
}

// accepted logs, once, that accepting works again; on the hot path it
// costs one atomic load.
func (l *listener) accepted() {
	if l.failed.Load() == 0 {
		return
	}
	if n := l.failed.Swap(0); n > 0 {
		l.log.Info("accepting connections again", "listen", l.listen, "failedTries", n)
	}
}
