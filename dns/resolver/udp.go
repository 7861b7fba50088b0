package resolver

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/miekg/dns"

	"golang.org/x/sys/unix"
)

// listenUDP binds one UDP socket with SO_REUSEPORT, so that several can
// share a port and the kernel spreads datagrams across them. On a wildcard
// address it asks for each datagram's destination (IP_PKTINFO), so that
// replies leave from the address the query was sent to.
func listenUDP(addr string, pktinfo bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil && pktinfo {
				e4 := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
				e6 := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
				if e4 != nil && e6 != nil {
					serr = e4
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

const (
	// batchSize is the most datagrams one recvmmsg reads and one sendmmsg
	// writes. Knot reads about 10 per call under dnsperf's load.
	batchSize = 32
	// reqSize is the longest request read whole; a longer one is cut there
	// and answered FORMERR. Queries are a few dozen bytes.
	reqSize = 4096
	// replySize is the longest reply: EDNS0 sizes are 16 bits.
	replySize = 65535
)

// udpBatch is one UDP socket's reader: the requests of one recvmmsg with
// their sources and control messages, and the replies queued for one
// sendmmsg, which point at those sources, so the replies of a batch are
// written before the next batch is read. All its memory is allocated once.
type udpBatch struct {
	rc      syscall.RawConn
	pktinfo bool

	in    [batchSize]unix.Mmsghdr
	inIov [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // fits a sockaddr_in too
	reqs  []byte                           // batchSize × reqSize
	oob   []byte                           // batchSize × oobSize: the requests' packet info
	n     int                              // requests read

	out     [batchSize]unix.Mmsghdr
	outIov  [batchSize]unix.Iovec
	srcs    []byte // batchSize × oobSize: the replies' source addresses
	replies []byte // the replies, back to back; room for one more of replySize
	nout    int    // replies queued
	used    int    // bytes of replies queued
	sent    int    // replies written by the current sendmmsg loop
	errno   unix.Errno

	// The RawConn callbacks, bound once so that no call allocates.
	recvFn, sendFn func(fd uintptr) bool
}

func newUDPBatch(c *net.UDPConn, pktinfo bool) (*udpBatch, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatch{
		rc:      rc,
		pktinfo: pktinfo,
		reqs:    make([]byte, batchSize*reqSize),
		oob:     make([]byte, batchSize*oobSize),
		srcs:    make([]byte, batchSize*oobSize),
		replies: make([]byte, 2*replySize),
	}
	for i := range b.in {
		b.inIov[i].Base = &b.reqs[i*reqSize]
		b.inIov[i].SetLen(reqSize)
		h := &b.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.inIov[i]
		h.SetIovlen(1)
		if pktinfo {
			h.Control = &b.oob[i*oobSize]
		}
	}
	b.recvFn, b.sendFn = b.recv, b.send
	return b, nil
}

// read blocks until at least one datagram is there and reads up to
// batchSize of them.
func (b *udpBatch) read() (int, error) {
	b.n, b.errno = 0, 0
	if err := b.rc.Read(b.recvFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", b.errno)
	}
	return b.n, nil
}

func (b *udpBatch) recv(fd uintptr) bool {
	for i := range b.in {
		h := &b.in[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		if b.pktinfo {
			h.SetControllen(oobSize)
		}
		h.Flags = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			b.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait in the netpoller
		}
		b.errno = e
		return true
	}
}

// request is the i-th datagram read and whether it was cut to reqSize.
func (b *udpBatch) request(i int) ([]byte, bool) {
	m := &b.in[i]
	return b.reqs[i*reqSize : i*reqSize+int(m.Len)], m.Hdr.Flags&unix.MSG_TRUNC != 0
}

// replyBuf is where the next reply is built; it has room for the largest.
// If the queue is too full for that, the caller flushes first.
func (b *udpBatch) replyBuf() ([]byte, bool) {
	if len(b.replies)-b.used < replySize {
		return nil, false
	}
	return b.replies[b.used:b.used], true
}

// queue adds resp, built in replyBuf, as the reply to the i-th request:
// to its source, from the address it reached when the socket listens on
// a wildcard address.
func (b *udpBatch) queue(i int, resp []byte) {
	if len(resp) == 0 {
		return
	}
	j := b.nout
	h := &b.out[j].Hdr
	*h = unix.Msghdr{Name: b.in[i].Hdr.Name, Namelen: b.in[i].Hdr.Namelen, Iov: &b.outIov[j]}
	h.SetIovlen(1)
	b.outIov[j].Base = &resp[0]
	b.outIov[j].SetLen(len(resp))
	if cm := b.source(i, b.srcs[j*oobSize:(j+1)*oobSize]); len(cm) > 0 {
		h.Control = &cm[0]
		h.SetControllen(len(cm))
	}
	b.nout++
	b.used += len(resp)
}

// source is the control message giving the i-th request's destination as
// its reply's source, written into buf; nil without packet info.
func (b *udpBatch) source(i int, buf []byte) []byte {
	if !b.pktinfo {
		return nil
	}
	h := &b.in[i].Hdr
	return replySource(b.oob[i*oobSize:i*oobSize+int(h.Controllen)], buf)
}

// from is the i-th request's source address, for a reply written later.
func (b *udpBatch) from(i int) netip.AddrPort { return addrPort(&b.names[i]) }

// addrPort reads a sockaddr_in or sockaddr_in6 filled by the kernel.
func addrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := func(p *uint16) uint16 { return binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:]) }
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, port(&sa.Port))
	}
	return netip.AddrPort{}
}

// flush writes the queued replies, as few sendmmsg calls as the kernel
// allows; a reply the kernel refuses is logged and skipped.
func (b *udpBatch) flush(log *slog.Logger) error {
	defer func() { b.nout, b.used = 0, 0 }()
	b.sent = 0
	for b.sent < b.nout {
		b.errno = 0
		if err := b.rc.Write(b.sendFn); err != nil {
			return err
		}
		if b.errno != 0 {
			to := addrPort((*unix.RawSockaddrInet6)(unsafe.Pointer(b.out[b.sent].Hdr.Name)))
			log.Debug("writing DNS reply", "to", to, "err", b.errno)
			b.sent++
		}
	}
	return nil
}

func (b *udpBatch) send(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[b.sent])), uintptr(b.nout-b.sent), 0, 0, 0)
		switch e {
		case 0:
			b.sent += int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		b.errno = e
		return true
	}
}

// serveUDP answers the requests of one socket until it is closed, a batch
// at a time.
func (r *Resolver) serveUDP(ctx context.Context, c *net.UDPConn, wg *sync.WaitGroup) {
	b, err := newUDPBatch(c, r.pktinfo)
	if err != nil {
		r.log.Error("serving DNS over UDP", "err", err)
		return
	}
	s := &scratch{}
	for {
		n, err := b.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			r.log.Warn("reading DNS requests", "err", err)
			continue
		}
		for i := range n {
			out, ok := b.replyBuf()
			if !ok {
				if err := b.flush(r.log); err != nil {
					return
				}
				out, _ = b.replyBuf()
			}
			s.out = out
			msg, cut := b.request(i)
			var resp []byte
			var act action
			if cut {
				resp, act = r.tooLong(msg, s)
			} else {
				resp, act = r.handle(msg, true, s)
			}
			switch act {
			case reply:
				b.queue(i, resp)
			case forward:
				r.forwardUDP(ctx, c, b, i, msg, wg)
			}
		}
		if err := b.flush(r.log); err != nil {
			return
		}
	}
}

// tooLong answers a request cut to reqSize: FORMERR, as other requests
// that cannot be read whole.
func (r *Resolver) tooLong(msg []byte, s *scratch) ([]byte, action) {
	q := query{id: binary.BigEndian.Uint16(msg), flags: binary.BigEndian.Uint16(msg[2:])}
	if q.flags&flagQR != 0 {
		return nil, drop // a response: answering it could loop
	}
	return r.headerOnly(s, &q, dns.RcodeFormatError), reply
}

// forwardUDP passes the i-th request of b to the upstream servers in its
// own goroutine, which writes the answer.
func (r *Resolver) forwardUDP(ctx context.Context, c *net.UDPConn, b *udpBatch, i int, msg []byte, wg *sync.WaitGroup) {
	select {
	case r.fwdSem <- struct{}{}:
	default:
		return // overloaded: drop, the client retries
	}
	query := append([]byte(nil), msg...)
	cm := b.source(i, make([]byte, oobSize))
	from := b.from(i)
	wg.Go(func() {
		defer func() { <-r.fwdSem }()
		if resp := r.forward(ctx, query, "udp"); resp != nil {
			c.WriteMsgUDPAddrPort(resp, cm, from)
		}
	})
}
