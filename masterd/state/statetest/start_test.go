package statetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"corral/masterd/state"
)

// A port taken before etcd listens is told apart from other failures, so
// that Start can take new ports.
func TestPortTakenIsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config(t)
	cfg.ClientURL = fmt.Sprintf("http://%s", ln.Addr())
	e, err := state.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		e.Close()
		t.Fatal("etcd started on a port already taken")
	}
	if !addrInUse(err) {
		t.Fatalf("error for a taken port %q is not recognised as one", err)
	}
}
