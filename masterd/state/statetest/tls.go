package statetest

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"corral/tstest/testca"
)

// StartTLS runs an etcd that serves its clients over TLS only and
// requires client certificates (etcd's --client-cert-auth), with its
// server certificate from ca, until the test ends. It returns the client
// URL (https://127.0.0.1:port); clients need a certificate of ca too.
func StartTLS(t testing.TB, ca *testca.CA) string {
	t.Helper()
	server := ca.Issue(t, "etcd-server")
	for attempt := 1; ; attempt++ {
		cu, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", FreePort(t)))
		pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)))
		dir := t.TempDir()
		ec := embed.NewConfig()
		ec.Name = "tls"
		ec.Dir = filepath.Join(dir, "etcd")
		ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
		ec.ClientTLSInfo.CertFile, ec.ClientTLSInfo.KeyFile = server.CertFile, server.KeyFile
		ec.ClientTLSInfo.TrustedCAFile, ec.ClientTLSInfo.ClientCertAuth = ca.CertFile, true
		ec.LogLevel = "error"
		ec.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
		srv, err := embed.StartEtcd(ec)
		if err != nil && attempt < 5 && addrInUse(err) {
			continue
		}
		if err != nil {
			t.Fatalf("starting etcd with TLS: %v", err)
		}
		t.Cleanup(srv.Close)
		select {
		case <-srv.Server.ReadyNotify():
			return cu.String()
		case err := <-srv.Err():
			t.Fatalf("etcd with TLS failed: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("etcd with TLS did not become ready within 60s")
		}
	}
}
