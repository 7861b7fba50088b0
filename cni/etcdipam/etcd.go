package etcdipam

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
	"time"
)

// etcdClient speaks etcd's v3 API through its JSON gateway (/v3/kv/…, on
// every client URL by default) with net/http. The plugin is a new process
// per command: etcd's gRPC client would add its package initialisation
// (protobuf descriptors, gRPC, zap: ~10 ms, measured) to every ADD and DEL,
// although most of them never reach etcd.
type etcdClient struct {
	endpoints []string
	http      *http.Client
}

// newEtcdClient returns a client of the endpoints; TLS files may be empty.
func newEtcdClient(endpoints []string, caFile, certFile, keyFile string, dialTimeout time.Duration) (*etcdClient, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSHandshakeTimeout: dialTimeout,
		MaxIdleConnsPerHost: 2,
	}
	if caFile != "" || certFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, fmt.Errorf("reading ipam.etcdCAFile: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ipam.etcdCAFile %q holds no PEM certificate", caFile)
			}
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("loading ipam.etcdCertFile and ipam.etcdKeyFile: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	return &etcdClient{endpoints: endpoints, http: &http.Client{Transport: tr}}, nil
}

// close drops the client's idle connections.
func (c *etcdClient) close() { c.http.CloseIdleConnections() }

// keyValue is a key as etcd returns it.
type keyValue struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
}

type responseHeader struct {
	Revision int64 `json:"revision,string"`
}

type rangeResponse struct {
	Header responseHeader `json:"header"`
	Kvs    []keyValue     `json:"kvs"`
}

// get reads key, or with end the keys in [key, end).
func (c *etcdClient) get(ctx context.Context, key, end string) ([]keyValue, error) {
	req := map[string]any{"key": []byte(key)}
	if end != "" {
		req["range_end"] = []byte(end)
	}
	var resp rangeResponse
	if err := c.call(ctx, "/v3/kv/range", req, &resp); err != nil {
		return nil, err
	}
	return resp.Kvs, nil
}

// cmp is one compare of a transaction.
type cmp map[string]any

// absent compares that no key in [key, end) exists, or key alone when end
// is empty.
func absent(key, end string) cmp {
	c := cmp{"key": []byte(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
	if end != "" {
		c["range_end"] = []byte(end)
	}
	return c
}

// created compares that key exists with the given create revision: the
// same claim, not one deleted and made again.
func created(key string, rev int64) cmp {
	return cmp{"key": []byte(key), "target": "CREATE", "result": "EQUAL", "create_revision": fmt.Sprint(rev)}
}

// op is one operation of a transaction.
type op map[string]any

func opPut(key string, value []byte) op {
	return op{"request_put": map[string]any{"key": []byte(key), "value": value}}
}

func opDelete(key string) op {
	return op{"request_delete_range": map[string]any{"key": []byte(key)}}
}

// txn commits "if every compare holds then ops" and reports whether they
// held and the revision of the commit.
func (c *etcdClient) txn(ctx context.Context, cmps []cmp, ops []op) (bool, int64, error) {
	var resp struct {
		Header    responseHeader `json:"header"`
		Succeeded bool           `json:"succeeded"`
	}
	if err := c.call(ctx, "/v3/kv/txn", map[string]any{"compare": cmps, "success": ops}, &resp); err != nil {
		return false, 0, err
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// etcdError is an error etcd answered with: a gRPC status code and message.
type etcdError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *etcdError) Error() string { return fmt.Sprintf("etcd: %s (code %d)", e.Message, e.Code) }

// gRPC status codes that clear up without a change of configuration.
const (
	grpcCanceled          = 1
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcAborted           = 10
	grpcUnavailable       = 14
)

// errUnreachable wraps a failure to reach any endpoint.
var errUnreachable = errors.New("etcd unreachable")

// call posts req to path on the first endpoint that answers.
func (c *etcdClient) call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range c.endpoints {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(ep, "/")+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		hr.Header.Set("Content-Type", "application/json")
		r, err := c.http.Do(hr)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %w", errUnreachable, ctx.Err())
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
			ee := &etcdError{}
			if json.Unmarshal(data, ee) != nil || ee.Message == "" {
				ee = &etcdError{Code: grpcUnavailable, Message: fmt.Sprintf("HTTP %s: %.200s", r.Status, data)}
			}
			if ee.Code == grpcUnavailable {
				errs = append(errs, ee) // no leader here, say; try another member
				continue
			}
			return ee
		}
		if err := json.Unmarshal(data, resp); err != nil {
			return fmt.Errorf("decoding etcd's answer to %s: %w", path, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %w", errUnreachable, errors.Join(errs...))
}

// transient reports whether err is etcd being away or overloaded, which
// clears up without a change of configuration.
func transient(err error) bool {
	if errors.Is(err, errUnreachable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ee *etcdError
	if errors.As(err, &ee) {
		switch ee.Code {
		case grpcUnavailable, grpcDeadlineExceeded, grpcResourceExhausted, grpcAborted, grpcCanceled:
			return true
		}
	}
	return false
}
