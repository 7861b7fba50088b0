package state_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"corral/masterd/state"
	"corral/masterd/state/statetest"
	"corral/tstest/testca"
)

// An external etcd that requires client certificates: masterd's store
// works through it with --etcd-cafile/--etcd-certfile/--etcd-keyfile, and
// is refused without its certificate.
func TestOpenExternalEtcdOverTLS(t *testing.T) {
	ca := testca.New(t, "etcd")
	url := statetest.StartTLS(t, ca)
	client := ca.Issue(t, "masterd")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := state.DefaultConfig(t.TempDir())
	cfg.Endpoints = []string{url}
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = ca.CertFile, client.CertFile, client.KeyFile
	e, err := state.Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("Open over TLS: %v", err)
	}
	defer e.Close()
	if err := state.NewCollection[string](e.Store(), "tls").Put(context.Background(), "k", "v"); err != nil {
		t.Fatalf("writing over TLS: %v", err)
	}

	noCert := cfg
	noCert.CertFile, noCert.KeyFile = "", ""
	noCert.DialTimeout = 2 * time.Second
	if e, err := state.Open(context.Background(), noCert, log); err == nil {
		e.Close()
		t.Fatal("Open without a client certificate succeeded against an etcd with --client-cert-auth")
	}
}

func TestEtcdTLSConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*state.Config)
		want string
	}{
		{"cert without key", func(c *state.Config) {
			c.Endpoints, c.CertFile = []string{"https://127.0.0.1:2379"}, "c.pem"
		}, "--etcd-certfile"},
		{"TLS on the embedded etcd", func(c *state.Config) { c.CAFile = "ca.pem" }, "needs --etcd-endpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := state.DefaultConfig(t.TempDir())
			tc.set(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
