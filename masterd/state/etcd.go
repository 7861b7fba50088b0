// Package state keeps masterd's durable state in etcd: an embedded single-node
// etcd by default, or an external cluster, behind one client. Typed
// collections store agents and frameworks (and, in later parts, apps,
// deployments, instances and IPAM); writes made by the leader are fenced on
// its election revision so a deposed leader cannot overwrite its successor.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
)

// Config says where the state lives.
type Config struct {
	// Endpoints of an external etcd cluster; empty runs an embedded one.
	Endpoints []string
	// Dir holds the embedded etcd's data (<Dir>/etcd).
	Dir string
	// ClientURL and PeerURL are the embedded etcd's listen addresses.
	ClientURL string
	PeerURL   string
	// Name names the embedded member.
	Name string
	// CompactionRetention is the embedded etcd's periodic auto-compaction
	// retention (embed disables compaction unless set).
	CompactionRetention time.Duration
	// DialTimeout bounds the first connection to etcd.
	DialTimeout time.Duration
	// MaxTxnOps and MaxRequestBytes are what one transaction may hold:
	// the embedded etcd is started with them, an external one must
	// accept them (its --max-txn-ops and --max-request-bytes). Zero
	// takes the default of the mode: raised limits for the embedded
	// etcd, etcd's own defaults for an external one. One API change is
	// one transaction, so these bound the largest change masterd stores.
	MaxTxnOps       int
	MaxRequestBytes int
	// RequestTimeout bounds every read and write of the store.
	RequestTimeout time.Duration
	// ObserveRequest, if set, is told of every unary request to etcd
	// (Range, Txn, LeaseGrant…) and how long it took.
	ObserveRequest func(method string, took time.Duration)
	// CAFile, CertFile and KeyFile secure the connection to an external
	// etcd: the CA its server certificates are checked against, and this
	// client's certificate for a cluster started with --client-cert-auth.
	CAFile, CertFile, KeyFile string
}

// The embedded etcd takes changes of a few thousand apps, or of apps of a
// few MiB, in one transaction; etcd's defaults (128 operations, 1.5 MiB)
// are what an external etcd is assumed to accept.
const (
	EmbeddedMaxTxnOps       = 4096
	EmbeddedMaxRequestBytes = 8 << 20
	EtcdMaxTxnOps           = 128
	EtcdMaxRequestBytes     = 3 << 19 // 1.5 MiB
)

// limits returns the transaction limits, defaults filled in.
func (c Config) limits() Limits {
	l := Limits{MaxTxnOps: c.MaxTxnOps, MaxRequestBytes: c.MaxRequestBytes}
	embedded := len(c.Endpoints) == 0
	switch {
	case l.MaxTxnOps == 0 && embedded:
		l.MaxTxnOps = EmbeddedMaxTxnOps
	case l.MaxTxnOps == 0:
		l.MaxTxnOps = EtcdMaxTxnOps
	}
	switch {
	case l.MaxRequestBytes == 0 && embedded:
		l.MaxRequestBytes = EmbeddedMaxRequestBytes
	case l.MaxRequestBytes == 0:
		l.MaxRequestBytes = EtcdMaxRequestBytes
	}
	return l
}

// DefaultConfig returns the embedded single-node defaults under dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                 dir,
		ClientURL:           "http://127.0.0.1:2379",
		PeerURL:             "http://127.0.0.1:2380",
		Name:                "corral",
		CompactionRetention: time.Hour,
		DialTimeout:         5 * time.Second,
		RequestTimeout:      DefaultRequestTimeout,
	}
}

// Validate checks the configuration without touching the network.
func (c Config) Validate() error {
	if len(c.Endpoints) == 0 {
		if c.Dir == "" {
			return errors.New("invalid state config: the embedded etcd needs a data directory (--work-dir)")
		}
		for _, u := range []string{c.ClientURL, c.PeerURL} {
			if _, err := url.Parse(u); err != nil || !strings.HasPrefix(u, "http://") {
				return fmt.Errorf("invalid etcd URL %q, must be http://host:port", u)
			}
		}
	}
	for _, e := range c.Endpoints {
		if strings.TrimSpace(e) == "" {
			return errors.New("invalid --etcd-endpoints: empty endpoint")
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("invalid --etcd-certfile %q and --etcd-keyfile %q: give both or neither", c.CertFile, c.KeyFile)
	}
	if c.tls() && len(c.Endpoints) == 0 {
		return errors.New("invalid --etcd-cafile/--etcd-certfile/--etcd-keyfile: they secure an external etcd, which needs --etcd-endpoints")
	}
	if c.DialTimeout <= 0 {
		return fmt.Errorf("invalid etcd dial timeout %v, must be > 0", c.DialTimeout)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("invalid --etcd-request-timeout %v, must be > 0", c.RequestTimeout)
	}
	if c.MaxTxnOps < 0 || c.MaxTxnOps > 1<<20 {
		return fmt.Errorf("invalid --etcd-max-txn-ops %d, must be in [1, %d] (0: default)", c.MaxTxnOps, 1<<20)
	}
	if c.MaxRequestBytes < 0 || c.MaxRequestBytes > 1<<30 {
		return fmt.Errorf("invalid --etcd-max-request-bytes %d, must be in [1, %d] (0: default)", c.MaxRequestBytes, 1<<30)
	}
	if l := c.limits(); l.MaxTxnOps < 8 || l.MaxRequestBytes < 64<<10 {
		return fmt.Errorf("invalid etcd limits %d operations, %d bytes: must be at least 8 and 64 KiB", l.MaxTxnOps, l.MaxRequestBytes)
	}
	return nil
}

// tls reports whether the connection to etcd is secured.
func (c Config) tls() bool { return c.CAFile != "" || c.CertFile != "" }

// Etcd is a connection to the state store, and the embedded server when
// there is one.
type Etcd struct {
	Client  *clientv3.Client
	server  *embed.Etcd
	limits  Limits
	timeout time.Duration
	once    sync.Once // Close may be called more than once; embed's Close may not
}

// Store returns an unfenced store on the connection, with its limits and
// request timeout.
func (e *Etcd) Store() *Store {
	s := NewStore(e.Client)
	s.limits = e.limits
	if e.timeout > 0 {
		s.timeout = e.timeout
	}
	return s
}

// Open starts the embedded etcd (unless Endpoints are given) and connects.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Etcd, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Etcd{limits: cfg.limits(), timeout: cfg.RequestTimeout}
	var err error
	endpoints := cfg.Endpoints
	if len(endpoints) == 0 {
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		e.server = srv
		endpoints = []string{cfg.ClientURL}
		log.Info("embedded etcd ready", "dir", filepath.Join(cfg.Dir, "etcd"), "client", cfg.ClientURL)
	}
	cc := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: cfg.DialTimeout,
		Context:     ctx,
		Logger:      zap.NewNop(), // masterd reports the errors that matter through slog
		// gRPC's own limit (2 MiB) would refuse what etcd accepts.
		MaxCallSendMsgSize: e.limits.MaxRequestBytes + grpcOverhead,
		DialOptions:        observeRequests(cfg.ObserveRequest),
	}
	if cfg.tls() {
		info := transport.TLSInfo{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, TrustedCAFile: cfg.CAFile}
		if cc.TLS, err = info.ClientConfig(); err != nil {
			e.Close()
			return nil, fmt.Errorf("loading etcd's TLS files (--etcd-cafile, --etcd-certfile, --etcd-keyfile): %w", err)
		}
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("connecting to etcd %v: %w", endpoints, err)
	}
	e.Client = cli
	// Fail now rather than at the first write if the cluster is unusable.
	// A read through the balancer needs any member that is up and a
	// quorum, as every later call does; probing one member would refuse
	// a healthy cluster whose first endpoint is down.
	sctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := cli.Get(sctx, Prefix, clientv3.WithCountOnly()); err != nil {
		e.Close()
		where := strings.Join(endpoints, ",")
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("connecting to etcd at %s: %w", where, ctx.Err())
		case len(cfg.Endpoints) == 0:
			return nil, fmt.Errorf("embedded etcd at %s did not answer within %v: %w", where, cfg.DialTimeout, err)
		}
		return nil, fmt.Errorf("etcd at %s did not answer within %v (is it running and reachable? check --etcd-endpoints): %w", where, cfg.DialTimeout, err)
	}
	return e, nil
}

func startEmbedded(cfg Config) (_ *embed.Etcd, retErr error) {
	// etcd panics where it cannot start (no room for its write-ahead log);
	// masterd then ends with the reason, which etcdLogger has written to
	// stderr, not a stack trace.
	// A runtime error is a bug, not etcd's refusal: it goes on panicking.
	// After this error masterd exits; etcd's listeners and files are left
	// open, so Open is not retried in the same process.
	defer func() {
		if v := recover(); v != nil {
			if _, bug := v.(runtime.Error); bug {
				panic(v)
			}
			retErr = fmt.Errorf("embedded etcd failed to start: %v", v)
		}
	}()
	dir := filepath.Join(cfg.Dir, "etcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data directory: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = dir
	cu, _ := url.Parse(cfg.ClientURL)
	pu, _ := url.Parse(cfg.PeerURL)
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	l := cfg.limits()
	ec.MaxTxnOps, ec.MaxRequestBytes = uint(l.MaxTxnOps), uint(l.MaxRequestBytes)
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = cfg.CompactionRetention.String()
	lg, err := etcdLogger(filepath.Join(cfg.Dir, "etcd.log"))
	if err != nil {
		return nil, fmt.Errorf("opening etcd's log: %w", err)
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	srv, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-srv.Server.ReadyNotify():
		return srv, nil
	case err := <-srv.Err():
		srv.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		srv.Server.Stop()
		srv.Close()
		return nil, errors.New("embedded etcd did not become ready within 60s")
	}
}

// etcdLogger writes embedded etcd's errors to path, and what ends the
// process (etcd's fatal and panic: a full disk, no file descriptors left)
// to masterd's stderr as well, which the journal keeps: etcd exits by
// itself then, and path may be on the very disk that is full. The errors
// of an ordinary stop stay out of stderr.
func etcdLogger(path string) (*zap.Logger, error) {
	cfg := logutil.DefaultZapLoggerConfig
	cfg.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	cfg.OutputPaths = []string{path}
	cfg.ErrorOutputPaths = []string{"stderr"}
	file, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	stderr := zapcore.NewCore(zapcore.NewJSONEncoder(cfg.EncoderConfig), zapcore.Lock(os.Stderr), zap.DPanicLevel)
	return zap.New(zapcore.NewTee(file.Core(), stderr), zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(os.Stderr))), nil
}

// Close closes the client and stops the embedded server.
func (e *Etcd) Close() {
	e.once.Do(func() {
		if e.Client != nil {
			e.Client.Close()
		}
		if e.server != nil {
			e.server.Close()
		}
	})
}

// observeRequests times etcd's unary calls for cfg.ObserveRequest; the
// method is the call's name without its service ("Range", "Txn").
func observeRequests(observe func(string, time.Duration)) []grpc.DialOption {
	if observe == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			start := time.Now()
			err := invoker(ctx, method, req, reply, cc, opts...)
			observe(path.Base(method), time.Since(start))
			return err
		})}
}
