package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// stateView is the part of /master/state the harness checks.
type stateView struct {
	UnreachableSlaves int          `json:"unreachable_slaves"`
	Slaves            []stateAgent `json:"slaves"`
}

type stateAgent struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
}

// stateFetch is one timed GET of /master/state.
type stateFetch struct {
	view    stateView
	latency time.Duration // request until the last byte
	bytes   int
	proto   string
}

func fetchState(ctx context.Context, client *http.Client, master string) (stateFetch, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+master+"/master/state", nil)
	if err != nil {
		return stateFetch{}, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return stateFetch{}, fmt.Errorf("fetching /master/state: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return stateFetch{}, fmt.Errorf("reading /master/state: %w", err)
	}
	f := stateFetch{latency: time.Since(start), bytes: len(body), proto: resp.Proto}
	if resp.StatusCode != http.StatusOK {
		return stateFetch{}, fmt.Errorf("fetching /master/state: %s", resp.Status)
	}
	if err := json.Unmarshal(body, &f.view); err != nil {
		return stateFetch{}, fmt.Errorf("decoding /master/state: %w", err)
	}
	return f, nil
}

// agentCheck is how /master/state lists the fleet's agents.
type agentCheck struct {
	active       int // listed active
	inactive     int // listed, not active (disconnected)
	missing      int // registered but not listed (unreachable or removed)
	unregistered int // never got an agent ID
}

func (c agentCheck) ok(n int) bool { return c.active == n }

func (c agentCheck) String() string {
	return fmt.Sprintf("%d active, %d inactive, %d missing, %d never registered", c.active, c.inactive, c.missing, c.unregistered)
}

// check classifies ids (one per agent, "" if unregistered) against v.
func (v stateView) check(ids []string) agentCheck {
	active := make(map[string]bool, len(v.Slaves))
	for _, s := range v.Slaves {
		active[s.ID] = s.Active
	}
	var c agentCheck
	for _, id := range ids {
		a, listed := active[id]
		switch {
		case id == "":
			c.unregistered++
		case !listed:
			c.missing++
		case a:
			c.active++
		default:
			c.inactive++
		}
	}
	return c
}

// waitAllActive polls /master/state until it lists every agent in ids
// active, or timeout passes; it returns the last check.
func waitAllActive(ctx context.Context, client *http.Client, master string, ids []string, timeout time.Duration) (agentCheck, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := fetchState(ctx, client, master)
		if err != nil {
			return agentCheck{}, err
		}
		c := f.view.check(ids)
		if c.ok(len(ids)) || time.Now().After(deadline) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
