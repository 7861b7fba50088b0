// The apps page: the group tree, and the apps with their status, instances
// as bars, resources and labels; search by ID or label, filter by status.
import { Bar, ErrorNote, html, mib, useMemo, useResource, useState } from './lib.js';
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
  return html`<${Bar} label=${label} total=${app.instances} parts=${[
    { value: healthy, cls: 'healthy' }, { value: unhealthy, cls: 'unhealthy' },
    { value: running, cls: 'running' }, { value: staged, cls: 'staged' }]} />`;
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
    return out.sort((x, y) => x.a.id.localeCompare(y.a.id));
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
      <div class="table-wrap"><table class="apps">
        <thead><tr><th>ID</th><th>Status</th><th>Instances</th><th class="num">CPUs</th><th class="num">Memory</th><th>Labels</th></tr></thead>
        <tbody>${rows.map(({ a, st }) => html`<tr key=${a.id} class="app" data-id=${a.id}>
          <td><a href=${'#/apps' + a.id}>${a.id}</a></td>
          <td><span class=${'status ' + st}>${st}</span></td>
          <td class="instances"><${InstanceBar} app=${a} /> <span class="muted">${(a.tasksRunning || 0)}/${a.instances}</span></td>
          <td class="num">${a.cpus}</td><td class="num">${mib(a.mem)}</td>
          <td>${labelText(a.labels).map((l) => html`<span class="label">${l}</span>`)}</td>
        </tr>`)}</tbody>
      </table></div>
      ${rows.length === 0 ? html`<p class="muted">No apps${q || status ? ' match' : ''}.</p>` : null}`}
    </section>
  </main>`;
}
