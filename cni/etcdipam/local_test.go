package etcdipam

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// blockState opens dir again, as the next command would, and describes
// block b's allocations.
func blockState(t *testing.T, dir string, b netip.Prefix) string {
	t.Helper()
	l, err := openLocal(context.Background(), dir)
	if err != nil {
		t.Fatalf("opening %s: %v", dir, err)
	}
	defer l.close()
	lb := l.blocks[b]
	if lb == nil {
		return "no block"
	}
	var s []string
	for _, x := range lb.IPs {
		s = append(s, fmt.Sprintf("%s=%s/%s", x.Address.Address.Addr(), x.ContainerID, x.IfName))
	}
	return strings.Join(s, " ")
}

// change opens dir, runs f on block b, and closes it.
func change(t *testing.T, dir string, b netip.Prefix, f func(*local, *localBlock) error) {
	t.Helper()
	l, err := openLocal(context.Background(), dir)
	if err != nil {
		t.Fatalf("opening %s: %v", dir, err)
	}
	defer l.close()
	if err := f(l, l.blocks[b]); err != nil {
		t.Fatal(err)
	}
}

func alloc(addr, cid string) allocation {
	return allocation{Address: Address{Address: netip.MustParsePrefix(addr)}, ContainerID: cid, IfName: "eth0"}
}

// A crash can leave the last line of a block file torn (a release is not
// fsynced; an ADD may die before its fsync). The torn line is ignored and
// cut off by the next append, so what is appended after it is read back.
func TestBlockFileTornLines(t *testing.T) {
	dir := t.TempDir()
	b := netip.MustParsePrefix("10.20.0.0/26")
	change(t, dir, b, func(l *local, _ *localBlock) error { return l.create(b, 7) })
	change(t, dir, b, func(l *local, lb *localBlock) error { return l.allocate(lb, alloc("10.20.0.2/16", "c1")) })
	change(t, dir, b, func(l *local, lb *localBlock) error { return l.allocate(lb, alloc("10.20.0.3/16", "c2")) })
	path := blockFile(dir, b)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tail string
		want string
	}{
		{"half a release", `0a1b2c3d {"release":{"contai`, "10.20.0.2=c1/eth0 10.20.0.3=c2/eth0"},
		{"zeros", "\x00\x00\x00\x00\x00\x00\x00\x00", "10.20.0.2=c1/eth0 10.20.0.3=c2/eth0"},
		{"zeros longer than the next line", strings.Repeat("\x00", 500), "10.20.0.2=c1/eth0 10.20.0.3=c2/eth0"},
		{"a whole line whose CRC fails", `00000000 {"release":{"containerID":"c1","ifname":"eth0"}}` + "\n", "10.20.0.2=c1/eth0 10.20.0.3=c2/eth0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, append(append([]byte(nil), full...), tc.tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := blockState(t, dir, b); got != tc.want {
				t.Fatalf("after a torn write, block = %q, want %q", got, tc.want)
			}
			change(t, dir, b, func(l *local, lb *localBlock) error { return l.allocate(lb, alloc("10.20.0.4/16", "c3")) })
			change(t, dir, b, func(l *local, lb *localBlock) error { return l.release(lb, Attachment{"c1", "eth0"}) })
			if got, want := blockState(t, dir, b), "10.20.0.3=c2/eth0 10.20.0.4=c3/eth0"; got != want {
				t.Errorf("appended after the torn line, block = %q, want %q", got, want)
			}
		})
	}
	for _, bad := range []string{"", "not a block file\n", `00000000 {"block":"10.20.0.0/26","claim":7}` + "\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if l, err := openLocal(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "is corrupt") {
			if l != nil {
				l.close()
			}
			t.Errorf("block file %q: openLocal = %v, want it corrupt", bad, err)
		}
	}
}

// A block file that churns is written anew now and then, so it stays
// short and reads back the same.
func TestBlockFileCompaction(t *testing.T) {
	dir := t.TempDir()
	b := netip.MustParsePrefix("10.20.0.0/26")
	change(t, dir, b, func(l *local, _ *localBlock) error { return l.create(b, 7) })
	change(t, dir, b, func(l *local, lb *localBlock) error { return l.allocate(lb, alloc("10.20.0.2/16", "keep")) })
	for i := range 500 {
		cid := fmt.Sprint("c", i)
		change(t, dir, b, func(l *local, lb *localBlock) error { return l.allocate(lb, alloc("10.20.0.3/16", cid)) })
		change(t, dir, b, func(l *local, lb *localBlock) error { return l.release(lb, Attachment{cid, "eth0"}) })
	}
	data, err := os.ReadFile(blockFile(dir, b))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(data), "\n"); lines > compactAfter+3 {
		t.Errorf("after 1,000 changes the block file has %d lines, want at most %d", lines, compactAfter+3)
	}
	if got, want := blockState(t, dir, b), "10.20.0.2=keep/eth0"; got != want {
		t.Errorf("block = %q, want %q", got, want)
	}
}
