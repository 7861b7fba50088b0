package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// run benchmarks one master: register the fleet, time /master/state, hold,
// check. It prints the table to out and fails if an agent did not register
// or was not active at the end.
func run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (sum summary, retErr error) {
	rep := &report{}
	master := cfg.Master
	title := fmt.Sprintf("simagents: %d agents against the master at %s", cfg.Agents, master)
	var proc *masterProc
	if cfg.Masterd != "" {
		p, err := startMasterd(ctx, cfg.Masterd, cfg.Ping, cfg.AgentSecret)
		if err != nil {
			return sum, err
		}
		proc = p
		defer func() {
			if err := proc.stop(); err != nil && retErr == nil {
				retErr = err
			}
		}()
		master = p.addr
		ping := "default"
		if cfg.Ping > 0 {
			ping = cfg.Ping.String()
		}
		title = fmt.Sprintf("simagents: %d agents against a started masterd (--agent-ping-timeout %s)", cfg.Agents, ping)
		if cfg.AgentSecret != "" {
			title += " with --agent-secret-file"
		}
	}

	// /master/state is read as tools read it: plain HTTP/1.1, off the
	// agents' connections.
	stateClient := &http.Client{Timeout: time.Minute}
	before, err := fetchState(ctx, stateClient, master)
	if err != nil {
		return sum, err
	}

	var st transportStats
	client, tr := newAgentClient(cfg.HTTP1, &st)
	defer tr.CloseIdleConnections()
	fl, err := newFleet(cfg.Agents, master, client, cfg.AgentSecret, log)
	if err != nil {
		return sum, err
	}
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer func() {
		stopAgents()
		fl.wait()
	}()

	cpu0 := procCPU(proc)
	regStart := time.Now()
	regCtx, cancelReg := context.WithTimeout(ctx, cfg.RegisterTimeout)
	reg := fl.register(agentCtx, regCtx, cfg.Parallel)
	cancelReg()
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	var ids []string // of the registered agents
	for _, id := range fl.ids() {
		if id != "" {
			ids = append(ids, id)
		}
	}
	registered := len(ids)
	activeCheck, err := waitAllActive(ctx, stateClient, master, ids, cfg.ActiveTimeout)
	if err != nil {
		return sum, err
	}
	allActive := time.Since(regStart)
	cpu1 := procCPU(proc)

	transport := "HTTP/2 without TLS (h2c)"
	if cfg.HTTP1 {
		transport = "HTTP/1.1"
	}
	if p := st.proto.Load(); p != nil {
		transport += ", negotiated " + *p
	}
	rep.add("agents", "%d (parallel registrations %d)", cfg.Agents, cfg.Parallel)
	rep.add("agent transport", "%s", transport)
	rep.add("registered", "%d of %d", registered, cfg.Agents)
	rep.add("registration wall time", "%v", dur(reg.wall))
	if reg.wall > 0 {
		sum.regRate = float64(reg.registered) / reg.wall.Seconds()
		rep.add("registration rate", "%.0f agents/s", sum.regRate)
	}
	p50, p99, pmax := percentiles(reg.latency)
	sum.regP50, sum.regP99 = p50, p99
	rep.add("registration latency p50 / p99 / max", "%v / %v / %v", dur(p50), dur(p99), dur(pmax))
	if activeCheck.ok(registered) {
		rep.add("until /master/state shows all registered active", "%v", dur(allActive))
	} else {
		rep.add("until /master/state shows all registered active", "not within %v (%s)", cfg.ActiveTimeout, activeCheck)
	}
	rep.add("agent TCP connections after registration", "%d open, %d dialed", st.open.Load(), st.dials.Load())
	if proc != nil {
		rep.add("masterd CPU during registration", "%v", dur(cpu1-cpu0))
		sum.regCPU = cpu1 - cpu0
	}

	var lat []time.Duration
	var size, listed int
	for range cfg.StateSamples {
		f, err := fetchState(ctx, stateClient, master)
		if err != nil {
			return sum, err
		}
		lat = append(lat, f.latency)
		size, listed = f.bytes, len(f.view.Slaves)
	}
	p50, _, pmax = percentiles(lat)
	rep.add("/master/state fetch p50 / max", "%v / %v (%d fetches)", dur(p50), dur(pmax), len(lat))
	rep.add("/master/state size", "%s (%d bytes, %d agents listed, %d B/agent)", mib(int64(size)), size, listed, size/max(1, listed))
	if proc != nil {
		rep.add("masterd RSS after registration", "%s", memString(proc))
	}

	if cfg.Hold > 0 {
		cpu2 := procCPU(proc)
		calls0, done0 := st.calls.Load(), st.callsDone()
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-time.After(cfg.Hold):
		}
		cpu3 := procCPU(proc)
		calls := st.calls.Load() - calls0
		rep.add("hold", "%v", cfg.Hold)
		rep.add("heartbeats during hold", "%d (%.0f/s)", calls, float64(calls)/cfg.Hold.Seconds())
		p50, p99, pmax := percentiles(st.callLatencies(done0))
		rep.add("heartbeat latency p50 / p99 / max", "%v / %v / %v", dur(p50), dur(p99), dur(pmax))
		sum.hbP50, sum.hbP99, sum.holdCPU = p50, p99, 0
		if proc != nil {
			rep.add("masterd CPU during hold", "%v (%.0f%% of a core)", dur(cpu3-cpu2), 100*(cpu3-cpu2).Seconds()/cfg.Hold.Seconds())
			sum.holdCPU = cpu3 - cpu2
			rep.add("masterd RSS after hold", "%s", memString(proc))
		}
	}

	end, err := fetchState(ctx, stateClient, master)
	if err != nil {
		return sum, err
	}
	endCheck := end.view.check(fl.ids()) // late registrations count

	newUnreachable := end.view.UnreachableSlaves - before.view.UnreachableSlaves
	rep.add("at the end", "%s; unreachable_slaves %d", endCheck, end.view.UnreachableSlaves)
	rep.add("re-registrations", "%d", fl.reregistrations())
	rep.add("failed subscribes / calls", "%d / %d", st.subscribeErrs.Load(), st.callErrs.Load())
	if kinds := st.errorKinds(3); kinds != "" {
		rep.add("agent request errors", "%s", kinds)
	}
	if n := fl.others.Load(); n > 0 {
		rep.add("unexpected agent events", "%d", n)
	}
	rep.add("agent TCP connections at the end", "%d open, %d dialed", st.open.Load(), st.dials.Load())
	rep.add("harness RSS", "%s", memOf("self"))
	if proc != nil {
		rep.add("masterd log", "%s", proc.logSummary())
	}

	var problems []error
	if proc != nil {
		if err := proc.alive(); err != nil {
			problems = append(problems, err)
		}
	}
	if registered < cfg.Agents {
		problems = append(problems, fmt.Errorf("%d of %d agents did not register within %v", cfg.Agents-registered, cfg.Agents, cfg.RegisterTimeout))
	}
	if !endCheck.ok(cfg.Agents) {
		problems = append(problems, fmt.Errorf("not every agent is active at the end: %s", endCheck))
	}
	if newUnreachable > 0 {
		problems = append(problems, fmt.Errorf("%d agents became unreachable", newUnreachable))
	}
	rep.add("result", "%s", map[bool]string{true: "PASS", false: "FAIL"}[len(problems) == 0])
	if err := rep.write(out, title); err != nil {
		return sum, err
	}
	return sum, errors.Join(problems...)
}

// procCPU is masterd's CPU time so far, 0 when it is not ours to read.
func procCPU(p *masterProc) time.Duration {
	if p == nil {
		return 0
	}
	d, err := readProcCPU(strconv.Itoa(p.pid()))
	if err != nil {
		return 0
	}
	return d
}

func memString(p *masterProc) string { return memOf(strconv.Itoa(p.pid())) }

// memOf formats a process's RSS and peak RSS.
func memOf(pid string) string {
	m, err := readProcMem(pid)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (peak %s)", mib(m.RSS), mib(m.HWM))
}
