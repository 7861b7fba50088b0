package etcdipam

import (
	"fmt"
	"iter"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// Range is one validated span of allocatable addresses in a subnet, cut into
// aligned blocks of BlockSize prefix length that hosts claim.
type Range struct {
	Subnet    netip.Prefix // masked
	Start     netip.Addr   // first allocatable address, inclusive
	End       netip.Addr   // last allocatable address, inclusive
	Gateway   netip.Addr   // never allocated
	BlockSize int          // prefix length of a block, in [Subnet.Bits(), bits-2]
}

// String names the range as host-local does: start-end.
func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// Contains reports whether a lies in [Start, End].
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.Start.BitLen() && a.Compare(r.Start) >= 0 && a.Compare(r.End) <= 0
}

// Usable reports whether a may be handed out: inside the range and not the
// subnet's network address, IPv4 broadcast address or gateway.
func (r Range) Usable(a netip.Addr) bool {
	if !r.Contains(a) || a == r.Subnet.Addr() || a == r.Gateway {
		return false
	}
	return !a.Is4() || a != lastAddr(r.Subnet)
}

// Overlaps reports whether the two ranges share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Start.BitLen() == o.Start.BitLen() && r.Start.Compare(o.End) <= 0 && o.Start.Compare(r.End) <= 0
}

// Block returns the aligned block that holds a.
func (r Range) Block(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, r.BlockSize).Masked()
}

// Blocks yields, in address order, every block that holds an address of the
// range.
func (r Range) Blocks() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		last := r.Block(r.End)
		for b := r.Block(r.Start); ; {
			if !yield(b) || b == last {
				return
			}
			b = r.Block(lastAddr(b).Next())
		}
	}
}

// Free yields, in address order, the usable addresses of the range inside
// block b for which taken is false.
func (r Range) Free(b netip.Prefix, taken func(netip.Addr) bool) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		first, last := b.Addr(), lastAddr(b)
		if first.Compare(r.Start) < 0 {
			first = r.Start
		}
		if last.Compare(r.End) > 0 {
			last = r.End
		}
		for a := first; a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
			if r.Usable(a) && !taken(a) && !yield(a) {
				return
			}
		}
	}
}

// Capacity counts the usable addresses of the range.
func (r Range) Capacity() *big.Int {
	n := new(big.Int).Sub(addrInt(r.End), addrInt(r.Start))
	n.Add(n, big.NewInt(1))
	excluded := map[netip.Addr]bool{r.Subnet.Addr(): true, r.Gateway: true}
	if r.Start.Is4() {
		excluded[lastAddr(r.Subnet)] = true
	}
	for a := range excluded {
		if r.Contains(a) {
			n.Sub(n, big.NewInt(1))
		}
	}
	return n
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8*(i+1):
		case bits <= 8*i:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> (bits - 8*i)
		}
	}
}

func addrInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// blockName is a block's name in etcd keys and block files:
// 010.020.000.064-26, its first address written to sort (sortableAddr), so
// that the names of the blocks inside a block are one key range.
func blockName(b netip.Prefix) string { return fmt.Sprintf("%s-%d", sortableAddr(b.Addr()), b.Bits()) }

// parseBlockName reverses blockName.
func parseBlockName(s string) (netip.Prefix, error) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return netip.Prefix{}, fmt.Errorf("block name %q has no prefix length", s)
	}
	a, err := parseSortableAddr(s[:i])
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("block name %q: %w", s, err)
	}
	bits, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("block name %q: %w", s, err)
	}
	p := netip.PrefixFrom(a, bits)
	if !p.IsValid() || p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("block name %q is not an aligned block", s)
	}
	return p, nil
}

// sortableAddr writes a so that keys sort by address within a family:
// 010.020.000.005, fd00:0000:0000:0000:0000:0000:0000:0005.
func sortableAddr(a netip.Addr) string {
	if a.Is4() {
		b := a.As4()
		return fmt.Sprintf("%03d.%03d.%03d.%03d", b[0], b[1], b[2], b[3])
	}
	return a.StringExpanded()
}

// parseSortableAddr reverses sortableAddr.
func parseSortableAddr(s string) (netip.Addr, error) {
	if strings.Contains(s, ":") {
		return netip.ParseAddr(s)
	}
	var b [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, fmt.Errorf("address key %q is not a padded IPv4 address", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("address key %q: %w", s, err)
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}
