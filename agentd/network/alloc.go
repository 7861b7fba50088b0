package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// allocator hands out the bridge's addresses, one per task, keeping each
// reservation as a file named after the address and holding the owner's ID
// (host-local's layout), so reservations survive agentd restarts. Addresses
// go round-robin from the last one handed out, so a released address is not
// reused at once.
type allocator struct {
	dir    string
	subnet netip.Prefix

	mu sync.Mutex // guards the files in dir
}

const lastFile = "last_reserved"

func newAllocator(dir string, subnet netip.Prefix) *allocator {
	return &allocator{dir: dir, subnet: subnet}
}

// first and last are the allocatable span: the subnet without its network
// address, the gateway (its first address) and the broadcast address.
func (a *allocator) span() (first, last netip.Addr) {
	first = a.subnet.Addr().Next().Next()
	b := a.subnet.Addr().As4()
	host := uint32(1)<<(32-a.subnet.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	v-- // not the broadcast address
	last = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return first, last
}

// Allocate reserves an address for id, or returns the one id holds.
func (a *allocator) Allocate(id string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return netip.Addr{}, fmt.Errorf("creating the allocation directory: %w", err)
	}
	owners, err := a.owners()
	if err != nil {
		return netip.Addr{}, err
	}
	for ip, owner := range owners {
		if owner == id {
			return ip, nil
		}
	}
	first, last := a.span()
	start := first
	if b, err := os.ReadFile(filepath.Join(a.dir, lastFile)); err == nil {
		if prev, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && a.subnet.Contains(prev) && prev.Compare(last) < 0 && prev.Compare(first) >= 0 {
			start = prev.Next()
		}
	}
	ip := start
	for {
		if _, taken := owners[ip]; !taken {
			f, err := os.OpenFile(filepath.Join(a.dir, ip.String()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err == nil {
				_, werr := f.WriteString(id)
				cerr := f.Close()
				if werr != nil || cerr != nil {
					os.Remove(f.Name())
					return netip.Addr{}, fmt.Errorf("reserving %s: %w", ip, errors.Join(werr, cerr))
				}
				_ = os.WriteFile(filepath.Join(a.dir, lastFile), []byte(ip.String()), 0o600)
				return ip, nil
			}
			if !errors.Is(err, os.ErrExist) {
				return netip.Addr{}, fmt.Errorf("reserving %s: %w", ip, err)
			}
		}
		if ip = ip.Next(); ip.Compare(last) > 0 {
			ip = first
		}
		if ip == start {
			return netip.Addr{}, fmt.Errorf("no free address in the bridge subnet %s: %d tasks hold them all", a.subnet, len(owners))
		}
	}
}

// Release frees the addresses id holds; releasing nothing is no error.
func (a *allocator) Release(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	owners, err := a.owners()
	if err != nil {
		return err
	}
	var errs []error
	for ip, owner := range owners {
		if owner == id {
			if err := os.Remove(filepath.Join(a.dir, ip.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("releasing %s: %w", ip, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Owners returns every reservation: address → owner ID.
func (a *allocator) Owners() (map[netip.Addr]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.owners()
}

func (a *allocator) owners() (map[netip.Addr]string, error) {
	entries, err := os.ReadDir(a.dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[netip.Addr]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the bridge's allocations: %w", err)
	}
	out := make(map[netip.Addr]string, len(entries))
	for _, e := range entries {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading the allocation of %s: %w", ip, err)
		}
		out[ip] = strings.TrimSpace(string(b))
	}
	return out, nil
}
