// Package etcdgw posts requests to etcd's v3 JSON gateway (/v3/kv/…, on
// every client URL by default) with net/http: the etcdrpc.Caller of
// corral-ipam-etcd, and of tests that run corral-ipam's commands in
// their own process. The plugin itself does not link it (see etcdrpc).
package etcdgw

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"corral/cni/etcdrpc"
)

// Client is an etcdrpc.Caller over HTTP(S).
type Client struct {
	endpoints []string
	http      *http.Client
}

// New returns a client of cfg's endpoints; it dials nothing yet.
func New(cfg etcdrpc.Config) (*Client, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConnsPerHost: 2,
	}
	if cfg.CAFile != "" || cfg.CertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("reading ipam.etcdCAFile: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ipam.etcdCAFile %q holds no PEM certificate", cfg.CAFile)
			}
		}
		if cfg.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("loading ipam.etcdCertFile and ipam.etcdKeyFile: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	return &Client{endpoints: cfg.Endpoints, http: &http.Client{Transport: tr}}, nil
}

// Dial is New as an etcdrpc.Caller.
func Dial(cfg etcdrpc.Config) (etcdrpc.Caller, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close drops the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Call posts body to path on the first endpoint that answers.
func (c *Client) Call(ctx context.Context, path string, body []byte) ([]byte, error) {
	var errs []error
	for _, ep := range c.endpoints {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(ep, "/")+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", "application/json")
		r, err := c.http.Do(hr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", etcdrpc.ErrUnreachable, ctx.Err())
			}
			errs = append(errs, err)
			continue // the next endpoint may be up
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		r.Body.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.StatusCode != http.StatusOK {
			ee := &etcdrpc.Error{}
			if json.Unmarshal(data, ee) != nil || ee.Message == "" {
				ee = &etcdrpc.Error{Code: etcdrpc.CodeUnavailable, Message: fmt.Sprintf("HTTP %s: %.200s", r.Status, data)}
			}
			if ee.Code == etcdrpc.CodeUnavailable {
				errs = append(errs, ee) // no leader here, say; try another member
				continue
			}
			return nil, ee
		}
		return data, nil
	}
	return nil, fmt.Errorf("%w: %w", etcdrpc.ErrUnreachable, errors.Join(errs...))
}
