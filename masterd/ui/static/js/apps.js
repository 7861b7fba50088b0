// The apps page: the group tree, and the apps with their status, instances
// as bars, resources and labels; search by ID or label, filter by status.
import { Bar, Component, ErrorNote, html, mib, useLayoutEffect, useMemo, useRef, useResource, useState } from './lib.js';
import { store } from './api.js';

// appStatus is what the app is doing, as Marathon's UI names it.
export function appStatus(app, queued) {
  if (queued && queued.delay && queued.delay.timeLeftSeconds > 0) return 'delayed';
  if (app.deployments && app.deployments.length) return queued ? 'waiting' : 'deploying';
  if (queued) return 'waiting';
  if (app.instances === 0 && !app.tasksRunning && !app.tasksStaged) return 'suspended';
  return 'running';
}

// queueByApp indexes /v2/queue by app ID.
export function queueByApp(queue) {
  const m = new Map();
  for (const q of queue || []) if (q.app) m.set(q.app.id, q);
  return m;
}

// InstanceBar shows healthy, unhealthy, running (no health check), staged
// and missing instances of an app.
export function InstanceBar({ app }) {
  const healthy = app.tasksHealthy || 0, unhealthy = app.tasksUnhealthy || 0;
  const running = Math.max(0, (app.tasksRunning || 0) - healthy - unhealthy), staged = app.tasksStaged || 0;
  const label = `${healthy} healthy, ${unhealthy} unhealthy, ${running} running, ${staged} staged of ${app.instances}`;
  // A plain call, not a component: a thousand rows need no thousand more
  // component instances.
  return Bar({ label, total: app.instances, parts: [
    { value: healthy, cls: 'healthy' }, { value: unhealthy, cls: 'unhealthy' },
    { value: running, cls: 'running' }, { value: staged, cls: 'staged' }] });
}

// groupTree builds {name, path, children, count} from the apps' IDs.
function groupTree(apps) {
  const root = { name: '/', path: '/', children: new Map(), count: 0 };
  for (const a of apps) {
    root.count++;
    let node = root;
    const parts = a.id.split('/').filter(Boolean);
    for (let i = 0; i < parts.length - 1; i++) {
      const path = '/' + parts.slice(0, i + 1).join('/') + '/';
      let next = node.children.get(parts[i]);
      if (!next) { next = { name: parts[i], path, children: new Map(), count: 0 }; node.children.set(parts[i], next); }
      next.count++;
      node = next;
    }
  }
  return root;
}

function Tree({ node, group, depth = 0 }) {
  const kids = [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name));
  return html`<li>
    <a href=${'#/apps?group=' + encodeURIComponent(node.path)} aria-current=${group === node.path ? 'true' : null}>
      ${depth === 0 ? 'All apps' : node.name}<span class="count">${node.count}</span></a>
    ${kids.length ? html`<ul>${kids.map((k) => html`<${Tree} key=${k.path} node=${k} group=${group} depth=${depth + 1} />`)}</ul>` : null}
  </li>`;
}

function labelText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => (v ? k + '=' + v : k));
}

// AppRow is one app of the list. A refresh of /v2/apps brings new objects
// for every app, most unchanged: a row renders again only when what it
// shows changed, which keeps a page of 1,000 apps fast under a stream of
// events.
class AppRow extends Component {
  static sig(a, st) {
    return [st, a.instances, a.tasksRunning, a.tasksHealthy, a.tasksUnhealthy, a.tasksStaged, a.cpus, a.mem, a.version].join() + JSON.stringify(a.labels || {});
  }
  shouldComponentUpdate(next) {
    return AppRow.sig(next.a, next.st) !== AppRow.sig(this.props.a, this.props.st);
  }
  render({ a, st, i }) {
    return html`<div class="row app" role="row" aria-rowindex=${i + 2} data-id=${a.id}>
      <span role="cell"><a href=${'#/apps' + a.id}>${a.id}</a></span>
      <span role="cell"><span class=${'status ' + st}>${st}</span></span>
      <span role="cell" class="instances">${InstanceBar({ app: a })} <span class="muted">${(a.tasksRunning || 0)}/${a.instances}</span></span>
      <span role="cell" class="num">${a.cpus}</span><span role="cell" class="num">${mib(a.mem)}</span>
      <span role="cell" class="labels">${labelText(a.labels).map((l) => html`<span class="label">${l}</span>`)}</span>
    </div>`;
  }
}

// ROW is the height of a row of the list in pixels (.apps .row.app in
// app.css), MARGIN the rows drawn beyond each edge of the screen.
const ROW = 34, MARGIN = 12;

// AppRows draws only the rows on screen and a margin, inside a box as tall
// as all of them, so the page scrolls as if every row were there. A page of
// 1,000 apps then builds, lays out and re-renders some 50 rows, whatever
// the search brings back. Tab moves through the drawn rows; the browser
// scrolls the focused one into view, which draws the next ones.
function AppRows({ rows }) {
  const box = useRef(null);
  const [range, setRange] = useState([0, 2 * MARGIN + Math.ceil(innerHeight / ROW)]);
  const measure = () => {
    const el = box.current;
    if (!el) return;
    const top = el.getBoundingClientRect().top;
    const first = Math.max(0, Math.floor(-top / ROW) - MARGIN);
    const last = Math.max(first, Math.ceil((innerHeight - top) / ROW) + MARGIN);
    setRange((r) => (r[0] === first && r[1] === last ? r : [first, last]));
  };
  useLayoutEffect(measure); // the list's place moves as what is above it changes
  useLayoutEffect(() => {
    let frame = 0;
    const on = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; measure(); }); };
    addEventListener('scroll', on, { passive: true });
    addEventListener('resize', on);
    return () => { cancelAnimationFrame(frame); removeEventListener('scroll', on); removeEventListener('resize', on); };
  }, []);
  const first = Math.min(range[0], rows.length), last = Math.min(range[1], rows.length);
  const shown = [];
  for (let i = first; i < last; i++) shown.push(html`<${AppRow} key=${rows[i].a.id} a=${rows[i].a} st=${rows[i].st} i=${i} />`);
  return html`<div role="rowgroup" ref=${box} style=${`height:${rows.length * ROW}px;padding-top:${first * ROW}px`}>${shown}</div>`;
}

const STATUSES = ['running', 'deploying', 'waiting', 'delayed', 'suspended'];

export function AppsPage({ query }) {
  const apps = useResource(store.apps);
  const queue = useResource(store.queue);
  const group = query.get('group') || '/';
  const [q, setQ] = useState(query.get('q') || '');
  const [status, setStatus] = useState(query.get('status') || '');
  const queued = useMemo(() => queueByApp(queue.value), [queue.value]);
  const tree = useMemo(() => groupTree(apps.value || []), [apps.value]);
  const rows = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const out = [];
    for (const a of apps.value || []) {
      if (group !== '/' && !a.id.startsWith(group)) continue;
      const st = appStatus(a, queued.get(a.id));
      if (status && st !== status) continue;
      if (needle && !a.id.toLowerCase().includes(needle) && !labelText(a.labels).some((l) => l.toLowerCase().includes(needle))) continue;
      out.push({ a, st });
    }
    return out.sort((x, y) => (x.a.id < y.a.id ? -1 : x.a.id > y.a.id ? 1 : 0));
  }, [apps.value, queued, group, q, status]);

  return html`<main class="with-side">
    <aside class="side" aria-label="groups"><ul class="tree"><${Tree} node=${tree} group=${group} /></ul></aside>
    <section>
      <div class="toolbar">
        <h1>Apps${group !== '/' ? html` in <code>${group}</code>` : ''}</h1>
        <a class="button primary" href="#/new">Create app</a>
      </div>
      <div class="filters">
        <input type="search" id="app-search" placeholder="Search by ID or label" aria-label="search apps"
          value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
        <select aria-label="status filter" id="status-filter" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
          <option value="">any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
        <span class="muted" id="app-count">${rows.length} of ${(apps.value || []).length} apps</span>
      </div>
      <${ErrorNote} error=${apps.error} />
      ${apps.value === undefined && !apps.error ? html`<p class="loading">Loading apps…</p>` : html`
      <div class="apps" role="table" aria-label="apps" aria-rowcount=${rows.length + 1}>
        <div class="row head" role="row"><span role="columnheader">ID</span><span role="columnheader">Status</span><span role="columnheader">Instances</span>
          <span role="columnheader" class="num">CPUs</span><span role="columnheader" class="num">Memory</span><span role="columnheader">Labels</span></div>
        <${AppRows} rows=${rows} />
      </div>
      ${rows.length === 0 ? html`<p class="muted">No apps${q || status ? ' match' : ''}.</p>` : null}`}
    </section>
  </main>`;
}
