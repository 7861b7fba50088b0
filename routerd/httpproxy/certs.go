package httpproxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/routerd/route"
)

// certStore holds the edge's certificates: the files of a directory and
// those the services name (HAPROXY_{n}_SSL_CERT). A handshake checks, at
// most once per interval, whether a file was added, removed or changed
// (by name, size and modification time) and reloads them all if so.
type certStore struct {
	dir      string
	interval time.Duration
	table    func() *route.Table
	log      *slog.Logger

	next atomic.Int64 // unix nanos of the next check

	mu  sync.Mutex // guards sig, and serialises reloads
	sig string     // what the files looked like at the last load
	set atomic.Pointer[certSet]
}

// certSet is one loaded generation of certificates.
type certSet struct {
	exact    map[string]*tls.Certificate // lower-case DNS name
	wildcard map[string]*tls.Certificate // "example.com" for *.example.com
	first    *tls.Certificate            // served when no name matches
}

func newCertStore(dir string, interval time.Duration, table func() *route.Table, log *slog.Logger) *certStore {
	return &certStore{dir: dir, interval: interval, table: table, log: log}
}

// has reports whether any certificate is loaded, checking the files now.
func (c *certStore) has() bool {
	c.refresh(true)
	s := c.set.Load()
	return s != nil && s.first != nil
}

// get picks the certificate for a handshake by its SNI.
func (c *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.refresh(false)
	s := c.set.Load()
	if s == nil || s.first == nil {
		return nil, errors.New("no certificate")
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if cert := s.exact[name]; cert != nil {
		return cert, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if cert := s.wildcard[name[i+1:]]; cert != nil {
			return cert, nil
		}
	}
	return s.first, nil
}

// refresh reloads the certificates when their files changed; unless now,
// at most once per interval.
func (c *certStore) refresh(now bool) {
	t := time.Now().UnixNano()
	if !now && t < c.next.Load() {
		return
	}
	c.next.Store(t + int64(c.interval))
	c.mu.Lock()
	defer c.mu.Unlock()
	files := c.files()
	var sig strings.Builder
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			sig.WriteString(f + " missing\n")
			continue
		}
		sig.WriteString(f + " " + st.ModTime().String() + " " + strconv.FormatInt(st.Size(), 10) + "\n")
	}
	if sig.String() == c.sig && c.set.Load() != nil {
		return
	}
	c.sig = sig.String()
	c.set.Store(c.load(files))
}

// files lists the certificate files: the directory's *.pem and *.crt
// sorted by name, then the services' SSL_CERT paths.
func (c *certStore) files() []string {
	var out []string
	if c.dir != "" {
		ents, err := os.ReadDir(c.dir)
		if err != nil {
			c.log.Warn("reading certificate directory", "dir", c.dir, "err", err)
		}
		for _, e := range ents {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".pem") || strings.HasSuffix(n, ".crt")) {
				out = append(out, filepath.Join(c.dir, n))
			}
		}
		sort.Strings(out)
	}
	seen := map[string]bool{}
	if t := c.table(); t != nil {
		for _, s := range t.Services {
			if s.SSLCert != "" && !seen[s.SSLCert] {
				seen[s.SSLCert] = true
				out = append(out, s.SSLCert)
			}
		}
	}
	return out
}

func (c *certStore) load(files []string) *certSet {
	s := &certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for _, f := range files {
		cert, err := loadPair(f)
		if err != nil {
			c.log.Warn("loading certificate", "file", f, "err", err)
			continue
		}
		if s.first == nil {
			s.first = cert
		}
		names := cert.Leaf.DNSNames
		if len(names) == 0 && cert.Leaf.Subject.CommonName != "" {
			names = []string{cert.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if w, ok := strings.CutPrefix(n, "*."); ok {
				if s.wildcard[w] == nil {
					s.wildcard[w] = cert
				}
			} else if s.exact[n] == nil {
				s.exact[n] = cert
			}
		}
	}
	return s
}

// loadPair reads a certificate and its key from f, or from f and the file
// with f's name and the extension .key.
func loadPair(f string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	keyPEM := certPEM
	if !bytes.Contains(certPEM, []byte("PRIVATE KEY-----")) {
		keyFile := strings.TrimSuffix(f, filepath.Ext(f)) + ".key"
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return nil, errors.New("no private key in the file nor a readable " + keyFile)
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}
