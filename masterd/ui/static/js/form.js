// Create and edit an app: a form for the common fields next to the JSON
// the API gets; editing either updates the other. The API's 422 details
// show beside the fields they name, the rest above the JSON.
import { ErrorNote, html, useEffect, useState } from './lib.js';
import { ApiError, appPath, get, request } from './api.js';
import { definition } from './app.js';

const blank = { id: '', cmd: '', instances: 1, cpus: 0.1, mem: 32, portDefinitions: [], networks: [{ mode: 'host' }] };

// Which form field an API error path belongs to.
function fieldOf(path) {
  const first = (path || '').replace(/^\//, '').split('/')[0].replace(/\(\d+\)$/, '');
  switch (first) {
    case 'id': case 'cmd': case 'instances': case 'cpus': case 'mem': case 'networks': case 'env': case 'labels': case 'constraints':
      return first;
    case 'portDefinitions': return 'ports';
    case 'container': return path.includes('portMappings') ? 'ports' : 'image';
    case 'healthChecks': return 'health';
    default: return null;
  }
}

const pairs = (obj) => Object.entries(obj || {}).map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join('\n');
function parsePairs(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf('=');
    if (i < 0) out[line.trim()] = ''; else out[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return out;
}
const num = (s) => (s.trim() === '' || isNaN(Number(s)) ? s : Number(s));

function networkOf(o) {
  const n = (o.networks || [])[0] || { mode: 'host' };
  return n.mode === 'container' ? 'container:' + (n.name || '') : n.mode;
}
function isHost(o) { return networkOf(o) === 'host'; }

function portsOf(o) {
  if (isHost(o)) return (o.portDefinitions || []).map((p) => p.port).join(', ');
  return ((o.container || {}).portMappings || []).map((p) => p.containerPort).join(', ');
}

function Field({ name, label, errors, hint, children }) {
  const errs = errors[name] || [];
  return html`<div class=${'field' + (errs.length ? ' invalid' : '')} data-field=${name}>
    <label for=${'f-' + name}>${label}</label>
    ${children}
    ${hint ? html`<small class="muted">${hint}</small>` : null}
    ${errs.map((e) => html`<small class="field-error" role="alert">${e}</small>`)}
  </div>`;
}

export function AppForm({ id }) {
  const [obj, setObj] = useState(id ? null : blank);
  const [rev, setRev] = useState(0); // remounts the form's fields when the JSON changes them
  const [text, setText] = useState(JSON.stringify(blank, null, 2));
  const [jsonError, setJsonError] = useState(null);
  const [errors, setErrors] = useState({});
  const [general, setGeneral] = useState([]);
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!id) return;
    get(appPath(id)).then((v) => {
      const d = definition(v.app);
      setObj(d); setText(JSON.stringify(d, null, 2)); setRev((r) => r + 1);
    }, setFailure);
  }, [id]);

  if (!obj) return html`<main><${ErrorNote} error=${failure} />${failure ? null : html`<p class="loading">Loading…</p>`}</main>`;

  // change applies a form edit to the app and rewrites the JSON.
  const change = (fn) => {
    const o = structuredClone(obj);
    fn(o);
    setObj(o);
    setText(JSON.stringify(o, null, 2));
    setJsonError(null);
  };
  const onJSON = (e) => {
    const t = e.currentTarget.value;
    setText(t);
    try {
      const o = JSON.parse(t);
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('the app must be a JSON object');
      setObj(o); setRev((r) => r + 1); setJsonError(null);
    } catch (err) {
      setJsonError(err.message);
    }
  };
  const setPorts = (s) => change((o) => {
    const ports = s.split(/[\s,]+/).filter(Boolean).map(num);
    if (isHost(o)) o.portDefinitions = ports.map((p, i) => ({ ...((obj.portDefinitions || [])[i] || {}), port: p }));
    else {
      o.container = o.container || { type: 'MESOS' };
      o.container.portMappings = ports.map((p, i) => ({ ...(((obj.container || {}).portMappings || [])[i] || { hostPort: 0 }), containerPort: p }));
    }
  });
  const setNetwork = (v) => change((o) => {
    if (v === 'host') o.networks = [{ mode: 'host' }];
    else if (v === 'container/bridge') o.networks = [{ mode: 'container/bridge' }];
    else o.networks = [{ mode: 'container', name: v.slice('container:'.length) }];
  });
  const hc = (obj.healthChecks || [])[0] || null;
  const setHC = (k, v) => change((o) => {
    if (k === 'protocol' && !v) { delete o.healthChecks; return; }
    const c = { ...((o.healthChecks || [])[0] || { protocol: 'MESOS_HTTP', path: '/', portIndex: 0 }), [k]: v };
    if (c.protocol === 'COMMAND') { delete c.path; delete c.portIndex; c.command = c.command || { value: '' }; }
    else if (c.protocol.endsWith('TCP')) { delete c.path; delete c.command; } else delete c.command;
    o.healthChecks = [c, ...((o.healthChecks || []).slice(1))];
  });

  const submit = async (e) => {
    e.preventDefault();
    if (jsonError) return;
    setBusy(true); setErrors({}); setGeneral([]); setFailure(null);
    try {
      if (id) await request('PUT', appPath(id), obj);
      else await request('POST', '/v2/apps', obj);
      location.hash = '#/apps' + (id || obj.id);
    } catch (err) {
      const byField = {}, rest = [];
      if (err instanceof ApiError && err.body && Array.isArray(err.body.details)) {
        for (const d of err.body.details) {
          const f = fieldOf(d.path);
          const msgs = (d.errors || []).map((m) => (f && d.path.replace(/^\//, '').split('/').length > 1 ? d.path + ': ' + m : m));
          if (f) byField[f] = [...(byField[f] || []), ...msgs]; else rest.push((d.path || '/') + ': ' + (d.errors || []).join(', '));
        }
      }
      setErrors(byField); setGeneral(rest); setFailure(err);
    }
    setBusy(false);
  };

  const image = ((obj.container || {}).docker || {}).image || '';
  return html`<main>
    <p class="crumbs"><a href="#/apps">Apps</a>${id ? html` / <a href=${'#/apps' + id}>${id}</a>` : null}</p>
    <h1>${id ? 'Edit ' + id : 'Create an app'}</h1>
    <form class="app-form" onSubmit=${submit} novalidate>
      <fieldset class="fields" key=${rev}>
        <legend>Common fields</legend>
        <${Field} name="id" label="ID" errors=${errors} hint="/group/name">
          <input id="f-id" name="id" defaultValue=${obj.id || ''} disabled=${!!id} required onInput=${(e) => change((o) => { o.id = e.currentTarget.value; })} /><//>
        <${Field} name="cmd" label="Command" errors=${errors}>
          <textarea id="f-cmd" name="cmd" rows="2" defaultValue=${obj.cmd || ''} onInput=${(e) => { const v = e.currentTarget.value; change((o) => { if (v) o.cmd = v; else delete o.cmd; }); }}></textarea><//>
        <${Field} name="image" label="Image" errors=${errors} hint="an OCI image; empty: the host's root">
          <input id="f-image" name="image" defaultValue=${image} onInput=${(e) => { const v = e.currentTarget.value; change((o) => {
            if (!v) { if (o.container) delete o.container.docker; return; }
            o.container = o.container || { type: 'MESOS' }; o.container.docker = { ...(o.container.docker || {}), image: v };
          }); }} /><//>
        <div class="row">
          <${Field} name="instances" label="Instances" errors=${errors}>
            <input id="f-instances" name="instances" inputmode="numeric" defaultValue=${obj.instances ?? ''} onInput=${(e) => change((o) => { o.instances = num(e.currentTarget.value); })} /><//>
          <${Field} name="cpus" label="CPUs" errors=${errors}>
            <input id="f-cpus" name="cpus" inputmode="decimal" defaultValue=${obj.cpus ?? ''} onInput=${(e) => change((o) => { o.cpus = num(e.currentTarget.value); })} /><//>
          <${Field} name="mem" label="Memory (MiB)" errors=${errors}>
            <input id="f-mem" name="mem" inputmode="decimal" defaultValue=${obj.mem ?? ''} onInput=${(e) => change((o) => { o.mem = num(e.currentTarget.value); })} /><//>
        </div>
        <div class="row">
          <${Field} name="networks" label="Network" errors=${errors}>
            <select id="f-networks" name="networks" value=${networkOf(obj).startsWith('container:') ? 'container:' : networkOf(obj)}
              onChange=${(e) => setNetwork(e.currentTarget.value === 'container:' ? 'container:' + (((obj.networks || [])[0] || {}).name || '') : e.currentTarget.value)}>
              <option value="host">host</option><option value="container/bridge">container/bridge</option><option value="container:">container (CNI)</option>
            </select>
            ${networkOf(obj).startsWith('container:') ? html`<input aria-label="CNI network name" placeholder="network name" defaultValue=${networkOf(obj).slice(10)} onInput=${(e) => setNetwork('container:' + e.currentTarget.value)} />` : null}<//>
          <${Field} name="ports" label="Ports" errors=${errors} hint=${isHost(obj) ? 'host ports, 0: any' : 'container ports'}>
            <input id="f-ports" name="ports" defaultValue=${portsOf(obj)} onInput=${(e) => setPorts(e.currentTarget.value)} /><//>
        </div>
        <${Field} name="env" label="Environment" errors=${errors} hint="NAME=value, one a line">
          <textarea id="f-env" name="env" rows="2" defaultValue=${pairs(obj.env)} onInput=${(e) => { const v = parsePairs(e.currentTarget.value); change((o) => { if (Object.keys(v).length) o.env = v; else delete o.env; }); }}></textarea><//>
        <${Field} name="labels" label="Labels" errors=${errors} hint="NAME=value, one a line">
          <textarea id="f-labels" name="labels" rows="2" defaultValue=${pairs(obj.labels)} onInput=${(e) => { const v = parsePairs(e.currentTarget.value); change((o) => { if (Object.keys(v).length) o.labels = v; else delete o.labels; }); }}></textarea><//>
        <${Field} name="health" label="Health check" errors=${errors}>
          <div class="row tight">
            <select id="f-health" aria-label="health check protocol" value=${hc ? hc.protocol : ''} onChange=${(e) => setHC('protocol', e.currentTarget.value)}>
              <option value="">none</option>
              ${['MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP', 'HTTP', 'HTTPS', 'TCP', 'COMMAND'].map((p) => html`<option value=${p}>${p}</option>`)}
            </select>
            ${hc && /HTTP/.test(hc.protocol) ? html`<input aria-label="health check path" id="f-health-path" placeholder="/" defaultValue=${hc.path || ''} onInput=${(e) => setHC('path', e.currentTarget.value)} />` : null}
            ${hc && hc.protocol !== 'COMMAND' ? html`<input aria-label="health check port index" id="f-health-port" inputmode="numeric" size="3" defaultValue=${hc.portIndex ?? 0} onInput=${(e) => setHC('portIndex', num(e.currentTarget.value))} />` : null}
            ${hc && hc.protocol === 'COMMAND' ? html`<input aria-label="health check command" placeholder="command" defaultValue=${(hc.command || {}).value || ''} onInput=${(e) => setHC('command', { value: e.currentTarget.value })} />` : null}
          </div><//>
        <${Field} name="constraints" label="Constraints" errors=${errors} hint="field:OPERATOR:value, one a line (hostname:UNIQUE)">
          <textarea id="f-constraints" name="constraints" rows="2" defaultValue=${(obj.constraints || []).map((c) => c.join(':')).join('\n')}
            onInput=${(e) => { const v = e.currentTarget.value.split('\n').filter((l) => l.trim()).map((l) => l.split(':')); change((o) => { if (v.length) o.constraints = v; else delete o.constraints; }); }}></textarea><//>
      </fieldset>
      <div class="json-side">
        <label for="json-editor">JSON</label>
        ${general.length ? html`<ul class="errors" role="alert">${general.map((g) => html`<li>${g}</li>`)}</ul>` : null}
        <textarea id="json-editor" class="json" spellcheck="false" value=${text} onInput=${onJSON} rows="24"></textarea>
        ${jsonError ? html`<small class="field-error" role="alert">${jsonError}</small>` : null}
      </div>
      <div class="form-actions">
        ${failure ? html`<${ErrorNote} error=${failure} />` : null}
        <button type="submit" class="primary" id="submit-app" disabled=${busy || !!jsonError}>${id ? 'Save and deploy' : 'Create and deploy'}</button>
        <a class="button" href=${id ? '#/apps' + id : '#/apps'}>Cancel</a>
      </div>
    </form>
  </main>`;
}
