package resolver

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// oobSize fits one IPv4 or IPv6 packet-info control message.
var oobSize = max(unix.CmsgSpace(unix.SizeofInet4Pktinfo), unix.CmsgSpace(unix.SizeofInet6Pktinfo))

// replySource reads the destination address of a datagram from its control
// messages and writes the control message that makes a reply leave from it
// into buf. It returns nil if there is none.
func replySource(oob, buf []byte) []byte {
	hdr := unix.SizeofCmsghdr
	for len(oob) >= hdr {
		var l int
		if hdr == 16 {
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		lenSize := hdr - 8
		level := int32(binary.NativeEndian.Uint32(oob[lenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[lenSize+4:]))
		if l < hdr || l > len(oob) {
			return nil
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr }
			var dst [4]byte
			copy(dst[:], data[8:12])
			return cmsg(buf, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo, func(d []byte) { copy(d[4:8], dst[:]) })
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; int ifindex }
			var dst [16]byte
			copy(dst[:], data[:16])
			ifindex := binary.NativeEndian.Uint32(data[16:20])
			if !netip.AddrFrom16(dst).IsLinkLocalUnicast() {
				ifindex = 0
			}
			return cmsg(buf, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo, func(d []byte) {
				copy(d[:16], dst[:])
				binary.NativeEndian.PutUint32(d[16:], ifindex)
			})
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return nil
}

// cmsg writes one control message into buf.
func cmsg(buf []byte, level, typ, size int, fill func([]byte)) []byte {
	n := unix.CmsgSpace(size)
	buf = buf[:n]
	clear(buf)
	hdr := unix.SizeofCmsghdr
	if hdr == 16 {
		binary.NativeEndian.PutUint64(buf, uint64(unix.CmsgLen(size)))
	} else {
		binary.NativeEndian.PutUint32(buf, uint32(unix.CmsgLen(size)))
	}
	binary.NativeEndian.PutUint32(buf[hdr-8:], uint32(level))
	binary.NativeEndian.PutUint32(buf[hdr-4:], uint32(typ))
	fill(buf[unix.CmsgLen(0) : unix.CmsgLen(0)+size])
	return buf
}
