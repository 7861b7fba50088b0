// Package statetest starts a real embedded etcd for tests.
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

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Config returns an embedded etcd config on free loopback ports.
func Config(t testing.TB) state.Config {
	cfg := state.DefaultConfig(t.TempDir())
	cfg.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	cfg.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	return cfg
}

// Start runs an embedded etcd until the test ends and returns it with its
// client URL.
func Start(t testing.TB) (*state.Etcd, string) {
	t.Helper()
	cfg := Config(t)
	e, err := state.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("starting embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e, cfg.ClientURL
}
