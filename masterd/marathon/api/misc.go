package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"corral/marathon"
)

// listDeployments serves GET /v2/deployments: a JSON array of the running
// deployments.
func (s *server) listDeployments(w http.ResponseWriter, r *http.Request, b Backend) error {
	writeJSON(w, http.StatusOK, orEmpty(b.View().Deployments))
	return nil
}

// cancelDeployment serves DELETE /v2/deployments/{id}: without force a
// rollback deployment (200 with it), with force only the cancellation
// (202, no body).
func (s *server) cancelDeployment(w http.ResponseWriter, r *http.Request, b Backend) error {
	res, err := b.CancelDeployment(r.Context(), r.PathValue("id"), flag(r.URL.Query(), "force", false))
	if err != nil {
		return err
	}
	if res == nil {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	writeDeployment(w, http.StatusOK, *res)
	return nil
}

// listQueue serves GET /v2/queue; the offers an app could not use only
// with embed=lastUnusedOffers.
func (s *server) listQueue(w http.ResponseWriter, r *http.Request, b Backend) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed()
	}
	offers := slices.Contains(embedValues(r.URL.Query()["embed"]), "lastUnusedOffers")
	items := make([]marathon.QueueItem, 0, len(b.View().Queue))
	for _, it := range b.View().Queue {
		if !offers {
			it.LastUnusedOffers = nil
		}
		items = append(items, it)
	}
	writeJSON(w, http.StatusOK, marathon.Queue{Queue: items})
	return nil
}

// resetDelay serves DELETE /v2/queue/{appId}/delay: 204, or 404 when the
// app has no launch delay.
func (s *server) resetDelay(w http.ResponseWriter, r *http.Request, b Backend) error {
	path, ok := strings.CutSuffix(strings.TrimSuffix(r.PathValue("path"), "/"), "/delay")
	if !ok {
		return notFound("HTTP 404 Not Found")
	}
	id := marathon.JoinID(marathon.RootID, path)
	if !b.ResetDelay(id) {
		return notFound(fmt.Sprintf("Application %s not found in tasks queue.", id))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// info serves GET /v2/info: the configured info with this master as the
// elected leader.
func (s *server) info(w http.ResponseWriter, r *http.Request, b Backend) error {
	info := s.cfg.Info()
	info.Elected = true
	if addr, ok := s.lead.Leader(); ok {
		info.Leader = addr
	}
	info.FrameworkID = b.FrameworkID()
	writeJSON(w, http.StatusOK, info)
	return nil
}

// leader serves GET /v2/leader on every master: {"leader": "host:port"},
// or 404 during an election.
func (s *server) leader(w http.ResponseWriter, r *http.Request) {
	noCache(w)
	addr, ok := s.lead.Leader()
	if !ok {
		writeJSON(w, http.StatusNotFound, marathon.Message{Message: msgThereIsNoLeader})
		return
	}
	writeJSON(w, http.StatusOK, marathon.LeaderInfo{Leader: addr})
}

// abdicate serves DELETE /v2/leader on the leader (standbys forward it).
func (s *server) abdicate(w http.ResponseWriter, r *http.Request, b Backend) error {
	if err := s.lead.Abdicate(); err != nil {
		if s.lead.Backend() == nil {
			return notFound(msgThereIsNoLeader)
		}
		return fmt.Errorf("abdicating: %w", err)
	}
	writeJSON(w, http.StatusOK, marathon.Message{Message: msgAbdicated})
	return nil
}

// events serves /v2/events from the configured event stream.
func (s *server) events(w http.ResponseWriter, r *http.Request, b Backend) error {
	if s.cfg.EventStream == nil {
		return notFound("HTTP 404 Not Found")
	}
	s.cfg.EventStream.ServeHTTP(w, r)
	return nil
}
