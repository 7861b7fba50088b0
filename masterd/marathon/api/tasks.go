package api

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// listTasks serves GET /v2/tasks: every task, as {"tasks": […]} filtered
// by status (running, staging; repeatable, also as status[]), or with
// Accept: text/plain the endpoint list of every app.
func (s *server) listTasks(w http.ResponseWriter, r *http.Request, b Backend) error {
	v := b.View()
	if wantsText(r) {
		s.cache.get(v, cacheKey{resource: "tasks", text: true}, func() response {
			return textResponse(endpoints(v, sortedAppIDs(v.Root)))
		}).write(w)
		return nil
	}
	q := r.URL.Query()
	states := map[string]bool{}
	for _, st := range append(q["status"], q["status[]"]...) {
		switch strings.ToLower(st) {
		case "running":
			states[marathon.TaskRunning] = true
		case "staging":
			states[marathon.TaskStaging] = true
		}
	}
	key := cacheKey{resource: "tasks", query: strings.Join(slices.Sorted(maps.Keys(states)), ",")}
	s.cache.get(v, key, func() response {
		tasks := []marathon.Task{}
		for _, id := range sortedAppIDs(v.Root) {
			if st := v.Apps[id]; st != nil {
				for _, t := range st.Tasks {
					if len(states) == 0 || states[t.State] {
						tasks = append(tasks, t)
					}
				}
			}
		}
		return jsonResponse(http.StatusOK, marathon.TaskList{Tasks: tasks})
	}).write(w)
	return nil
}

// appTasks serves GET /v2/apps/{id}/tasks, for "{group}/*" the tasks of
// every app below the group; JSON, or with Accept: text/plain the
// endpoint list.
func (s *server) appTasks(w http.ResponseWriter, r *http.Request, b Backend, ref appRef) error {
	v := b.View()
	var ids []string
	switch {
	case ref.group:
		if !hasGroup(v.Root, ref.id) {
			return unknownGroup(ref.id)
		}
		ids = appsBelow(v.Root, ref.id)
	default:
		if _, ok := v.Root.Apps[ref.id]; !ok {
			return marathon.AppNotFound(ref.id)
		}
		ids = []string{ref.id}
	}
	if wantsText(r) {
		textResponse(endpoints(v, ids)).write(w)
		return nil
	}
	tasks := []marathon.Task{}
	for _, id := range ids {
		if st := v.Apps[id]; st != nil {
			tasks = append(tasks, st.Tasks...)
		}
	}
	writeJSON(w, http.StatusOK, marathon.TaskList{Tasks: tasks})
	return nil
}

// appTask serves GET /v2/apps/{id}/tasks/{taskId}: {"task": …}.
func (s *server) appTask(w http.ResponseWriter, r *http.Request, b Backend, id, taskID string) error {
	t, err := findTask(b.View(), id, taskID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, marathon.TaskSingle{Task: t})
	return nil
}

// findTask finds a live task of app id.
func findTask(v *model.View, id, taskID string) (marathon.Task, error) {
	if _, ok := v.Root.Apps[id]; !ok {
		return marathon.Task{}, marathon.AppNotFound(id)
	}
	if st := v.Apps[id]; st != nil {
		for _, t := range st.Tasks {
			if t.ID == taskID {
				return t, nil
			}
		}
	}
	return marathon.Task{}, notFound(fmt.Sprintf("Task '%s' does not exist", taskID))
}

// killOptions reads scale, wipe and force, which cannot go together
// as scale and wipe.
func killOptions(r *http.Request) (KillOptions, error) {
	q := r.URL.Query()
	o := KillOptions{Scale: flag(q, "scale", false), Wipe: flag(q, "wipe", false), Force: flag(q, "force", false)}
	if o.Scale && o.Wipe {
		return o, badRequest(msgScaleAndWipe)
	}
	return o, nil
}

// killAppTasks serves DELETE /v2/apps/{id}/tasks: kills the app's tasks,
// those on agent host when given ("*": all).
func (s *server) killAppTasks(w http.ResponseWriter, r *http.Request, b Backend, id string) error {
	o, err := killOptions(r)
	if err != nil {
		return err
	}
	v := b.View()
	if _, ok := v.Root.Apps[id]; !ok {
		return marathon.AppNotFound(id)
	}
	q := r.URL.Query()
	host := q.Get("host")
	ids := []string{}
	if st := v.Apps[id]; st != nil {
		for _, t := range st.Tasks {
			if !q.Has("host") || host == "*" || t.Host == host {
				ids = append(ids, t.ID)
			}
		}
	}
	return s.kill(w, r, b, ids, o, "")
}

// killAppTask serves DELETE /v2/apps/{id}/tasks/{taskId}: {"task": …},
// or the deployment with scale.
func (s *server) killAppTask(w http.ResponseWriter, r *http.Request, b Backend, id, taskID string) error {
	o, err := killOptions(r)
	if err != nil {
		return err
	}
	if _, err := findTask(b.View(), id, taskID); err != nil {
		return err
	}
	return s.kill(w, r, b, []string{taskID}, o, taskID)
}

// deleteTasks serves POST /v2/tasks/delete with {"ids": […]}.
func (s *server) deleteTasks(w http.ResponseWriter, r *http.Request, b Backend) error {
	o, err := killOptions(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := decodeObject(body)
	if err != nil {
		return err
	}
	list, ok := m["ids"].([]any)
	switch {
	case m["ids"] == nil:
		return invalidJSON("/ids", errPathMissing)
	case !ok:
		return invalidJSON("/ids", errArray)
	}
	var p problems
	ids := make([]string, 0, len(list))
	for i, e := range list {
		id, ok := e.(string)
		if !ok {
			p.badJSON(fmt.Sprintf("/ids(%d)", i), errString)
			continue
		}
		ids = append(ids, id)
	}
	if err := p.err(); err != nil {
		return err
	}
	for _, id := range ids {
		// Marathon's task IDs are "<app>.<uuid>" (or "_" separated).
		if strings.IndexAny(id, "._") <= 0 {
			return badRequest(fmt.Sprintf("Invalid task id '%s'.", id))
		}
	}
	return s.kill(w, r, b, ids, o, "")
}

// kill kills tasks and answers with them ({"tasks": …}, or {"task": …}
// when one was named), or with scale with the deployment that scales
// their apps down.
func (s *server) kill(w http.ResponseWriter, r *http.Request, b Backend, ids []string, o KillOptions, single string) error {
	killed, res, err := b.KillTasks(r.Context(), ids, o)
	if err != nil {
		return err
	}
	switch {
	case o.Scale:
		if res == nil { // nothing to kill, nothing to scale
			res = &marathon.DeploymentResult{Version: b.View().Root.Version}
		}
		writeDeployment(w, http.StatusOK, *res)
	case single != "":
		if len(killed) == 0 {
			return notFound(fmt.Sprintf("Task '%s' does not exist", single))
		}
		writeJSON(w, http.StatusOK, marathon.TaskSingle{Task: killed[0]})
	default:
		writeJSON(w, http.StatusOK, marathon.TaskList{Tasks: killed})
	}
	return nil
}

// wantsText reports whether the request prefers text/plain to JSON: its
// Accept header ranks text/plain above application/json, the most specific
// range deciding each type's quality as in HTTP content negotiation.
func wantsText(r *http.Request) bool {
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if strings.TrimSpace(accept) == "" {
		return false
	}
	return quality(accept, "text", "plain") > quality(accept, "application", "json")
}

// quality is the q of the most specific media range of accept that
// matches typ/sub; 0 when none does.
func quality(accept, typ, sub string) float64 {
	best, q := -1, 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, s, _ := strings.Cut(mt, "/")
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec < 0 || spec < best {
			continue
		}
		pq := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				pq = f
			}
		}
		if spec > best || pq > q {
			best, q = spec, pq
		}
	}
	return q
}

func textResponse(body string) response {
	return response{status: http.StatusOK, contentType: "text/plain; charset=utf-8", body: []byte(body)}
}

// endpoints writes the apps' running tasks in the format of Marathon's
// text/plain task list, which haproxy-marathon-bridge and Bamboo read: per
// app and service port one line of the app's ID with "_" for "/", the
// service port and the tasks' host:port, each followed by a tab. An app
// without ports gets one line with " " for the port and the tasks' hosts,
// each followed by a space.
func endpoints(v *model.View, ids []string) string {
	var sb strings.Builder
	for _, id := range ids {
		a := v.Root.Apps[id]
		var running []marathon.Task
		if st := v.Apps[id]; st != nil {
			for _, t := range st.Tasks {
				if t.State == marathon.TaskRunning {
					running = append(running, t)
				}
			}
		}
		name := marathon.SafeID(id)
		ports := a.ServicePorts()
		if len(ports) == 0 {
			sb.WriteString(name + "\t \t")
			for _, t := range running {
				sb.WriteString(t.Host + " ")
			}
			sb.WriteByte('\n')
			continue
		}
		for i, port := range ports {
			sb.WriteString(name + "\t" + strconv.Itoa(port) + "\t")
			for _, t := range running {
				sb.WriteString(endpoint(&a, t, i) + "\t")
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// endpoint is where task t serves the app's port i: the agent and the host
// port, or on a container network a port without a host port at the
// task's address.
func endpoint(a *marathon.App, t marathon.Task, i int) string {
	if a.HasNonHostNetworks() && !a.HasBridgeNetwork() && a.Container != nil &&
		i < len(a.Container.PortMappings) && a.Container.PortMappings[i].HostPort == nil && len(t.IPAddresses) > 0 {
		return t.IPAddresses[0].IPAddress + ":" + strconv.Itoa(a.Container.PortMappings[i].ContainerPort)
	}
	port := 0
	if i < len(t.Ports) {
		port = t.Ports[i]
	}
	return t.Host + ":" + strconv.Itoa(port)
}
