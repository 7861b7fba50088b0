package framework

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"corral/marathon"
)

// Readiness checks, as Marathon's ReadinessCheckExecutor runs them: once an
// instance of an app with readinessChecks runs, the scheduler polls each
// check over HTTP(S) every intervalSeconds until it answers with one of
// httpStatusCodesForReady. A deployment counts an instance as capacity only
// once it is healthy and ready.

// readinessClient probes tasks; each probe sets its own timeout.
var readinessClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// startReadiness starts polling the readiness checks of a running
// instance, unless it has none or polling already started. Callers hold mu.
func (f *Framework) startReadiness(ctx context.Context, in *instance, app *marathon.App) {
	if len(app.ReadinessChecks) == 0 || in.readiness != nil {
		return
	}
	in.readiness = make([]marathon.ReadinessCheckResult, len(app.ReadinessChecks))
	for i, rc := range app.ReadinessChecks {
		in.readiness[i] = marathon.ReadinessCheckResult{Name: rc.Name, TaskID: in.TaskID}
		url, ok := readinessURL(app, rc, in)
		if !ok {
			f.log.Warn("readiness check names no port of the task", "task", in.TaskID, "check", rc.Name, "port", rc.PortName)
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.pollReadiness(ctx, in.TaskID, i, rc, url)
		}()
	}
}

// readinessURL is where a check probes the instance: the host port of the
// named port, or the container's address and port on a container network.
func readinessURL(app *marathon.App, rc marathon.ReadinessCheck, in *instance) (string, bool) {
	scheme := "http"
	if rc.Protocol == "HTTPS" {
		scheme = "https"
	}
	idx := -1
	var containerPort int
	if app.Container != nil && len(app.Container.PortMappings) > 0 {
		hostIdx := 0
		for _, pm := range app.Container.PortMappings {
			if pm.Name == rc.PortName {
				containerPort = pm.ContainerPort
				if pm.HostPort != nil {
					idx = hostIdx
				}
				break
			}
			if pm.HostPort != nil {
				hostIdx++
			}
		}
	} else {
		for i, pd := range app.PortDefinitions {
			if pd.Name == rc.PortName {
				idx = i
			}
		}
	}
	host, port := in.Host, 0
	switch {
	case idx >= 0 && idx < len(in.Ports):
		port = in.Ports[idx]
	case containerPort > 0 && len(in.IPs) > 0:
		host, port = in.IPs[0], containerPort
	default:
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + rc.Path, true
}

// pollReadiness probes one check until it passes, the instance ends or ctx
// ends.
func (f *Framework) pollReadiness(ctx context.Context, taskID string, i int, rc marathon.ReadinessCheck, url string) {
	interval := time.Duration(max(rc.IntervalSeconds, 1)) * time.Second
	timeout := time.Duration(max(rc.TimeoutSeconds, 1)) * time.Second
	for {
		res := probe(ctx, url, timeout, rc)
		f.mu.Lock()
		in := f.instances[taskID]
		if in == nil || !in.alive() || in.readiness == nil {
			f.mu.Unlock()
			return
		}
		res.Name, res.TaskID = rc.Name, taskID
		in.readiness[i] = res
		f.changed()
		f.mu.Unlock()
		if res.Ready {
			f.wake()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func probe(ctx context.Context, url string, timeout time.Duration, rc marathon.ReadinessCheck) marathon.ReadinessCheckResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return marathon.ReadinessCheckResult{}
	}
	resp, err := readinessClient.Do(req)
	if err != nil {
		return marathon.ReadinessCheckResult{}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := marathon.ReadinessCheckResult{Ready: slices.Contains(rc.HTTPStatusCodesForReady, resp.StatusCode)}
	if rc.PreserveLastResponse {
		res.LastResponse = &marathon.ReadinessCheckHTTPResponse{Status: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Body: string(body)}
	}
	return res
}

// ready reports whether every readiness check of the instance passed.
func (in *instance) ready(app *marathon.App) bool {
	if app == nil || len(app.ReadinessChecks) == 0 {
		return true
	}
	if len(in.readiness) != len(app.ReadinessChecks) {
		return false
	}
	for _, r := range in.readiness {
		if !r.Ready {
			return false
		}
	}
	return true
}
