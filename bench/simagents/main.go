// Command simagents benchmarks masterd with simulated agents. It starts a
// masterd on free loopback ports (or uses a running one), registers
// thousands of agents over the real agent protocol, multiplexed on a few
// unencrypted HTTP/2 connections, keeps them connected and heartbeating for
// a while, and prints a Markdown table of registration speed, /master/state
// cost and the master's memory. It exits non-zero if an agent failed to
// register or was not active at the end.
//
//	simagents -masterd bin/masterd -agents 1000 -hold 10s -ping 2s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"corral/logflag"
)

// Config is everything the flags set.
type Config struct {
	Masterd         string        // masterd binary to start; exclusive with Master
	Master          string        // host:port of a running master's Mesos API
	Agents          int           // simulated agents
	Parallel        int           // registrations in flight at once
	Hold            time.Duration // keep agents connected this long after registration
	Ping            time.Duration // --agent-ping-timeout of a started masterd; 0 keeps its default
	RegisterTimeout time.Duration // give up waiting for registrations after this
	ActiveTimeout   time.Duration // wait this long for /master/state to show every agent active
	StateSamples    int           // /master/state fetches timed after registration
	HTTP1           bool          // agents speak HTTP/1.1, one connection per request in flight
	// AgentSecret is sent by the agents as their bearer token, and given
	// to a started masterd as its --agent-secret-file.
	AgentSecret string
	// CompareAuth runs the benchmark twice on fresh masterds, without and
	// then with an agent secret, and prints what authentication costs.
	CompareAuth bool
	AuthRounds  int // runs of each kind with CompareAuth
}

// DefaultConfig returns the defaults of the flags.
func DefaultConfig() Config {
	return Config{
		Agents:          1000,
		Parallel:        200,
		RegisterTimeout: 5 * time.Minute,
		ActiveTimeout:   time.Minute,
		StateSamples:    5,
		AuthRounds:      3,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case (c.Masterd == "") == (c.Master == ""):
		return errors.New("invalid flags: give exactly one of -masterd (start one) and -master (use a running one)")
	case c.Agents < 1:
		return fmt.Errorf("invalid -agents %d, must be >= 1", c.Agents)
	case c.Parallel < 1:
		return fmt.Errorf("invalid -parallel %d, must be >= 1", c.Parallel)
	case c.Hold < 0:
		return fmt.Errorf("invalid -hold %v, must be >= 0", c.Hold)
	case c.Ping < 0:
		return fmt.Errorf("invalid -ping %v, must be >= 0", c.Ping)
	case c.Ping > 0 && c.Master != "":
		return errors.New("invalid -ping: it sets the started masterd's --agent-ping-timeout, so it needs -masterd")
	case c.RegisterTimeout <= 0:
		return fmt.Errorf("invalid -register-timeout %v, must be > 0", c.RegisterTimeout)
	case c.ActiveTimeout <= 0:
		return fmt.Errorf("invalid -active-timeout %v, must be > 0", c.ActiveTimeout)
	case c.StateSamples < 1:
		return fmt.Errorf("invalid -state-samples %d, must be >= 1", c.StateSamples)
	case c.CompareAuth && c.Masterd == "":
		return errors.New("invalid -compare-auth: it starts a masterd without and one with a secret, so it needs -masterd")
	case c.AuthRounds < 1:
		return fmt.Errorf("invalid -auth-rounds %d, must be >= 1", c.AuthRounds)
	case c.CompareAuth && c.AgentSecret != "":
		return errors.New("invalid -compare-auth with -agent-secret: the comparison makes its own secret")
	}
	if c.Master != "" {
		if _, _, err := net.SplitHostPort(c.Master); err != nil {
			return fmt.Errorf("invalid -master %q, must be host:port: %w", c.Master, err)
		}
	}
	return nil
}

func main() {
	cfg := DefaultConfig()
	flag.StringVar(&cfg.Masterd, "masterd", "", "path of a masterd binary to start on free loopback ports with a temporary work dir")
	flag.StringVar(&cfg.Master, "master", "", "host:port of a running master's Mesos API, instead of -masterd")
	flag.IntVar(&cfg.Agents, "agents", cfg.Agents, "number of simulated agents")
	flag.IntVar(&cfg.Parallel, "parallel", cfg.Parallel, "registrations in flight at once")
	flag.DurationVar(&cfg.Hold, "hold", cfg.Hold, "keep the agents connected this long after registration, then check that all are still active")
	flag.DurationVar(&cfg.Ping, "ping", cfg.Ping, "--agent-ping-timeout (heartbeat interval) of the started masterd; 0 keeps masterd's default")
	flag.DurationVar(&cfg.RegisterTimeout, "register-timeout", cfg.RegisterTimeout, "give up waiting for agents to register after this")
	flag.DurationVar(&cfg.ActiveTimeout, "active-timeout", cfg.ActiveTimeout, "wait this long for /master/state to list every registered agent active")
	flag.IntVar(&cfg.StateSamples, "state-samples", cfg.StateSamples, "number of timed /master/state fetches after registration")
	flag.BoolVar(&cfg.HTTP1, "http1", cfg.HTTP1, "agents use HTTP/1.1 (a connection per stream) instead of unencrypted HTTP/2")
	flag.StringVar(&cfg.AgentSecret, "agent-secret", "", "agents authenticate with this secret (a started masterd gets it as --agent-secret-file)")
	flag.BoolVar(&cfg.CompareAuth, "compare-auth", false, "run on fresh masterds without and with an agent secret, alternating, and print the cost of authentication")
	flag.IntVar(&cfg.AuthRounds, "auth-rounds", cfg.AuthRounds, "with -compare-auth: runs of each kind (medians are compared)")
	logFlags := logflag.Register(flag.CommandLine, slog.LevelWarn)
	flag.Parse()
	if err := validate(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "simagents:", err)
		os.Exit(2)
	}
	log := logFlags.Logger(os.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	if cfg.CompareAuth {
		err = compareAuth(ctx, cfg, log, os.Stdout)
	} else {
		_, err = run(ctx, cfg, log, os.Stdout)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "simagents:", err)
		os.Exit(1)
	}
}

func validate(cfg Config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	return cfg.Validate()
}
