package api

import (
	"net/http"
	"net/url"
	"sync"

	"corral/masterd/marathon/model"
)

// The cache keeps the responses of one view, at most maxCachedResponses
// of them and maxCachedBytes in all: a client that varies its parameters
// gets answers rendered afresh beyond that rather than growing the cache.
const (
	maxCachedResponses = 64
	maxCachedBytes     = 64 << 20
)

// cacheKey names a response of a view by what changes its body: the
// resource and the request's parameters as the handler reads them.
type cacheKey struct {
	resource string    // e.g. "apps", "app /prod/web", "tasks"
	query    string    // the filters, canonical (see filterQuery)
	embeds   appEmbeds // resolved: many spellings share a value
	text     bool      // text/plain negotiated rather than JSON
}

// filterQuery is the canonical form of the parameters names of q with
// their first value, which is all the handlers read: requests that differ
// in other parameters or in their order share it.
func filterQuery(q url.Values, names ...string) string {
	k := url.Values{}
	for _, n := range names {
		if q.Has(n) {
			k.Set(n, q.Get(n))
		}
	}
	return k.Encode()
}

// responseCache keeps the encoded responses of GET requests on the
// current view. Views are immutable and the framework shares one between
// readers until something changes, so the same request on the same view
// gets the same bytes: pollers such as marathon-lb, Traefik and Bamboo ask
// far more often than the view changes, and encoding 1,000 apps with
// their tasks takes tens of milliseconds.
type responseCache struct {
	mu sync.Mutex // guards view, entries and size
	// view is the view whose responses entries holds. Holding it also
	// keeps its address from being reused by a later view.
	view    *model.View
	entries map[cacheKey]*cacheEntry
	size    int // capacity of the bodies in entries, in bytes
}

// cacheEntry is one response, rendered by the first request for it while
// the others for it wait.
type cacheEntry struct {
	done chan struct{} // closed once resp and ok are set
	resp response
	ok   bool // resp is a 200 worth sharing
}

// get returns the response to the request named key on view v: a kept
// one, or what render returns, kept when it is a 200 and fits. Concurrent
// requests for a key wait for one render. Responses with apps.taskStats
// are never kept: the tasks' life times move with the clock.
func (c *responseCache) get(v *model.View, key cacheKey, render func() response) response {
	if key.embeds.taskStats {
		return render()
	}
	c.mu.Lock()
	if c.view != v {
		c.view, c.entries, c.size = v, map[cacheKey]*cacheEntry{}, 0
	}
	e, ok := c.entries[key]
	switch {
	case ok:
		c.mu.Unlock()
		<-e.done
		if e.ok {
			return e.resp
		}
		return render() // the first failed, maybe by panicking: not ours to share
	case len(c.entries) >= maxCachedResponses:
		c.mu.Unlock()
		return render()
	}
	e = &cacheEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()
	defer c.settle(v, key, e)
	resp := render()
	e.resp, e.ok = resp, resp.status == http.StatusOK
	return resp
}

// settle hands e to the requests waiting for it and keeps it for later
// ones if it holds a 200 that fits; an entry whose render failed or
// panicked is dropped.
func (c *responseCache) settle(v *model.View, key cacheKey, e *cacheEntry) {
	c.mu.Lock()
	if c.view == v && c.entries[key] == e {
		if n := cap(e.resp.body); e.ok && c.size+n <= maxCachedBytes {
			c.size += n
		} else {
			delete(c.entries, key)
		}
	}
	c.mu.Unlock()
	close(e.done)
}
