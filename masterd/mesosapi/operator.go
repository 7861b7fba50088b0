package mesosapi

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"corral/masterd/master"
	"corral/mesos"
)

// The operator API (POST /api/v1), the calls tools read the cluster with:
// GET_STATE and its parts, GET_HEALTH, GET_VERSION, GET_MASTER, and the
// SUBSCRIBE stream. Calls that change the cluster (reservations, quota,
// maintenance…) are not supported and answer 400.

// maxOperatorCall bounds a call's body; the supported calls carry no
// arguments.
const maxOperatorCall = 1 << 20

// operatorWriteTimeout cuts off a subscriber that stops reading its stream.
const operatorWriteTimeout = 30 * time.Second

// operatorHeartbeat is the interval of HEARTBEAT events; a var for tests.
var operatorHeartbeat = time.Duration(mesos.OperatorHeartbeatInterval * float64(time.Second))

func (h *Handler) operator(w http.ResponseWriter, r *http.Request, m *master.Master) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			http.Error(w, fmt.Sprintf("unsupported Content-Type %q, must be application/json", ct), http.StatusUnsupportedMediaType)
			return
		}
	}
	if !acceptsJSON(r.Header.Get("Accept")) {
		http.Error(w, fmt.Sprintf("cannot answer Accept %q, only application/json (RecordIO framed for SUBSCRIBE)", r.Header.Get("Accept")), http.StatusNotAcceptable)
		return
	}
	var call mesos.OperatorCall
	if err := json.NewDecoder(io.LimitReader(r.Body, maxOperatorCall)).Decode(&call); err != nil {
		http.Error(w, "malformed operator call: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := mesos.OperatorResponse{Type: call.Type}
	switch call.Type {
	case mesos.OperatorCallSubscribe:
		r.Body.Close()
		h.subscribe(w, r, m)
		return
	case mesos.OperatorCallGetState:
		s := m.OperatorState()
		resp.GetState = &s
	case mesos.OperatorCallGetTasks:
		s := m.OperatorState()
		resp.GetTasks = &s.GetTasks
	case mesos.OperatorCallGetAgents:
		s := m.OperatorState()
		resp.GetAgents = &s.GetAgents
	case mesos.OperatorCallGetFrameworks:
		s := m.OperatorState()
		resp.GetFrameworks = &s.GetFrameworks
	case mesos.OperatorCallGetExecutors:
		resp.GetExecutors = &mesos.GetExecutors{}
	case mesos.OperatorCallGetHealth:
		resp.GetHealth = &mesos.GetHealth{Healthy: true}
	case mesos.OperatorCallGetVersion:
		resp.GetVersion = &mesos.GetVersion{VersionInfo: mesos.VersionInfo{Version: m.Version()}}
	case mesos.OperatorCallGetMaster:
		gm := &mesos.GetMaster{}
		if l, ok := h.Elector.Leader(); ok {
			gm.MasterInfo = MasterInfo(l)
		}
		st := m.State(gm.MasterInfo)
		gm.StartTime, gm.ElectedTime = st.StartTime, st.ElectedTime
		resp.GetMaster = gm
	default:
		http.Error(w, fmt.Sprintf("unsupported operator call type %q, must be one of SUBSCRIBE, GET_STATE, GET_TASKS, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_HEALTH, GET_VERSION, GET_MASTER", call.Type), http.StatusBadRequest)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// acceptsJSON reports whether an Accept header allows a JSON answer (or a
// RecordIO stream of JSON, which SUBSCRIBE sends either way).
func acceptsJSON(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", mesos.RecordIOContentType, "application/*", "*/*":
			return true
		}
	}
	return false
}

// subscribe streams SUBSCRIBED and then every change, with heartbeats,
// until the client goes away, the master stops leading or the client falls
// too far behind (the master then drops it; it subscribes again).
func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request, m *master.Master) {
	state, events, cancel := m.SubscribeOperator()
	defer cancel()
	rc := http.NewResponseController(w)
	// As Mesos: a client that asks for application/recordio is told the
	// framing and, in Message-Content-Type, the records' type; any other
	// gets Content-Type application/json and the same RecordIO framing.
	if strings.Contains(r.Header.Get("Accept"), mesos.RecordIOContentType) {
		w.Header().Set("Content-Type", mesos.RecordIOContentType)
		w.Header().Set("Message-Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rw := mesos.NewRecordWriter(w)
	write := func(evs ...mesos.OperatorEvent) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(operatorWriteTimeout))
		for _, ev := range evs {
			if err := rw.Write(ev); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !write(mesos.OperatorEvent{Type: mesos.OperatorEventSubscribed, Subscribed: &mesos.OperatorSubscribed{
		GetState: state, HeartbeatIntervalSeconds: mesos.OperatorHeartbeatInterval,
	}}) {
		return
	}
	hb := time.NewTicker(operatorHeartbeat)
	defer hb.Stop()
	batch := make([]mesos.OperatorEvent, 0, 64)
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			// Write what is queued at once and flush once.
			batch = append(batch[:0], ev)
		more:
			for len(batch) < cap(batch) {
				select {
				case ev, ok := <-events:
					if !ok {
						write(batch...)
						return
					}
					batch = append(batch, ev)
				default:
					break more
				}
			}
			if !write(batch...) {
				return
			}
			clear(batch)
		case <-hb.C:
			if !write(mesos.OperatorEvent{Type: mesos.OperatorEventHeartbeat}) {
				return
			}
		}
	}
}
