package api

import "net/http"

// agent serves /agent/<agentID>/… on the Marathon port too, where the web
// UI is: the agents' sandboxes through the leader (Config.Agents).
func (s *server) agent(w http.ResponseWriter, r *http.Request, b Backend) error {
	if s.cfg.Agents == nil {
		return s.notFound(w, r, b)
	}
	s.cfg.Agents.ServeHTTP(w, r)
	return nil
}
