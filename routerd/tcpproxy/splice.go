package tcpproxy

import (
	"errors"
	"io"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// Data between two TCP connections moves by splice(2) through a pipe, so
// it never enters user space. io.Copy does that too, but holds its pipe
// (two open files) for the connection's whole life: an idle connection
// then costs six files instead of two, and a proxy under the usual open
// files limit holds a third of the connections. Here a pipe is taken from
// a small free list only while data moves and given back as soon as the
// source has nothing more to read.

// pipeSize is each pipe's buffer, as Go's own splice asks (F_SETPIPE_SZ;
// the kernel allocates its pages only as data comes).
const pipeSize = 1 << 20

// maxFreePipes bounds the free list; pipes given back beyond it are closed.
const maxFreePipes = 64

// spipe is a pipe's two ends, empty whenever it is on the free list.
type spipe struct{ r, w int }

var freePipes struct {
	mu    sync.Mutex // guards pipes
	pipes []*spipe
}

func getPipe() (*spipe, error) {
	freePipes.mu.Lock()
	if n := len(freePipes.pipes); n > 0 {
		p := freePipes.pipes[n-1]
		freePipes.pipes = freePipes.pipes[:n-1]
		freePipes.mu.Unlock()
		return p, nil
	}
	freePipes.mu.Unlock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize) // best effort: the default 64 KiB works too
	return &spipe{r: fds[0], w: fds[1]}, nil
}

// putPipe gives back an empty pipe.
func putPipe(p *spipe) {
	freePipes.mu.Lock()
	if len(freePipes.pipes) < maxFreePipes {
		freePipes.pipes = append(freePipes.pipes, p)
		p = nil
	}
	freePipes.mu.Unlock()
	if p != nil {
		p.close()
	}
}

func (p *spipe) close() {
	unix.Close(p.r)
	unix.Close(p.w)
}

// spliceCopy copies src to dst until src's end (nil) or an error. If no
// pipe can be made it goes on with a copy through user space.
func spliceCopy(dst, src *net.TCPConn) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	wc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	var p *spipe
	defer func() {
		if p != nil {
			p.close() // it may hold data that could not be written
		}
	}()
	for {
		// Fill the pipe with what src has; with nothing there, give the
		// pipe back before waiting.
		var n int64
		var serr, pipeErr error
		err := rc.Read(func(fd uintptr) bool {
			if p == nil {
				if p, pipeErr = getPipe(); pipeErr != nil {
					return true
				}
			}
			for {
				n, serr = unix.Splice(int(fd), nil, p.w, nil, pipeSize, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				if serr != unix.EINTR {
					break
				}
			}
			if serr == unix.EAGAIN {
				putPipe(p)
				p = nil
				return false
			}
			return true
		})
		switch {
		case err != nil:
			return err
		case pipeErr != nil:
			_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, make([]byte, 32<<10))
			return err
		case serr != nil:
			return serr
		case n == 0:
			return nil // src ended
		}
		// Empty it into dst, waiting while dst's buffer is full.
		for n > 0 {
			var m int64
			err := wc.Write(func(fd uintptr) bool {
				for {
					m, serr = unix.Splice(p.r, nil, int(fd), nil, int(n), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
					if serr != unix.EINTR {
						break
					}
				}
				return serr != unix.EAGAIN
			})
			switch {
			case err != nil:
				return err
			case serr != nil:
				return serr
			case m == 0:
				return errors.New("splice wrote nothing")
			}
			n -= m
		}
	}
}

// readerOnly and writerOnly hide ReadFrom and WriteTo, so io.CopyBuffer
// copies through its buffer.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }
