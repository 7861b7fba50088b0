// Deployments, live: their steps, current actions and progress; rollback
// and force stop, each confirmed.
import { Bar, ErrorNote, ago, html, useResource, useState } from './lib.js';
import { store } from './api.js';
import { act } from './app.js';
import { ask } from './dialog.js';

function Deployment({ d, setError }) {
  const stop = async (force) => {
    const ok = await ask(force
      ? { title: 'Stop deployment?', message: 'Stops it where it is: apps keep whatever instances they have now.', confirm: 'Force stop', danger: true }
      : { title: 'Roll back deployment?', message: 'Starts a deployment back to the apps as they were before this one.', confirm: 'Roll back', danger: true });
    if (ok) await act('DELETE', '/v2/deployments/' + encodeURIComponent(d.id) + (force ? '?force=true' : ''), undefined, setError);
  };
  return html`<section class="card deployment" data-id=${d.id}>
    <div class="toolbar small">
      <h2 class="mono">${d.id}</h2>
      <div class="actions">
        <button onClick=${() => stop(false)}>Roll back</button>
        <button class="danger" onClick=${() => stop(true)}>Force stop</button>
      </div>
    </div>
    <p>${(d.affectedApps || []).map((a) => html`<a href=${'#/apps' + a}>${a}</a> `)} · started ${ago(d.version)}</p>
    <p><${Bar} label=${`step ${d.currentStep} of ${d.totalSteps}`} total=${d.totalSteps} parts=${[{ value: Math.max(0, d.currentStep - 1), cls: 'healthy' }, { value: d.currentStep > 0 ? 1 : 0, cls: 'staged' }]} />
      step ${d.currentStep} of ${d.totalSteps}</p>
    <ol class="steps">${(d.steps || []).map((s, i) => html`<li class=${i + 1 < d.currentStep ? 'done' : i + 1 === d.currentStep ? 'current' : ''}>
      ${(s.actions || []).map((a) => html`<span class="label">${a.action} ${a.app || a.pod}</span>`)}</li>`)}</ol>
    ${(d.currentActions || []).length ? html`<h3>Now</h3><ul>${d.currentActions.map((a) => html`<li>${a.action} <a href=${'#/apps' + a.app}>${a.app}</a>
      ${(a.readinessCheckResults || []).map((r) => html` · ${r.name} ${r.ready ? 'ready' : 'not ready'} (${r.taskId})`)}</li>`)}</ul>` : null}
  </section>`;
}

export function DeploymentsPage() {
  const res = useResource(store.deployments);
  const [error, setError] = useState(null);
  const list = res.value || [];
  return html`<main>
    <h1>Deployments</h1>
    <${ErrorNote} error=${error || res.error} />
    ${res.value === undefined && !res.error ? html`<p class="loading">Loading…</p>`
      : list.length ? list.map((d) => html`<${Deployment} key=${d.id} d=${d} setError=${setError} />`) : html`<p class="muted" id="no-deployments">No deployments in progress.</p>`}
  </main>`;
}
