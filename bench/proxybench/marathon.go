package main

import (
	"fmt"
	"net"
	"net/http"
)

// fakeMarathon plays just enough of Marathon 1.x for routerd: two apps
// with one task each on the backend, one TCP-mode service port and one
// HTTP-mode (HAPROXY_0_MODE=http), and an event stream that stays idle.
type fakeMarathon struct {
	srv  *http.Server
	ln   net.Listener
	apps []byte
}

func newFakeMarathon(backendPort, tcpPort, httpPort int) (*fakeMarathon, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the fake Marathon: %w", err)
	}
	f := &fakeMarathon{ln: ln, apps: []byte(fmt.Sprintf(`{"apps":[%s,%s]}`,
		appJSON("/bench-tcp", `{}`, tcpPort, backendPort),
		appJSON("/bench-http", `{"HAPROXY_0_MODE":"http"}`, httpPort, backendPort)))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/apps", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.apps)
	})
	mux.HandleFunc("GET /v2/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	f.srv = &http.Server{Handler: mux}
	go f.srv.Serve(ln)
	return f, nil
}

// URL is the base URL to give routerd's --marathon.
func (f *fakeMarathon) URL() string { return "http://" + f.ln.Addr().String() }

func (f *fakeMarathon) Close() { f.srv.Close() }

func appJSON(id, labels string, servicePort, backendPort int) string {
	task := id[1:] + ".1"
	return fmt.Sprintf(`{"id":%q,"instances":1,"portDefinitions":[{"port":%d,"protocol":"tcp","labels":{}}],"labels":%s,`+
		`"tasks":[{"id":%q,"appId":%q,"host":"127.0.0.1","ports":[%d],"servicePorts":[%d],"state":"TASK_RUNNING",`+
		`"startedAt":"2026-12-01T10:00:00.000Z","healthCheckResults":[]}]}`,
		id, servicePort, labels, task, id, backendPort, servicePort)
}
