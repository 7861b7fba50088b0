package httpproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names: into one file
// (cert then key) when keyFile is "", else into two.
func writeCert(t *testing.T, certFile, keyFile string, names ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if keyFile == "" {
		c = append(c, k...)
	} else if err := os.WriteFile(keyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, c, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEdgeTLS(t *testing.T) {
	dir := t.TempDir()
	svcCert := filepath.Join(t.TempDir(), "svc.pem")
	writeCert(t, svcCert, "", "svc.example.com")
	be := newBackend(t, "be", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-Proto"))
	})
	cfg := DefaultConfig()
	cfg.TLSCertDir = dir
	cfg.CertCheckInterval = 20 * time.Millisecond
	h := newHarness(t, cfg, nil)
	if h.p.HasCertificates() {
		t.Fatal("HasCertificates() = true with an empty directory and no table")
	}
	writeCert(t, filepath.Join(dir, "a.pem"), "", "a.example.com")
	writeCert(t, filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key"), "*.b.example.com")
	h.tables.set(buildTable(t, 1, appSpec{id: "/a", servicePort: 10001,
		labels: withLabels(vhost("a.example.com"), "HAPROXY_0_SSL_CERT", svcCert, "HAPROXY_0_REDIRECT_TO_HTTPS", "true"), backends: []string{be.addr()}}))
	if !h.p.HasCertificates() {
		t.Fatal("HasCertificates() = false with certificates")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.p.ServeEdgeTLS(ln)
	addr := ln.Addr().String()
	served := func(sni string) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake for %q: %v", sni, err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].DNSNames[0]
	}
	for sni, want := range map[string]string{
		"a.example.com": "a.example.com", "x.b.example.com": "*.b.example.com",
		"svc.example.com": "svc.example.com", "unknown.example.com": "a.example.com",
	} {
		if got := served(sni); got != want {
			t.Errorf("certificate for SNI %q is for %q, want %q", sni, got, want)
		}
	}
	writeCert(t, filepath.Join(dir, "c.pem"), "", "c.example.com")
	waitFor(t, "the new certificate served", func() bool { return served("c.example.com") == "c.example.com" })

	// Requests over TLS are not redirected and say so to the backend.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com"}}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = "a.example.com"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "https" {
		t.Errorf("GET over TLS = %d %q, want 200 and X-Forwarded-Proto https", resp.StatusCode, body)
	}
}
