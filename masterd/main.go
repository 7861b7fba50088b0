// Command masterd is Corral's master: it keeps the cluster state in etcd,
// elects a leader, registers agents, makes resource offers, runs the built-in
// Marathon framework and serves the Mesos-compatible and Marathon v2 APIs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"corral/httpauth"
	"corral/logflag"
	"corral/masterd/marathon/events"
	"corral/masterd/marathon/framework"
	"corral/masterd/master"
	"corral/masterd/server"
	"corral/masterd/state"
	"corral/mesos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "masterd:", err)
		os.Exit(1)
	}
}

func run() error {
	host, _ := os.Hostname()
	mc := master.DefaultConfig()
	fc := framework.DefaultConfig()
	ec := events.DefaultConfig()
	var (
		workDir       = flag.String("work-dir", "/var/lib/corral/master", "directory for the embedded etcd's data")
		listen        = flag.String("listen", ":5050", "address of the Mesos API (agents, /master/state)")
		marathon      = flag.String("marathon-listen", ":8080", "address of the Marathon v2 API")
		endpoints     = flag.String("etcd-endpoints", "", "comma-separated client URLs of an external etcd cluster; empty embeds a single-node etcd")
		etcdClient    = flag.String("etcd-listen-client", "http://127.0.0.1:2379", "client URL of the embedded etcd")
		etcdPeer      = flag.String("etcd-listen-peer", "http://127.0.0.1:2380", "peer URL of the embedded etcd")
		etcdMaxOps    = flag.Int("etcd-max-txn-ops", 0, fmt.Sprintf("operations in one etcd transaction, which bounds one API change (embedded etcd: started with it; external: must accept it); 0: %d embedded, %d external", state.EmbeddedMaxTxnOps, state.EtcdMaxTxnOps))
		etcdMaxBytes  = flag.Int("etcd-max-request-bytes", 0, fmt.Sprintf("bytes of one etcd request, which bounds one API change (as --etcd-max-txn-ops); 0: %d embedded, %d external", state.EmbeddedMaxRequestBytes, state.EtcdMaxRequestBytes))
		etcdTimeout   = flag.Duration("etcd-request-timeout", state.DefaultRequestTimeout, "deadline of every etcd read and write")
		hostname      = flag.String("hostname", host, "hostname the master advertises (redirects and leader_info name it)")
		advertiseIP   = flag.String("advertise-ip", "", "IP the master advertises in its PID (default: derived from --listen or --hostname)")
		electionTTL   = flag.Duration("election-ttl", 10*time.Second, "leader session TTL: a dead leader is replaced within it")
		minAlloc      = flag.String("min-allocatable-resources", "cpus:0.01|mem:32", "offer an agent only when its free resources meet one of these |-separated sets")
		weights       = flag.String("weights", "", "role weights for DRF, e.g. web=2,batch=1")
		offerTimeout  = flag.Duration("offer-timeout", 0, "rescind offers outstanding longer than this (0: never)")
		refuseSeconds = flag.Duration("refuse-seconds", mc.Offers.RefuseSeconds, "default filter for declined or unused resources")
		credentials   = flag.String("http-credentials", "", "user:password required of Marathon API clients (HTTP basic auth); empty: no auth")
		tlsCert       = flag.String("marathon-tls-cert", "", "PEM certificate: serve the Marathon API over HTTPS")
		tlsKey        = flag.String("marathon-tls-key", "", "PEM private key of --marathon-tls-cert")
		portMin       = flag.Uint("local-port-min", uint(fc.ServicePorts.Min), "lowest service port assigned to apps")
		portMax       = flag.Uint("local-port-max", uint(fc.ServicePorts.Max), "highest service port assigned to apps")
		agentSecret   = flag.String("agent-secret-file", "", "file holding the agents' shared secret, which every agent call must carry (agentd --secret-file); empty: any host can register as an agent")
		mesosCert     = flag.String("tls-cert", "", "PEM certificate: serve the Mesos API (agents, /master/state) over HTTPS")
		mesosKey      = flag.String("tls-key", "", "PEM private key of --tls-cert")
		agentCA       = flag.String("tls-ca", "", "PEM CA certificates: agents must present a client certificate they signed (mutual TLS); an agent ID is bound to the certificate's subject")
		etcdCA        = flag.String("etcd-cafile", "", "PEM CA certificates of the external etcd's server certificates")
		etcdCert      = flag.String("etcd-certfile", "", "PEM client certificate for the external etcd (--client-cert-auth)")
		etcdKey       = flag.String("etcd-keyfile", "", "PEM private key of --etcd-certfile")
	)
	flag.StringVar(&fc.Name, "framework-name", fc.Name, "name of the built-in Marathon framework")
	flag.StringVar(&fc.User, "mesos-user", fc.User, "user Marathon tasks run as when the app names none (empty: the agent's)")
	flag.DurationVar(&fc.DeclineRefuse, "decline-offer-duration", fc.DeclineRefuse, "how long Marathon refuses offers it has no use for")
	flag.DurationVar(&fc.TaskLaunchTimeout, "task-launch-timeout", fc.TaskLaunchTimeout, "a task staged longer than this is killed and replaced")
	flag.DurationVar(&fc.ReconcileInterval, "reconciliation-interval", fc.ReconcileInterval, "time between reconciliations of all tasks")
	flag.StringVar(&fc.BridgeNetwork, "mesos-bridge-name", fc.BridgeNetwork, "network name agents use for container/bridge")
	flag.IntVar(&fc.MaxVersions, "max-versions", fc.MaxVersions, "versions kept per app, the newest (Marathon's --max_versions)")
	flag.DurationVar(&ec.Keepalive, "event-stream-keepalive", ec.Keepalive, "idle time after which /v2/events sends a keepalive")
	flag.IntVar(&ec.MaxBytes, "event-stream-max-bytes", ec.MaxBytes, "encoded events one /v2/events subscriber may hold unread before it is dropped")
	flag.DurationVar(&mc.AllocationInterval, "allocation-interval", mc.AllocationInterval, "time between batch allocations")
	flag.DurationVar(&mc.AgentPingTimeout, "agent-ping-timeout", mc.AgentPingTimeout, "agent heartbeat interval; silence for this times --max-agent-ping-timeouts makes an agent unreachable")
	flag.IntVar(&mc.MaxAgentPingTimeouts, "max-agent-ping-timeouts", mc.MaxAgentPingTimeouts, "missed heartbeats before an agent is unreachable")
	flag.DurationVar(&mc.AgentReregisterTimeout, "agent-reregister-timeout", mc.AgentReregisterTimeout, "after an election, agents that do not re-register within this are unreachable")
	logFlags := logflag.Register(flag.CommandLine, slog.LevelInfo)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	log := logFlags.Logger(os.Stderr)

	var err error
	if mc.Offers.MinAllocatable, err = mesos.ParseMinAllocatable(*minAlloc); err != nil {
		return fmt.Errorf("invalid --min-allocatable-resources: %w", err)
	}
	if mc.Offers.Weights, err = parseWeights(*weights); err != nil {
		return err
	}
	mc.Offers.OfferTimeout = *offerTimeout
	mc.Offers.RefuseSeconds = *refuseSeconds

	sc := state.DefaultConfig(*workDir)
	sc.ClientURL, sc.PeerURL = *etcdClient, *etcdPeer
	sc.MaxTxnOps, sc.MaxRequestBytes, sc.RequestTimeout = *etcdMaxOps, *etcdMaxBytes, *etcdTimeout
	sc.CAFile, sc.CertFile, sc.KeyFile = *etcdCA, *etcdCert, *etcdKey
	if *endpoints != "" {
		sc.Endpoints = strings.Split(*endpoints, ",")
	}
	mc.Flags = map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { mc.Flags[strings.ReplaceAll(f.Name, "-", "_")] = f.Value.String() })
	if *credentials != "" {
		mc.Flags["http_credentials"] = "(hidden)" // /master/state must not hand them out
	}
	secret, err := httpauth.ReadSecret("--agent-secret-file", *agentSecret)
	if err != nil {
		return err
	}

	fc.ServicePorts.Min, fc.ServicePorts.Max = uint32(*portMin), uint32(*portMax)
	if *portMin > 65535 || *portMax > 65535 {
		return fmt.Errorf("invalid --local-port-min/--local-port-max %d-%d, must be ports", *portMin, *portMax)
	}

	srv, err := server.New(server.Config{
		Listen:          *listen,
		MarathonListen:  *marathon,
		Hostname:        *hostname,
		AdvertiseIP:     *advertiseIP,
		ElectionTTL:     *electionTTL,
		State:           sc,
		Master:          mc,
		Marathon:        fc,
		Events:          ec,
		HTTPCredentials: *credentials,
		TLSCert:         *tlsCert,
		TLSKey:          *tlsKey,
		AgentSecret:     secret,
		MesosTLSCert:    *mesosCert,
		MesosTLSKey:     *mesosKey,
		AgentCA:         *agentCA,
	}, log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}

// parseWeights parses "role=weight,role=weight" as Mesos's --weights.
func parseWeights(s string) (map[string]float64, error) {
	w := map[string]float64{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		role, v, ok := strings.Cut(pair, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || role == "" || err != nil || f <= 0 {
			return nil, fmt.Errorf("invalid --weights entry %q, must be role=weight with weight > 0", pair)
		}
		w[role] = f
	}
	return w, nil
}
