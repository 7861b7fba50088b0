package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestAllocator(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(dir, netip.MustParsePrefix("10.9.0.0/29")) // .2 … .6: .0 network, .1 gateway, .7 broadcast
	got := map[string]netip.Addr{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ip, err := a.Allocate(id)
		if err != nil {
			t.Fatalf("Allocate(%s): %v", id, err)
		}
		got[id] = ip
	}
	want := map[string]string{"a": "10.9.0.2", "b": "10.9.0.3", "c": "10.9.0.4", "d": "10.9.0.5", "e": "10.9.0.6"}
	for id, ip := range want {
		if got[id].String() != ip {
			t.Errorf("Allocate(%s) = %s, want %s", id, got[id], ip)
		}
	}
	if ip, err := a.Allocate("c"); err != nil || ip != got["c"] {
		t.Errorf("Allocate(c) again = %s, %v; want the same %s", ip, err, got["c"])
	}
	if _, err := a.Allocate("f"); err == nil {
		t.Errorf("Allocate(f) in a full subnet succeeded")
	}
	if err := a.Release("b"); err != nil {
		t.Fatal(err)
	}
	if err := a.Release("b"); err != nil {
		t.Errorf("Release twice: %v", err)
	}

	// A new allocator (agentd restarted) sees the reservations, and does
	// not hand out the address released last before the others.
	a2 := newAllocator(dir, netip.MustParsePrefix("10.9.0.0/29"))
	owners, err := a2.Owners()
	if err != nil || len(owners) != 4 || owners[got["a"]] != "a" {
		t.Fatalf("Owners after restart = %v, %v; want 4 reservations with a's", owners, err)
	}
	if ip, err := a2.Allocate("f"); err != nil || ip.String() != "10.9.0.3" {
		t.Errorf("Allocate(f) = %s, %v; want the only free address 10.9.0.3", ip, err)
	}
	a2.Release("a")
	a2.Release("c")
	if ip, _ := a2.Allocate("g"); ip.String() != "10.9.0.4" {
		t.Errorf("Allocate(g) = %s, want 10.9.0.4 (round-robin after the last reserved, 10.9.0.3)", ip)
	}
	if _, err := os.Stat(filepath.Join(dir, "10.9.0.2")); !os.IsNotExist(err) {
		t.Errorf("released address still has its file: %v", err)
	}
}
