// An app's page: its tasks (kill, kill and scale, logs), configuration,
// versions (diff, rollback), last task failure and launch queue; scale,
// restart, suspend, edit and destroy.
import { ErrorNote, ago, html, mib, useEffect, useMemo, useResource, useState } from './lib.js';
import { ApiError, appPath, appResource, get, request, store } from './api.js';
import { InstanceBar, appStatus, queueByApp } from './apps.js';
import { ask } from './dialog.js';
import { diffLines } from './diff.js';

// act runs an API change, asking to force it when a deployment locks the
// app, and reports failures; it returns whether the change was accepted.
export async function act(method, path, body, setError) {
  setError(null);
  try {
    await request(method, path, body);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 409 && !path.includes('force=true')) {
      const ok = await ask({ title: 'A deployment holds this app', message: e.message + '. Force the change? The running deployment is cancelled.', confirm: 'Force', danger: true });
      if (ok) return act(method, path + (path.includes('?') ? '&' : '?') + 'force=true', body, setError);
    }
    setError(e);
    return false;
  }
}

function TaskRow({ t, app, selected, toggle }) {
  const hc = t.healthCheckResults || [];
  const failing = hc.find((r) => !r.alive);
  const health = !hc.length ? html`<span class="muted">—</span>`
    : failing ? html`<span class="status unhealthy">unhealthy</span>${failing.lastFailureCause ? html` <span class="cause">${failing.lastFailureCause}</span>` : null}`
      : html`<span class="status healthy">healthy</span>`;
  const logs = (file) => `#/log?app=${encodeURIComponent(app.id)}&task=${encodeURIComponent(t.id)}&agent=${encodeURIComponent(t.slaveId || '')}&file=${file}`;
  return html`<tr class="task" data-id=${t.id}>
    <td><input type="checkbox" aria-label=${'select ' + t.id} checked=${selected} onChange=${() => toggle(t.id)} /></td>
    <td class="mono">${t.id}</td>
    <td>${t.host}</td>
    <td>${(t.ports || []).map((p) => html`<a class="port" href=${'http://' + t.host + ':' + p} target="_blank" rel="noopener">${p}</a> `)}</td>
    <td><span class=${'state ' + (t.state || '').toLowerCase()}>${(t.state || '').replace('TASK_', '').toLowerCase()}</span></td>
    <td class="health">${health}</td>
    <td title=${t.startedAt || ''}>${ago(t.startedAt || t.stagedAt)}</td>
    <td class="mono" title="version">${t.version}</td>
    <td><a href=${logs('stdout')}>stdout</a> <a href=${logs('stderr')}>stderr</a></td>
  </tr>`;
}

function Tasks({ app, setError }) {
  const [sel, setSel] = useState(new Set());
  const tasks = app.tasks || [];
  const toggle = (id) => { const s = new Set(sel); s.has(id) ? s.delete(id) : s.add(id); setSel(s); };
  const kill = async (scale) => {
    const ids = tasks.filter((t) => sel.has(t.id)).map((t) => t.id);
    const ok = await ask({ title: `Kill ${ids.length} task${ids.length > 1 ? 's' : ''}${scale ? ' and scale down' : ''}?`,
      message: scale ? `The app is scaled down by ${ids.length}; they are not replaced.` : 'Marathon launches replacements.', confirm: scale ? 'Kill and scale' : 'Kill', danger: true });
    if (ok && await act('POST', '/v2/tasks/delete' + (scale ? '?scale=true' : ''), { ids }, setError)) setSel(new Set());
  };
  return html`<div class="toolbar small">
      <button disabled=${!sel.size} onClick=${() => kill(false)} id="kill-tasks">Kill</button>
      <button disabled=${!sel.size} onClick=${() => kill(true)} id="kill-scale-tasks">Kill and scale</button>
    </div>
    <div class="table-wrap"><table class="tasks">
      <thead><tr><th><input type="checkbox" aria-label="select all tasks" checked=${tasks.length && sel.size === tasks.length}
        onChange=${(e) => setSel(e.currentTarget.checked ? new Set(tasks.map((t) => t.id)) : new Set())} /></th>
        <th>Task</th><th>Host</th><th>Ports</th><th>State</th><th>Health</th><th>Started</th><th>Version</th><th>Logs</th></tr></thead>
      <tbody>${tasks.map((t) => html`<${TaskRow} key=${t.id} t=${t} app=${app} selected=${sel.has(t.id)} toggle=${toggle} />`)}</tbody>
    </table></div>
    ${tasks.length ? null : html`<p class="muted">No tasks.</p>`}`;
}

// definition is the app as the user wrote it: without what Marathon adds.
export function definition(app) {
  const d = { ...app };
  for (const k of ['version', 'versionInfo', 'tasks', 'tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy',
    'deployments', 'lastTaskFailure', 'readinessCheckResults', 'taskStats', 'tasksStats']) delete d[k];
  return d;
}

// sorted renders JSON with sorted keys, so that diffs show what changed.
function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
  return v;
}
const pretty = (v) => JSON.stringify(sorted(v), null, 2);

function Versions({ app, setError }) {
  const [list, setList] = useState(null);
  const [a, setA] = useState(null);
  const [b, setB] = useState(null);
  const [diff, setDiff] = useState(null);
  useEffect(() => {
    get(appPath(app.id) + '/versions').then((v) => {
      setList(v.versions);
      if (v.versions.length > 1) { setA(v.versions[1]); setB(v.versions[0]); }
    }, setError);
  }, [app.id, app.version]);
  useEffect(() => {
    if (!a || !b) { setDiff(null); return; }
    Promise.all([a, b].map((v) => get(appPath(app.id) + '/versions/' + encodeURIComponent(v))))
      .then(([x, y]) => setDiff(diffLines(pretty(definition(x)), pretty(definition(y)))), setError);
  }, [a, b]);
  const rollback = async (v) => {
    const ok = await ask({ title: 'Roll back?', message: `Deploy ${app.id} as it was at ${v}.`, confirm: 'Roll back', danger: true });
    if (ok) await act('PUT', appPath(app.id), { version: v }, setError);
  };
  if (!list) return html`<p class="loading">Loading versions…</p>`;
  return html`<div class="table-wrap"><table class="versions">
      <thead><tr><th>A</th><th>B</th><th>Version</th><th></th></tr></thead>
      <tbody>${list.map((v, i) => html`<tr class="version" data-version=${v}>
        <td><input type="radio" name="va" aria-label=${'compare from ' + v} checked=${a === v} onChange=${() => setA(v)} /></td>
        <td><input type="radio" name="vb" aria-label=${'compare to ' + v} checked=${b === v} onChange=${() => setB(v)} /></td>
        <td class="mono">${v}${v === app.version ? html` <span class="label">current</span>` : null}</td>
        <td>${v !== app.version ? html`<button class="rollback" onClick=${() => rollback(v)}>Roll back to this</button>` : null}</td>
      </tr>`)}</tbody></table></div>
    ${diff ? html`<h3>Changes from A to B</h3><pre class="diff" aria-label="diff">${diff.map((l) =>
      html`<span class=${'d' + l.op}>${(l.op === '=' ? '  ' : l.op + ' ') + l.text + '\n'}</span>`)}</pre>` : null}`;
}

function Failure({ f }) {
  if (!f) return null;
  return html`<section class="card failure" aria-label="last task failure">
    <h3>Last task failure</h3>
    <p><span class=${'state ' + (f.state || '').toLowerCase()}>${f.state}</span> <span class="cause" id="last-failure-message">${f.message || '(no message)'}</span></p>
    <p class="muted">${f.taskId} on ${f.host} · ${ago(f.timestamp)} · version ${f.version}</p>
  </section>`;
}

function Queue({ q, app, setError }) {
  if (!q) return null;
  const d = q.delay || {};
  const s = q.processedOffersSummary || {};
  const reset = () => act('DELETE', '/v2/queue' + app.id.split('/').map(encodeURIComponent).join('/') + '/delay', undefined, setError);
  return html`<section class="card queue" aria-label="launch queue">
    <h3>Waiting to launch: ${q.count}</h3>
    ${d.timeLeftSeconds > 0 ? html`<p>Launch delayed for ${d.timeLeftSeconds}s after failures. <button onClick=${reset} id="reset-delay">Reset delay</button></p>` : html`<p class="muted">No launch delay.</p>`}
    <p class="muted">Offers processed ${s.processedOffersCount || 0}, unused ${s.unusedOffersCount || 0}${(s.rejectSummaryLastOffers || []).filter((r) => r.declined).map((r) => html`; ${r.reason}: ${r.declined}`)}</p>
  </section>`;
}

export function AppPage({ id, tab }) {
  const res = useMemo(() => appResource(id), [id]);
  useResource(res);
  const queue = useResource(store.queue);
  const [error, setError] = useState(null);
  const app = res.value && res.value.id === id ? res.value : null;
  if (!app) {
    const gone = res.error && res.error.status === 404;
    return html`<main><p><a href="#/apps">Apps</a></p>${gone ? html`<h1>${id}</h1><p>No such app (destroyed?).</p>` : res.error ? html`<${ErrorNote} error=${res.error} />` : html`<p class="loading">Loading ${id}…</p>`}</main>`;
  }
  const q = queueByApp(queue.value).get(id);
  const st = appStatus(app, q);
  const path = appPath(id);
  const scale = async () => {
    const n = await ask({ title: 'Scale ' + id, input: { label: 'Instances', value: app.instances, type: 'number' }, confirm: 'Scale' });
    if (n !== null && n !== '') await act('PATCH', path, { instances: Number(n) }, setError);
  };
  const restart = async () => {
    if (await ask({ title: 'Restart ' + id + '?', message: 'Every instance is replaced, following the upgrade strategy.', confirm: 'Restart' })) {
      await act('POST', path + '/restart', undefined, setError);
    }
  };
  const suspend = async () => {
    if (await ask({ title: 'Suspend ' + id + '?', message: 'Scales it to 0 instances; its configuration stays.', confirm: 'Suspend', danger: true })) {
      await act('PATCH', path, { instances: 0 }, setError);
    }
  };
  const destroy = async () => {
    if (await ask({ title: 'Destroy ' + id + '?', message: 'Kills every task and deletes the app and its versions.', confirm: 'Destroy', danger: true })) {
      if (await act('DELETE', path, undefined, setError)) location.hash = '#/apps';
    }
  };
  const tabLink = (name, label) => html`<a role="tab" href=${'#/apps' + id + '?tab=' + name} aria-selected=${tab === name ? 'true' : 'false'}>${label}</a>`;
  return html`<main>
    <p class="crumbs"><a href="#/apps">Apps</a> ${id.split('/').slice(1, -1).map((g, i, all) =>
      html` / <a href=${'#/apps?group=' + encodeURIComponent('/' + all.slice(0, i + 1).join('/') + '/')}>${g}</a>`)}</p>
    <div class="toolbar">
      <h1>${id} <span class=${'status ' + st} id="app-status">${st}</span></h1>
      <div class="actions">
        <button onClick=${scale} id="scale">Scale</button>
        <button onClick=${restart} id="restart">Restart</button>
        <button onClick=${suspend} id="suspend">Suspend</button>
        <a class="button" href=${'#/edit' + id} id="edit">Edit</a>
        <button class="danger" onClick=${destroy} id="destroy">Destroy</button>
      </div>
    </div>
    <${ErrorNote} error=${error} />
    <p class="summary"><${InstanceBar} app=${app} />
      <span id="instance-summary">${app.tasksRunning || 0} running · ${app.tasksHealthy || 0} healthy · ${app.tasksUnhealthy || 0} unhealthy · ${app.tasksStaged || 0} staged · ${app.instances} wanted</span>
      · ${app.cpus} CPUs · ${mib(app.mem)}${app.deployments && app.deployments.length ? html` · <a href="#/deployments">deploying</a>` : null}</p>
    <${Failure} f=${app.lastTaskFailure} />
    <${Queue} q=${q} app=${app} setError=${setError} />
    <nav class="tabs" role="tablist">${tabLink('tasks', 'Tasks')}${tabLink('config', 'Configuration')}${tabLink('versions', 'Versions')}</nav>
    ${tab === 'config' ? html`<pre class="json" aria-label="configuration">${pretty(definition(app))}</pre>`
      : tab === 'versions' ? html`<${Versions} app=${app} setError=${setError} />`
        : html`<${Tasks} app=${app} setError=${setError} />`}
  </main>`;
}
