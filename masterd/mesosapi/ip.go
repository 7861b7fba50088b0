package mesosapi

import "net/netip"

// ipUint32 packs an IPv4 address as Mesos's MasterInfo.ip does: the four
// bytes in network order read as a little-endian integer.
func ipUint32(s string) uint32 {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0
	}
	b := a.As4()
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
