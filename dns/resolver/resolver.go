// Package resolver serves a records.RecordSet over DNS, as Mesos-DNS does:
// authoritative answers for the domain from tables packed when the records
// change, forwarding (or REFUSED) for other names, and Mesos-DNS's HTTP API.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"corral/accept"
	"corral/dns/records"
)

// Resolver is a DNS server for one zone and its HTTP API.
type Resolver struct {
	cfg       Config
	log       *slog.Logger
	zone      []byte // lower-case wire form of the domain
	domain    string // fully qualified, lower case
	upstreams []string
	ra        bool // recursion available: names outside the zone are forwarded
	table     atomic.Pointer[table]
	fwdSem    chan struct{}
	tcpSem    chan struct{}

	mu       sync.Mutex // guards the fields below
	udp      []*net.UDPConn
	tcp      net.Listener
	httpLn   net.Listener
	conns    map[net.Conn]struct{}
	pktinfo  bool // replies set their source address
	closed   bool
	listened bool
}

// New returns a Resolver for a validated cfg. It answers SERVFAIL for the
// domain until the first Update.
func New(cfg Config, log *slog.Logger) (*Resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	domain := dns.Fqdn(cfgDomain(cfg))
	zone, err := wireName(domain)
	if err != nil {
		return nil, fmt.Errorf("packing domain %q: %w", domain, err)
	}
	r := &Resolver{
		cfg:    cfg,
		log:    log.With("component", "dns"),
		zone:   zone,
		domain: domain,
		fwdSem: make(chan struct{}, cfg.MaxForwards),
		tcpSem: make(chan struct{}, cfg.MaxTCPConns),
		conns:  map[net.Conn]struct{}{},
	}
	for _, u := range cfg.Resolvers {
		a, _ := upstream(u)
		r.upstreams = append(r.upstreams, a)
	}
	r.ra = len(r.upstreams) > 0
	return r, nil
}

func cfgDomain(cfg Config) string {
	d := []byte(cfg.Records.Domain)
	for i, c := range d {
		if c >= 'A' && c <= 'Z' {
			d[i] = c + 'a' - 'A'
		}
	}
	return string(d)
}

// Update serves rs from now on. at is when rs was generated; it becomes the
// SOA serial (Unix seconds, as Mesos-DNS) and the records' age. A set for
// another domain is refused.
func (r *Resolver) Update(rs records.RecordSet, at time.Time) {
	if rs.Domain() != r.domain {
		r.log.Error("record set ignored, for another domain", "domain", rs.Domain(), "want", r.domain)
		return
	}
	t, skipped := buildTable(rs, at)
	if t == nil {
		r.log.Error("record set ignored, its SOA cannot be packed", "domain", rs.Domain())
		return
	}
	if skipped > 0 {
		r.log.Warn("names left out of the zone", "count", skipped)
	}
	r.table.Store(t)
}

// Updated is when the records served were generated; zero before the first
// Update.
func (r *Resolver) Updated() time.Time {
	if t := r.table.Load(); t != nil {
		return t.at
	}
	return time.Time{}
}

// Age is how old the records served are; zero before the first Update (see
// Updated).
func (r *Resolver) Age() time.Duration {
	at := r.Updated()
	if at.IsZero() {
		return 0
	}
	return time.Since(at)
}

// Listen binds the DNS sockets (UDP, one per core, and TCP on the same
// port) and the HTTP listener. Addr and HTTPAddr report the addresses.
func (r *Resolver) Listen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listened {
		return errors.New("resolver already listening")
	}
	if r.cfg.Listen != "" {
		if err := r.listenDNS(); err != nil {
			return err
		}
	}
	if r.cfg.HTTPListen != "" {
		ln, err := net.Listen("tcp", r.cfg.HTTPListen)
		if err != nil {
			r.closeLocked()
			return fmt.Errorf("listening for HTTP on %s: %w", r.cfg.HTTPListen, err)
		}
		r.httpLn = ln
	}
	r.listened = true
	return nil
}

// listenDNS binds UDP first, then TCP on the UDP port; with port 0 it tries
// again if another process holds that port for TCP.
func (r *Resolver) listenDNS() error {
	host, port, _ := net.SplitHostPort(r.cfg.Listen)
	ip := net.ParseIP(host)
	r.pktinfo = ip == nil || ip.IsUnspecified()
	n := r.cfg.UDPSockets
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	var lastErr error
	for range 5 {
		first, err := listenUDP(r.cfg.Listen, r.pktinfo)
		if err != nil {
			return fmt.Errorf("listening for DNS on udp %s: %w", r.cfg.Listen, err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(first.LocalAddr().(*net.UDPAddr).Port))
		r.udp = []*net.UDPConn{first}
		for len(r.udp) < n {
			c, err := listenUDP(bound, r.pktinfo)
			if err != nil {
				r.closeLocked()
				return fmt.Errorf("listening for DNS on udp %s: %w", bound, err)
			}
			r.udp = append(r.udp, c)
		}
		ln, err := net.Listen("tcp", bound)
		if err == nil {
			r.tcp = ln
			return nil
		}
		r.closeLocked()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return fmt.Errorf("listening for DNS on tcp %s: %w", r.cfg.Listen, lastErr)
}

// closeLocked closes every listener and connection.
func (r *Resolver) closeLocked() {
	for _, c := range r.udp {
		c.Close()
	}
	r.udp = nil
	if r.tcp != nil {
		r.tcp.Close()
		r.tcp = nil
	}
	if r.httpLn != nil {
		r.httpLn.Close()
		r.httpLn = nil
	}
	for c := range r.conns {
		c.Close()
	}
}

// Addr is the DNS address bound (UDP; TCP has the same port), nil if none.
func (r *Resolver) Addr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.udp) == 0 {
		return nil
	}
	return r.udp[0].LocalAddr()
}

// HTTPAddr is the HTTP API's address, nil if none.
func (r *Resolver) HTTPAddr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.httpLn == nil {
		return nil
	}
	return r.httpLn.Addr()
}

// Serve answers DNS and HTTP requests until ctx ends, then closes every
// socket and waits for its goroutines. It calls Listen if that has not been
// done.
func (r *Resolver) Serve(ctx context.Context) error {
	r.mu.Lock()
	listened, closed := r.listened, r.closed
	r.mu.Unlock()
	if closed {
		return errors.New("resolver already served")
	}
	if !listened {
		if err := r.Listen(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	udp, tcp, httpLn := r.udp, r.tcp, r.httpLn
	r.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
		cancel()
	}
	for _, c := range udp {
		wg.Go(func() { r.serveUDP(ctx, c, &wg) })
	}
	if tcp != nil {
		wg.Go(func() {
			if err := r.serveTCP(ctx, tcp, &wg); err != nil {
				fail(err)
			}
		})
	}
	var hs *http.Server
	if httpLn != nil {
		hs = &http.Server{Handler: r.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := hs.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("serving HTTP: %w", err))
			}
		})
	}
	<-ctx.Done()
	if hs != nil {
		hs.Close() // before its listener, so that Serve returns ErrServerClosed
	}
	r.mu.Lock()
	r.closed = true
	r.closeLocked()
	r.mu.Unlock()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// serveTCP accepts connections until the listener is closed.
func (r *Resolver) serveTCP(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) error {
	// Out of file descriptors: back off and go on, not stop routerd.
	ln = accept.Retrying(ln, ln.Addr().String(), r.log)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting DNS connections: %w", err)
		}
		select {
		case r.tcpSem <- struct{}{}:
		default:
			c.Close() // too many connections
			continue
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			<-r.tcpSem
			continue
		}
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		wg.Go(func() {
			defer func() {
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
				c.Close()
				<-r.tcpSem
			}()
			r.serveConn(ctx, c)
		})
	}
}

// serveConn answers the length-prefixed queries of one TCP connection.
func (r *Resolver) serveConn(ctx context.Context, c net.Conn) {
	s := newScratch()
	buf := make([]byte, 65535+2)
	for {
		c.SetReadDeadline(time.Now().Add(r.cfg.TCPIdleTimeout))
		if _, err := readFull(c, buf[:2]); err != nil {
			return
		}
		n := int(buf[0])<<8 | int(buf[1])
		if _, err := readFull(c, buf[2:2+n]); err != nil {
			return
		}
		resp, act := r.handle(buf[2:2+n], false, s)
		switch act {
		case drop:
			return
		case forward:
			if resp = r.forward(ctx, buf[2:2+n], "tcp"); resp == nil {
				return
			}
		}
		c.SetWriteDeadline(time.Now().Add(r.cfg.TCPIdleTimeout))
		out := append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// forward asks the upstream servers in order and returns the first answer
// packed, or SERVFAIL if none answers, as Mesos-DNS does.
func (r *Resolver) forward(ctx context.Context, query []byte, network string) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(query); err != nil || len(m.Question) != 1 {
		return nil
	}
	cl := &dns.Client{Net: network, Timeout: r.cfg.ForwardTimeout}
	for _, u := range r.upstreams {
		resp, _, err := cl.ExchangeContext(ctx, m, u)
		if err != nil {
			r.log.Debug("forwarding DNS query", "upstream", u, "name", m.Question[0].Name, "err", err)
			continue
		}
		resp.Id = m.Id
		if network == "udp" {
			size := dns.MinMsgSize
			if o := m.IsEdns0(); o != nil {
				size = max(size, int(o.UDPSize()))
			}
			resp.Truncate(size)
		}
		if b, err := resp.Pack(); err == nil {
			return b
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	fail := new(dns.Msg).SetRcode(m, dns.RcodeServerFailure)
	fail.RecursionAvailable = true
	b, err := fail.Pack()
	if err != nil {
		return nil
	}
	return b
}
