// Package agent is agentd's core: it registers with the leading master
// through masterlink, launches and kills tasks through the task manager,
// sends their status updates reliably through the status manager, and keeps
// its identity across restarts (but not across reboots).
package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"corral/agentd/files"
	"corral/agentd/masterlink"
	"corral/agentd/status"
	"corral/agentd/task"
	"corral/atomicfile"
	"corral/httpauth"
	"corral/mesos"
)

// Config is what agentd's flags set.
type Config struct {
	Masters    []string
	WorkDir    string
	Listen     string
	Hostname   string
	IP         string
	Resources  mesos.Resources
	Attributes mesos.Attributes
	Tasks      task.Config // WorkDir, Hostname, IP and AgentID are filled in
	Status     status.Config
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Secret and TLS authenticate the agent to the masters (see
	// masterlink.Config).
	Secret string
	TLS    *tls.Config
	// HTTPCredentials (user:password), when set, guard the agent's own
	// HTTP endpoint but /health: a request needs them as basic auth, or
	// the token derived from Secret (httpauth.AgentProxyToken), which the
	// masters' /agent/<id>/ proxy presents.
	HTTPCredentials string
}

// Agent is one agentd.
type Agent struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener

	mu      sync.Mutex // guards agentID
	agentID string

	link    *masterlink.Link
	tasks   *task.Manager
	status  *status.Manager
	metrics *metrics
}

// New validates cfg and prepares the work directory. A changed boot ID
// (the host rebooted) clears the previous incarnation: its tasks are gone
// and the agent registers anew, as Mesos agents do.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	if err := httpauth.Check("--http-credentials", cfg.HTTPCredentials); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --work-dir: %w", err)
	}
	a := &Agent{cfg: cfg, log: log}
	a.metrics = newMetrics(a)
	if err := a.checkBoot(); err != nil {
		return nil, err
	}
	a.agentID = readString(a.metaPath("agent_id"))
	cfg.Tasks.WorkDir, cfg.Tasks.Hostname, cfg.Tasks.IP = cfg.WorkDir, cfg.Hostname, cfg.IP
	cfg.Tasks.AgentID = a.AgentID
	cfg.Tasks.StartTime = a.metrics.startTime
	cfg.Status.Dir = filepath.Join(cfg.WorkDir, "status")
	st, err := status.Open(cfg.Status, a.sendUpdate, log.With("component", "status"))
	if err != nil {
		return nil, err
	}
	a.status = st
	tm, err := task.NewManager(cfg.Tasks, func(fid string, s mesos.TaskStatus) {
		if _, err := a.status.Update(fid, s); err != nil {
			a.log.Error("recording a status update", "task", s.TaskID, "state", s.State, "err", err)
			return
		}
		a.metrics.observe(s)
	}, log)
	if err != nil {
		return nil, err
	}
	a.tasks = tm
	info := mesos.AgentInfo{
		ID: a.agentID, Hostname: cfg.Hostname, IP: cfg.IP, Resources: cfg.Resources,
		Attributes: cfg.Attributes, BootID: bootID(), Version: "corral",
	}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listening on --listen %s: %w", cfg.Listen, err)
		}
		a.ln = ln
		info.Port = ln.Addr().(*net.TCPAddr).Port
		if cfg.HTTPCredentials == "" {
			log.Warn("the agent's HTTP endpoint is not authenticated: anyone who reaches it reads every task's sandbox (/files) and the agent's state; set --http-credentials (and --secret-file, for the masters' /agent/<id>/ proxy)", "addr", ln.Addr().String())
		}
	}
	link, err := masterlink.New(masterlink.Config{
		Masters: cfg.Masters, Info: info, Tasks: a.reportedTasks,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, Secret: cfg.Secret, TLS: cfg.TLS,
	}, a.onEvent, log.With("component", "link"))
	if err != nil {
		if a.ln != nil {
			a.ln.Close()
		}
		return nil, err
	}
	a.link = link
	return a, nil
}

// AgentID returns the ID the master gave this agent, "" before that.
func (a *Agent) AgentID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.agentID
}

// Addr returns the agent's HTTP address.
func (a *Agent) Addr() net.Addr { return a.ln.Addr() }

// Registered is closed once the agent registered with a master.
func (a *Agent) Registered() <-chan struct{} { return a.link.Registered() }

func (a *Agent) metaPath(name string) string { return filepath.Join(a.cfg.WorkDir, "meta", name) }

// checkBoot clears the work directory's tasks and identity after a reboot.
func (a *Agent) checkBoot() error {
	if err := os.MkdirAll(filepath.Join(a.cfg.WorkDir, "meta"), 0o755); err != nil {
		return err
	}
	cur, prev := bootID(), readString(a.metaPath("boot_id"))
	if prev != "" && prev != cur {
		a.log.Warn("host rebooted since the last run: dropping old tasks and registering as a new agent", "previous_boot", prev)
		for _, d := range []string{"tasks", "status", "containers"} {
			if err := os.RemoveAll(filepath.Join(a.cfg.WorkDir, d)); err != nil {
				return fmt.Errorf("clearing %s after a reboot: %w", d, err)
			}
		}
		os.Remove(a.metaPath("agent_id"))
	}
	return atomicfile.WriteFile(a.metaPath("boot_id"), []byte(cur), 0o644)
}

func bootID() string { return readString("/proc/sys/kernel/random/boot_id") }

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// Run recovers the tasks of a previous run, then serves until ctx ends.
// Tasks keep running after Run returns.
func (a *Agent) Run(ctx context.Context) error {
	err := a.tasks.Recover(ctx, func(frameworkID, taskID string) (mesos.TaskState, bool) {
		st, ok := a.status.Latest(frameworkID, taskID)
		return st.State, ok
	})
	if err != nil {
		return err
	}
	// Tasks whose final update was acknowledged just before a crash.
	for _, t := range a.tasks.Tasks() {
		a.removeCompleted(t.FrameworkID, t.Info.TaskID)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer a.tasks.Wait()
	wg.Add(3)
	go func() { defer wg.Done(); a.status.Run(ctx) }()
	go func() { defer wg.Done(); a.link.Run(ctx) }()
	go func() { defer wg.Done(); a.tasks.RunGC(ctx) }()
	if a.ln != nil {
		srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("agent HTTP server stopped", "err", err)
			}
		}()
		defer srv.Close()
	}
	<-ctx.Done()
	return nil
}

func (a *Agent) onEvent(ctx context.Context, ev mesos.AgentEvent) {
	switch ev.Type {
	case mesos.AgentEventSubscribed:
		a.mu.Lock()
		changed := a.agentID != ev.Subscribed.AgentID
		a.agentID = ev.Subscribed.AgentID
		a.mu.Unlock()
		if changed {
			if err := atomicfile.WriteFile(a.metaPath("agent_id"), []byte(ev.Subscribed.AgentID), 0o644); err != nil {
				a.log.Error("saving the agent ID", "err", err)
			}
		}
		a.log.Info("registered with the master", "agent", ev.Subscribed.AgentID, "master", a.link.Master())
		a.status.Reconnected()
	case mesos.AgentEventLaunch:
		a.tasks.Launch(ctx, ev.Launch.FrameworkID, ev.Launch.Task)
	case mesos.AgentEventKill:
		a.tasks.Kill(ev.Kill.FrameworkID, ev.Kill.TaskID, ev.Kill.KillPolicy)
	case mesos.AgentEventAcknowledge:
		ack := ev.Acknowledge
		fid, err := a.status.Acknowledge(ack.FrameworkID, ack.TaskID, ack.UUID)
		if err != nil {
			a.log.Warn("recording an acknowledgement", "framework", ack.FrameworkID, "task", ack.TaskID, "err", err)
		}
		if fid == "" { // ignored: a duplicate, or a task already forgotten
			fid = ack.FrameworkID
		}
		if fid != "" {
			a.removeCompleted(fid, ack.TaskID)
		}
	case mesos.AgentEventError:
		a.log.Error("master reported an error", "message", ev.Error.Message)
	}
}

// removeCompleted forgets a task once its terminal update is acknowledged.
func (a *Agent) removeCompleted(frameworkID, taskID string) {
	if !a.status.Completed(frameworkID, taskID) {
		return
	}
	a.tasks.Remove(frameworkID, taskID)
	if err := a.status.Forget(frameworkID, taskID); err != nil {
		a.log.Warn("forgetting a completed task", "framework", frameworkID, "task", taskID, "err", err)
	}
}

// reportedTasks lists the tasks for a re-registration, each with its
// latest status: a new leader learns their health with their state, and
// health updates are sent only when health changes.
func (a *Agent) reportedTasks() []mesos.Task {
	tasks := a.tasks.Tasks()
	for i, t := range tasks {
		if st, ok := a.status.Latest(t.FrameworkID, t.Info.TaskID); ok {
			tasks[i].Statuses = []mesos.TaskStatus{st}
		}
	}
	return tasks
}

// sendUpdate posts one status update to the master.
func (a *Agent) sendUpdate(ctx context.Context, frameworkID string, st mesos.TaskStatus) error {
	st.AgentID = a.AgentID()
	return a.link.Send(ctx, mesos.AgentCall{Type: mesos.AgentCallUpdate, Update: &mesos.AgentUpdate{FrameworkID: frameworkID, Status: st}})
}

// handler serves the agent's own endpoints: /health, /state,
// /monitor/statistics (per-task cgroup usage, as the Mesos agent has it),
// /metrics and /metrics/snapshot (metrics.go).
func (a *Agent) handler() http.Handler {
	mux := a.routes()
	// Probes need no credentials; the masters bring the agents' secret.
	open := func(r *http.Request) bool {
		if r.URL.Path == "/health" {
			return true
		}
		token, ok := httpauth.Bearer(r)
		return ok && a.cfg.Secret != "" && httpauth.Equal(httpauth.AgentProxyToken(a.cfg.Secret), token)
	}
	return httpauth.Basic(a.cfg.HTTPCredentials, "mesos", open, mux)
}

// routes are the agent's endpoints.
func (a *Agent) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.serveMetrics())
	mux.HandleFunc("GET /metrics/snapshot", a.serveSnapshot)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /monitor/statistics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a.tasks.Statistics())
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		frameworks, completed := a.frameworks()
		json.NewEncoder(w).Encode(map[string]any{
			"id": a.AgentID(), "hostname": a.cfg.Hostname, "master": a.link.Master(),
			"resources": a.cfg.Resources.StateJSON(), "attributes": a.cfg.Attributes.StateJSON(),
			"tasks": a.tasks.Tasks(), "frameworks": frameworks, "completed_frameworks": completed,
		})
	})
	mux.Handle("/files/", files.New(a.tasks.LocateSandbox)) // the tasks' sandboxes
	return mux
}
