package master

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"corral/httpauth"
	"corral/mesos"
)

// Agent authentication. With Config.AgentSecret every agent call carries
// the cluster's shared secret as a bearer token; with Config.AgentCerts it
// comes over TLS with a client certificate the server verified against the
// agents' CA, and the certificate's subject is the caller's identity. A
// caller that fails either gets 401 and the log says who tried.
//
// Authorization then binds agent IDs: with certificates an agent ID belongs
// to the identity that first registered it (kept in the registry, so it
// survives failovers); with the secret alone, a live agent's ID can only be
// taken over from its own host (address and boot ID). An agent may report
// status updates for its own tasks only.

// authError is an agent call refused with an HTTP status.
type authError struct {
	code int
	msg  string
}

func (e *authError) Error() string { return e.msg }

func forbidden(format string, args ...any) error {
	return &authError{code: http.StatusForbidden, msg: fmt.Sprintf(format, args...)}
}

// caller is who made an agent call, as far as the master can tell.
type caller struct {
	identity string // the client certificate's subject; "" without AgentCerts
	host     string // the peer's IP
}

// authenticate checks an agent call's credentials before its body is read.
// On failure it answers 401, logs the caller and returns false.
func (m *Master) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	c := caller{host: peerHost(r)}
	why := ""
	if m.cfg.AgentSecret != "" {
		token, ok := httpauth.Bearer(r)
		switch {
		case !ok:
			why = "no bearer token"
		case !httpauth.Equal(m.cfg.AgentSecret, token):
			why = "wrong secret"
		}
	}
	if why == "" && m.cfg.AgentCerts {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			why = "no verified client certificate"
		} else {
			c.identity = r.TLS.VerifiedChains[0][0].Subject.String()
		}
	}
	if why == "" {
		return c, true
	}
	claim := claimedAgent(r)
	m.log.Warn("agent call refused: not authenticated", "reason", why, "remote", r.RemoteAddr,
		"call", claim.Type, "claimed_agent", claimedID(claim), "claimed_hostname", claimedHost(claim))
	w.Header().Set("WWW-Authenticate", `Bearer realm="corral-agents"`)
	http.Error(w, "Unauthorized: agent calls need the cluster's agent secret (agentd --secret-file) and, with TLS, a client certificate of the agents' CA", http.StatusUnauthorized)
	return c, false
}

// maxClaimBytes bounds what is read of a refused call to name who tried.
const maxClaimBytes = 64 << 10

// claimedAgent reads who an unauthenticated call says it is, from the
// start of its body, for the log; it never fails.
func claimedAgent(r *http.Request) mesos.AgentCall {
	var call mesos.AgentCall
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxClaimBytes))
	_ = json.Unmarshal(b, &call)
	return call
}

// claimedID is the agent ID a call names: its own, or the one it
// re-registers as.
func claimedID(call mesos.AgentCall) string {
	if call.Subscribe != nil {
		return call.Subscribe.AgentInfo.ID
	}
	return call.AgentID
}

// claimedHost is the host name a SUBSCRIBE gives, "" for other calls.
func claimedHost(call mesos.AgentCall) string {
	if call.Subscribe != nil {
		return call.Subscribe.AgentInfo.Hostname
	}
	return ""
}

func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authorizeSubscribe decides whether c may (re-)register as the known agent
// a. Caller holds m.mu.
func (m *Master) authorizeSubscribe(c caller, a *agent, info mesos.AgentInfo) error {
	if c.identity != "" {
		if bound := a.rec.Identity; bound != "" && c.identity != bound {
			return forbidden("agent ID %q belongs to the certificate %q, not %q", info.ID, bound, c.identity)
		}
		return nil
	}
	// The shared secret alone: every agent holds it, so a live agent's ID
	// is taken over only from its own host, as agentd restarting there does.
	if a.stream == nil {
		return nil
	}
	if c.host != a.stream.host || info.BootID != a.rec.Info.BootID {
		return forbidden("agent ID %q is connected from %s (boot ID %q); a re-registration from %s (boot ID %q) is refused while that stream is alive",
			info.ID, a.stream.host, a.rec.Info.BootID, c.host, info.BootID)
	}
	return nil
}

// authorizeCall decides whether c may make a call as agent a (UPDATE,
// HEARTBEAT). Caller holds m.mu.
func (m *Master) authorizeCall(c caller, agentID string, a *agent) error {
	if bound := a.rec.Identity; c.identity != "" && bound != "" && c.identity != bound {
		return forbidden("agent ID %q belongs to the certificate %q, not %q", agentID, bound, c.identity)
	}
	return nil
}

// authorizeUpdate refuses a status update for a task that runs on another
// agent: an agent speaks for its own tasks only. Tasks the master does not
// know are forwarded (the framework kills those it does not know either).
// Caller holds m.mu.
func (m *Master) authorizeUpdate(agentID string, a *agent, u *mesos.AgentUpdate) error {
	if a.tasks[taskKey{u.FrameworkID, u.Status.TaskID}] != nil {
		return nil
	}
	f := m.frameworks[u.FrameworkID]
	if f == nil {
		return nil
	}
	if t := f.tasks[u.Status.TaskID]; t != nil && t.info.AgentID != agentID {
		return forbidden("task %q of framework %q runs on agent %q, not %q", u.Status.TaskID, u.FrameworkID, t.info.AgentID, agentID)
	}
	return nil
}
