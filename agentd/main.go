// Command agentd is Corral's agent: it registers the machine's resources
// with the leading masterd, runs tasks in containers (runc's libcontainer),
// reports their status reliably and keeps them running across its own
// restarts. Each task runs under a shim, corral-shim when it is installed
// next to agentd, else agentd itself as `agentd shim <dir>`.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"corral/agentd/agent"
	"corral/agentd/fetch"
	"corral/agentd/image"
	"corral/agentd/masterlink"
	"corral/agentd/network"
	"corral/agentd/resources"
	"corral/agentd/shim"
	"corral/agentd/status"
	"corral/agentd/task"
	"corral/httpauth"
	"corral/isolation"
	"corral/logflag"
	"corral/mesos"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// init serves libcontainer's re-exec: a container's first process is this
// binary run as `agentd init`, which must set up the container before any
// other Go code runs (runc's init.go does the same).
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		isolation.Init()
	}
	// Keep libcontainer's namespace-joining goroutines off the main thread,
	// which Go would park rather than retire (see isolation.Init).
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agentd:", err)
		os.Exit(1)
	}
}

func run() error {
	host, _ := os.Hostname()
	var (
		masters    = flag.String("master", "127.0.0.1:5050", "comma-separated host:port of the masters' Mesos API")
		workDir    = flag.String("work-dir", "/var/lib/corral/agent", "tasks' sandboxes, checkpoints and container state")
		listen     = flag.String("listen", ":5051", "address of the agent's own HTTP endpoint (/health, /state)")
		resFlag    = flag.String("resources", "", "resources in Mesos syntax, e.g. cpus:4;mem:8192;disk:10000;ports:[31000-32000]; unnamed cpus, mem and disk are detected, ports default to [31000-32000]")
		attrFlag   = flag.String("attributes", "", "attributes for constraints, e.g. rack:r1;zone:a")
		hostname   = flag.String("hostname", host, "hostname the agent registers with (tasks' HOST)")
		advertise  = flag.String("advertise-ip", "", "IP the agent registers with (default: the address it reaches the master from)")
		isolate    = flag.String("isolation", shim.Linux, "linux (containers with namespaces and cgroups) or posix (plain processes, development only)")
		killGrace  = flag.Duration("kill-grace-period", 3*time.Second, "time between SIGTERM and SIGKILL when a task has no kill policy")
		pidsLimit  = flag.Int64("task-pids-limit", 0, "maximum processes per task (0: no limit)")
		logMax     = flag.Int64("task-log-max-bytes", 10<<20, "cap of each task's stdout and stderr file; a full file rotates (0: no cap)")
		logKeep    = flag.Int("task-log-keep", 5, "rotated stdout/stderr files kept per task")
		maxStart   = flag.Int("max-starting-tasks", 2*runtime.NumCPU(), "tasks started at once; more wait their turn in TASK_STARTING (0: no bound)")
		gcDelay    = flag.Duration("gc-delay", 7*24*time.Hour, "how long a completed task's sandbox stays with the disk empty, less as it fills (Mesos's --gc_delay); 0 keeps them all")
		gcHeadroom = flag.Float64("gc-disk-headroom", 0.1, "share of the disk to keep free: a sandbox stays gc-delay × max(0, 1 - headroom - disk usage)")
		diskWatch  = flag.Duration("disk-watch-interval", time.Minute, "how often disk usage is checked and old sandboxes removed")
		minBackoff = flag.Duration("registration-backoff", 500*time.Millisecond, "first wait before reconnecting to the master (doubles up to 1 minute; at most 1s while a master answers)")
		secretFile = flag.String("secret-file", "", "file holding the agents' shared secret (masterd --agent-secret-file), sent with every call to the master")
		tlsCert    = flag.String("tls-cert", "", "PEM client certificate presented to masters that require one (masterd --tls-ca); needs --tls-key")
		tlsKey     = flag.String("tls-key", "", "PEM private key of --tls-cert")
		tlsCA      = flag.String("tls-ca", "", "PEM CA certificates the masters' certificates are checked against; setting any --tls-* flag speaks HTTPS to the masters")
		httpCreds  = flag.String("http-credentials", "", "user:password the agent's HTTP endpoint requires as basic auth (all but /health); the masters' /agent/<id>/ proxy comes in with --secret-file's secret instead. Empty: no authentication")

		bridgeNet    = flag.String("bridge-network-name", network.DefaultBridgeNetwork, "network name that means container/bridge (Marathon's); other names are CNI networks")
		bridgeName   = flag.String("bridge-name", network.DefaultBridgeName, "Linux bridge of container/bridge tasks")
		bridgeSubnet = flag.String("bridge-subnet", network.DefaultBridgeSubnet.String(), "IPv4 subnet of the bridge; its first address is the gateway on the bridge")
		cniConfDir   = flag.String("network-cni-config-dir", network.DefaultCNIConfDir, "CNI network configurations (conflists), found by their name")
		cniPlugins   = flag.String("network-cni-plugins-dir", strings.Join(network.DefaultCNIPluginDirs, ":"), "colon-separated directories of CNI plugins (CNI_PATH)")
		dnsResolver  = flag.String("dns-resolver", "", "nameserver in the /etc/resolv.conf of containers with their own network (default: the agent's IP)")
		servicePorts = flag.String("service-ports", network.DefaultServicePorts.String(), "service ports that localhost inside a container forwards to the node's router")
		seccompFlag  = flag.String("seccomp-profile", "default", "system-call filter of linux containers: default (Docker's), unconfined, or the path of a profile in the OCI format (a config.json's linux.seccomp); an app opts out with the label "+mesos.LabelSeccomp+"=unconfined")
	)
	logFlags := logflag.Register(flag.CommandLine, slog.LevelInfo)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	log := logFlags.Logger(os.Stderr)

	switch *isolate {
	case shim.Linux:
		if os.Geteuid() != 0 {
			return fmt.Errorf("--isolation=linux needs root (namespaces, cgroups, mounts): run agentd as root, or pass --isolation=posix to run tasks as plain processes for development")
		}
	case shim.Posix:
		log.Warn("!!! --isolation=posix: tasks run as plain processes WITHOUT containers, cgroup limits or a read-only root; use it for development only !!!")
	default:
		return fmt.Errorf("invalid --isolation %q, must be linux or posix", *isolate)
	}
	secret, err := httpauth.ReadSecret("--secret-file", *secretFile)
	if err != nil {
		return err
	}
	var masterTLS *tls.Config
	if *tlsCert != "" || *tlsKey != "" || *tlsCA != "" {
		if masterTLS, err = masterlink.ClientTLS(*tlsCert, *tlsKey, *tlsCA); err != nil {
			return err
		}
	}
	seccompProfile, unconfined, err := seccompConfig(*seccompFlag)
	if err != nil {
		return err
	}
	switch {
	case *isolate != shim.Linux:
	case unconfined:
		log.Warn("--seccomp-profile=unconfined: containers run without a system-call filter")
	case !isolation.SeccompSupported:
		// Refused at the start rather than task by task.
		return fmt.Errorf("--isolation=linux filters system calls: %w; or pass --seccomp-profile=unconfined to run every task unfiltered", isolation.ErrSeccompUnsupported)
	}
	if *advertise != "" && net.ParseIP(*advertise) == nil {
		return fmt.Errorf("invalid --advertise-ip %q, must be an IP address", *advertise)
	}
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		return fmt.Errorf("creating --work-dir: %w", err)
	}
	detected, err := resources.Detect(*workDir)
	if err != nil {
		return err
	}
	res, err := resources.Resolve(*resFlag, detected)
	if err != nil {
		return err
	}
	attrs, err := mesos.ParseAttributes(*attrFlag)
	if err != nil {
		return fmt.Errorf("invalid --attributes: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding agentd's executable for the task shim: %w", err)
	}
	shimBinary := shim.Binary(self)
	ip := *advertise
	if ip == "" {
		ip = outboundIP(strings.Split(*masters, ",")[0])
	}
	images, err := image.NewStore(image.DefaultConfig(*workDir), log.With("component", "image"))
	if err != nil {
		return err
	}
	var nets *network.Manager
	if *isolate == shim.Linux {
		cfg := network.DefaultConfig(*workDir)
		cfg.BridgeNetwork, cfg.BridgeName, cfg.CNIConfDir = *bridgeNet, *bridgeName, *cniConfDir
		if cfg.BridgeSubnet, err = netip.ParsePrefix(*bridgeSubnet); err != nil {
			return fmt.Errorf("invalid --bridge-subnet %q, must be an IPv4 prefix such as 172.31.254.0/24", *bridgeSubnet)
		}
		cfg.CNIPluginDirs = filepath.SplitList(*cniPlugins)
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			cfg.NodeIP = a
		}
		if *dnsResolver != "" {
			if cfg.DNSResolver, err = netip.ParseAddr(*dnsResolver); err != nil {
				return fmt.Errorf("invalid --dns-resolver %q, must be an IP address", *dnsResolver)
			}
		}
		if cfg.ServicePorts, err = network.ParsePortRange(*servicePorts); err != nil {
			return fmt.Errorf("invalid --service-ports: %w", err)
		}
		if nets, err = network.New(cfg, log); err != nil {
			return err
		}
		defer nets.Close()
	}
	a, err := agent.New(agent.Config{
		Masters: strings.Split(*masters, ","), WorkDir: *workDir, Listen: *listen,
		Hostname: *hostname, IP: ip, Resources: res, Attributes: attrs,
		Tasks: task.Config{
			Isolation: *isolate, Binary: shimBinary, DefaultKillGrace: *killGrace, PidsLimit: *pidsLimit,
			Fetch: fetch.DefaultConfig(), Poll: time.Second, MaxStarting: *maxStart,
			LogMaxBytes: *logMax, LogKeep: *logKeep, Images: images, Network: nets,
			Seccomp: seccompProfile, SeccompUnconfined: unconfined,
			GCDelay: *gcDelay, GCDiskHeadroom: *gcHeadroom, DiskWatchInterval: *diskWatch,
		},
		Status:     status.Config{MinBackoff: 10 * time.Second, MaxBackoff: 10 * time.Minute},
		MinBackoff: *minBackoff, MaxBackoff: time.Minute, Secret: secret, TLS: masterTLS, HTTPCredentials: *httpCreds,
	}, log)
	if err != nil {
		return err
	}
	log.Info("agentd starting", "resources", res.String(), "attributes", attrs.String(), "isolation", *isolate, "ip", ip, "shim", shimBinary)
	if *isolate == shim.Linux && !unconfined {
		if _, err := isolation.ExecHelper(shimBinary); err != nil {
			log.Warn("containers compile their seccomp filter at every start (7-9 ms of CPU each): install corral-exec next to the shim", "reason", err)
		} else {
			go precompileSeccomp(*workDir, seccompProfile, log)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return a.Run(ctx)
}

// precompileSeccomp compiles the tasks' seccomp filter into the shims'
// cache as agentd starts, so that the first tasks do not wait for it, and
// says so when it cannot: containers then compile it at every start.
func precompileSeccomp(workDir string, profile *specs.LinuxSeccomp, log *slog.Logger) {
	rt, err := isolation.NewRuntime(filepath.Join(workDir, "containers"))
	if err == nil {
		err = rt.PrecompileSeccomp(profile)
	}
	if err != nil {
		log.Warn("compiling the tasks' seccomp filter once failed: containers compile it at every start (7-9 ms of CPU each)", "err", err)
	}
}

// seccompConfig reads --seccomp-profile: nil for Docker's default profile,
// unconfined for none, or the profile in the named file.
func seccompConfig(flagValue string) (_ *specs.LinuxSeccomp, unconfined bool, _ error) {
	switch flagValue {
	case "default":
		return nil, false, nil
	case "unconfined":
		return nil, true, nil
	case "":
		return nil, false, fmt.Errorf("invalid --seccomp-profile %q, must be default, unconfined or a file", flagValue)
	}
	p, err := isolation.LoadSeccompProfile(flagValue)
	if err != nil {
		return nil, false, fmt.Errorf("invalid --seccomp-profile: %w", err)
	}
	return p, false, nil
}

// outboundIP is the local address used to reach the master, which is the
// address the master and other hosts reach this agent at.
func outboundIP(master string) string {
	c, err := net.Dial("udp", master)
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}
