package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/mesos"
)

// transportStats counts what the agents' shared client did on the wire.
type transportStats struct {
	dials, open   atomic.Int64 // TCP connections dialed and still open
	subscribes    atomic.Int64 // SUBSCRIBE requests
	subscribeErrs atomic.Int64 // of which failed or were refused
	calls         atomic.Int64 // calls on a stream: HEARTBEATs here
	callErrs      atomic.Int64 // of which failed or were refused
	proto         atomic.Pointer[string]

	mu      sync.Mutex      // guards callLat and errs
	callLat []time.Duration // of each successful call, in order of completion
	errs    map[string]int  // failed requests by kind
}

// maxErrKinds bounds errs; further kinds are counted as "other".
const maxErrKinds = 20

func (st *transportStats) failed(kind string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.errs == nil {
		st.errs = map[string]int{}
	}
	if _, ok := st.errs[kind]; !ok && len(st.errs) >= maxErrKinds {
		kind = "other"
	}
	st.errs[kind]++
}

// errorKinds returns the failures by kind, most frequent first, at most n.
func (st *transportStats) errorKinds(n int) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	kinds := make([]string, 0, len(st.errs))
	for k := range st.errs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if st.errs[kinds[i]] != st.errs[kinds[j]] {
			return st.errs[kinds[i]] > st.errs[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	var parts []string
	for _, k := range kinds[:min(n, len(kinds))] {
		parts = append(parts, fmt.Sprintf("%d× %s", st.errs[k], k))
	}
	return strings.Join(parts, "; ")
}

// callLatencies returns the latencies of the calls completed after the
// first from.
func (st *transportStats) callLatencies(from int) []time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]time.Duration(nil), st.callLat[min(from, len(st.callLat)):]...)
}

func (st *transportStats) callsDone() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.callLat)
}

// newAgentClient returns the client every simulated agent shares: HTTP/2
// without TLS unless http1, so thousands of streams share a few sockets.
func newAgentClient(http1 bool, st *transportStats) (*http.Client, *http.Transport) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			st.dials.Add(1)
			st.open.Add(1)
			return &countedConn{Conn: c, open: &st.open}, nil
		},
		// HTTP/1.1 heartbeats would otherwise redial nearly every time.
		MaxIdleConnsPerHost: 1000,
	}
	tr.Protocols = new(http.Protocols)
	if http1 {
		tr.Protocols.SetHTTP1(true)
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: &countingTransport{next: tr, st: st}}, tr
}

// countedConn keeps transportStats.open current.
type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// countingTransport counts subscriptions and calls and their failures.
type countingTransport struct {
	next http.RoundTripper
	st   *transportStats
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := req.Header.Get(mesos.StreamIDHeader) != ""
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(start)
	n, errs, what := &t.st.subscribes, &t.st.subscribeErrs, "SUBSCRIBE"
	if call {
		n, errs, what = &t.st.calls, &t.st.callErrs, "call"
	}
	n.Add(1)
	switch {
	case err != nil:
		if req.Context().Err() == nil {
			errs.Add(1)
			t.st.failed(what + ": " + err.Error())
		}
	case resp.StatusCode >= 400:
		errs.Add(1)
		// The body names the agent and stream; the status is the kind.
		t.st.failed(what + ": " + resp.Status)
	default:
		if t.st.proto.Load() == nil {
			t.st.proto.Store(ptr(resp.Proto))
		}
		if call {
			t.st.mu.Lock()
			t.st.callLat = append(t.st.callLat, took)
			t.st.mu.Unlock()
		}
	}
	return resp, err
}

func ptr[T any](v T) *T { return &v }
