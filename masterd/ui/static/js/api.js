// The UI's data: requests to the Marathon API on this origin (the browser
// adds basic auth credentials it was given for the page) and a store of
// the cluster's state that /v2/events keeps current. Events never carry
// whole documents, so they mark parts of the store stale, and each stale
// part is read again once, however many events arrive meanwhile.

// ApiError is a non-2xx answer; body is the parsed JSON when there was one
// (Marathon's {"message","details":[{"path","errors"}]}).
export class ApiError extends Error {
  constructor(status, body, text) {
    super((body && body.message) || text || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// request sends method path with an optional JSON body and returns the
// parsed answer.
export async function request(method, path, body) {
  return parse(await requestText(method, path, body));
}

// parse reads an answer as JSON; one that is not (an empty 200) is null.
function parse(text) {
  try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
}

// requestText sends method path with an optional JSON body and returns the
// answer's text, or throws an ApiError.
async function requestText(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const resp = await fetch(url(path), init);
  const text = await resp.text();
  if (!resp.ok) {
    throw new ApiError(resp.status, parse(text), text.slice(0, 300));
  }
  return text;
}

export const get = (path) => request('GET', path);

// url resolves a path against the page's origin: a page opened as
// https://user:pass@host/ would otherwise pass its credentials into the
// URL, which fetch refuses (the browser sends the credentials it cached
// for the origin anyway).
export const url = (path) => new URL(path, location.origin).href;

export const appPath = (id) => '/v2/apps' + id.split('/').map(encodeURIComponent).join('/');

// resource is one document of the store (GET path, of which pick keeps
// what the pages read): read on demand, read again when marked stale while
// someone watches it, at most one read at a time. A document that reads
// the same as before is neither parsed nor shown again: most events leave
// most documents as they were.
class Resource {
  constructor(path, pick = (v) => v) {
    this.path = path;
    this.pick = pick;
    this.text = null; // the answer value was parsed from
    this.value = undefined;
    this.error = null;
    this.watchers = new Set();
    this.inflight = false;
    this.stale = true;
    this.pending = null;
  }
  watch(fn) {
    this.watchers.add(fn);
    if (this.stale) this.refresh();
    else if (!this.inflight) queueMicrotask(fn); // read before anyone watched
    return () => this.watchers.delete(fn);
  }
  invalidate() {
    this.stale = true;
    if (this.watchers.size && !this.pending) {
      // Coalesce a burst of events (100 tasks changing state) into one read
      // and one render per 250 ms at most.
      this.pending = setTimeout(() => { this.pending = null; this.refresh(); }, 250);
    }
  }
  async refresh() {
    if (this.inflight) { this.stale = true; return; }
    this.inflight = true;
    this.stale = false;
    let changed = false;
    try {
      const text = await requestText('GET', this.path);
      if (text !== this.text) {
        this.value = this.pick(parse(text));
        this.text = text;
        changed = true;
      }
      changed = changed || this.error !== null;
      this.error = null;
    } catch (e) {
      this.error = e;
      changed = true;
    }
    this.inflight = false;
    if (changed) for (const fn of this.watchers) fn();
    if (this.stale && this.watchers.size) this.invalidate();
  }
}

// The list shows counts and whether a deployment runs, nothing more: the
// last failures would make the document of 1,000 apps larger to send and
// to parse on every refresh. index.html preloads the same URL.
const appEmbeds = 'embed=apps.counts&embed=apps.deployments';

// store holds the shared documents.
export const store = {
  apps: new Resource('/v2/apps?' + appEmbeds, (v) => v.apps),
  queue: new Resource('/v2/queue', (v) => v.queue),
  deployments: new Resource('/v2/deployments'),
  cluster: new Resource('/master/state'),
  app: new Map(), // id → Resource of /v2/apps/{id} with tasks
};

export function appResource(id) {
  let r = store.app.get(id);
  if (!r) {
    r = new Resource(appPath(id) + '?embed=app.tasks&embed=app.counts&embed=app.deployments&embed=app.lastTaskFailure&embed=app.readiness', (v) => v.app);
    store.app.set(id, r);
  }
  return r;
}

function invalidateApp(id) {
  const r = id && store.app.get(id);
  if (r) r.invalidate();
}

// What each event makes stale.
const taskEvents = ['status_update_event', 'instance_changed_event', 'health_status_changed_event',
  'instance_health_changed_event', 'failed_health_check_event', 'unhealthy_task_kill_event',
  'unhealthy_instance_kill_event', 'unknown_instance_terminated_event'];
const appEvents = ['api_post_event', 'app_terminated_event', 'group_change_success', 'group_change_failed'];
const deploymentEvents = ['deployment_info', 'deployment_step_success', 'deployment_step_failure',
  'deployment_success', 'deployment_failed'];

function onEvent(type, data) {
  store.apps.invalidate();
  store.queue.invalidate();
  if (taskEvents.includes(type)) {
    store.cluster.invalidate();
    invalidateApp(data.appId || data.runSpecId);
    return;
  }
  if (deploymentEvents.includes(type)) {
    store.deployments.invalidate();
    const plan = data.plan || {};
    for (const id of plan.affectedApps || []) invalidateApp(id);
    for (const r of store.app.values()) r.invalidate();
    return;
  }
  const id = data.appId || (data.appDefinition && data.appDefinition.id);
  if (id) invalidateApp(id); else for (const r of store.app.values()) r.invalidate();
}

// connection reports the event stream's state to whoever shows it.
export const connection = { state: 'connecting', watchers: new Set() };
function setConnection(state) {
  connection.state = state;
  for (const fn of connection.watchers) fn();
}

let source = null;
let retry = 1000;

// A page left for another (or kept in the back/forward cache) closes its
// stream: browsers allow six connections per host over HTTP/1.1, and
// streams held by pages no one sees would starve the next ones.
addEventListener('pagehide', () => { if (source) { source.close(); source = null; } });
addEventListener('pageshow', (e) => { if (e.persisted) connect(); });

// connect follows /v2/events; a lost stream reconnects with backoff (the
// browser retries network errors itself; a stream the server refused, such
// as 503 during an election, is retried here), and everything is read
// again after a reconnect, since events may have been missed.
// OPEN_TIMEOUT_MS bounds how long a stream may stay unopened: a request
// that never gets its response headers is dropped and tried again.
const OPEN_TIMEOUT_MS = 5000;

// streamPath asks for the events the page acts on alone, with deployment
// plans in the light format: a full plan carries the whole group tree
// before and after, twice every app (some 480 kB per event with 1,000
// apps), which the browser had to take in and parse for each step of every
// deployment only to learn that the deployments changed.
const streamPath = '/v2/events?plan-format=light&' +
  [...taskEvents, ...appEvents, ...deploymentEvents].map((t) => 'event_type=' + t).join('&');
let openTimer = null;

export function connect() {
  if (source) source.close();
  clearTimeout(openTimer);
  const s = new EventSource(url(streamPath));
  source = s;
  openTimer = setTimeout(() => { if (source === s && s.readyState === EventSource.CONNECTING) connect(); }, OPEN_TIMEOUT_MS);
  source.onopen = () => {
    clearTimeout(openTimer);
    const wasDown = connection.state !== 'connecting';
    retry = 1000;
    setConnection('live');
    if (wasDown) {
      for (const r of [store.apps, store.queue, store.deployments, store.cluster, ...store.app.values()]) r.invalidate();
    }
  };
  source.onerror = () => {
    setConnection('reconnecting');
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    }
  };
  for (const type of [...taskEvents, ...appEvents, ...deploymentEvents]) {
    source.addEventListener(type, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { /* keep going */ }
      onEvent(type, data);
    });
  }
}
