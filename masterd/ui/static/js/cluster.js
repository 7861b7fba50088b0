// The cluster: agents with their used and total resources as bars,
// attributes and state; frameworks; the leading master. From masterd's
// /master/state, which the Marathon port serves to the UI too.
import { Bar, ErrorNote, ago, html, mib, useResource } from './lib.js';
import { store } from './api.js';

// portCount counts the ports of a Mesos ranges string "[31000-32000, …]".
export function portCount(r) {
  if (!r) return 0;
  let n = 0;
  for (const m of String(r).matchAll(/(\d+)-(\d+)/g)) n += Number(m[2]) - Number(m[1]) + 1;
  return n;
}

function Res({ name, used, total, fmt }) {
  const u = used || 0, t = total || 0;
  const label = `${name} ${fmt(u)} of ${fmt(t)}`;
  return html`<div class="res"><span class="res-name">${name}</span><${Bar} label=${label} total=${t} parts=${[{ value: u, cls: u > t ? 'unhealthy' : 'running' }]} />
    <span class="muted">${fmt(u)} / ${fmt(t)}</span></div>`;
}

const cpu = (v) => (Math.round(v * 100) / 100).toString();
const int = (v) => String(v);

function attrs(a) {
  return Object.entries(a || {}).map(([k, v]) => html`<span class="label">${k}:${typeof v === 'object' ? JSON.stringify(v) : v}</span>`);
}

export function ClusterPage() {
  const res = useResource(store.cluster);
  const st = res.value;
  if (!st) return html`<main><h1>Cluster</h1><${ErrorNote} error=${res.error} />${res.error ? null : html`<p class="loading">Loading…</p>`}</main>`;
  const li = st.leader_info || {};
  const agents = [...(st.slaves || [])].sort((a, b) => a.hostname.localeCompare(b.hostname));
  return html`<main>
    <h1>Cluster</h1>
    <section class="card" aria-label="masters">
      <h2>Masters</h2>
      <p>Leader: <strong id="leader">${li.hostname || st.hostname}:${li.port || ''}</strong> <span class="mono muted">${st.leader}</span></p>
      <p class="muted">ID ${li.id || st.id} · version ${st.version} · up since ${ago(new Date(st.start_time * 1000).toISOString())}${st.elected_time ? ' · elected ' + ago(new Date(st.elected_time * 1000).toISOString()) : ''}</p>
      <p>${st.activated_slaves} active agents · ${st.deactivated_slaves} inactive · ${st.unreachable_slaves} unreachable</p>
    </section>
    <h2>Agents</h2>
    <div class="table-wrap"><table class="agents">
      <thead><tr><th>Agent</th><th>State</th><th>Resources (used / total)</th><th>Attributes</th></tr></thead>
      <tbody>${agents.map((a) => {
        const r = a.resources || {}, u = a.used_resources || {};
        return html`<tr class="agent" data-id=${a.id}>
          <td><strong>${a.hostname}</strong><br /><span class="mono muted">${a.id}</span><br /><span class="muted">${a.pid}</span></td>
          <td><span class=${'status ' + (a.active ? 'running' : 'delayed')}>${a.active ? 'active' : 'inactive'}</span><br /><span class="muted">registered ${ago(new Date((a.reregistered_time || a.registered_time) * 1000).toISOString())}</span></td>
          <td class="resources">
            <${Res} name="CPUs" used=${u.cpus} total=${r.cpus} fmt=${cpu} />
            <${Res} name="Memory" used=${u.mem} total=${r.mem} fmt=${mib} />
            <${Res} name="Disk" used=${u.disk} total=${r.disk} fmt=${mib} />
            <${Res} name="Ports" used=${portCount(u.ports)} total=${portCount(r.ports)} fmt=${int} />
          </td>
          <td>${attrs(a.attributes)}</td>
        </tr>`;
      })}</tbody>
    </table></div>
    <h2>Frameworks</h2>
    <div class="table-wrap"><table class="frameworks">
      <thead><tr><th>Name</th><th>ID</th><th>State</th><th class="num">Tasks</th><th class="num">CPUs</th><th class="num">Memory</th></tr></thead>
      <tbody>${(st.frameworks || []).map((f) => html`<tr>
        <td>${f.webui_url ? html`<a href=${f.webui_url}>${f.name}</a>` : f.name}</td><td class="mono">${f.id}</td>
        <td>${f.active ? 'active' : f.connected ? 'inactive' : 'disconnected'}</td>
        <td class="num">${(f.tasks || []).length}</td><td class="num">${cpu((f.used_resources || {}).cpus || 0)}</td><td class="num">${mib((f.used_resources || {}).mem || 0)}</td>
      </tr>`)}</tbody>
    </table></div>
  </main>`;
}
