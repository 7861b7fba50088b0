// The UI's shell: the navigation, the router (the location's hash, so a
// reload or a shared link opens the same page) and the live connection.
import { html, render, useEffect, useLayoutEffect, useState } from './lib.js';
import { connect, connection, store } from './api.js';
import { AppsPage } from './apps.js';
import { AppPage } from './app.js';
import { AppForm } from './form.js';
import { DeploymentsPage } from './deployments.js';
import { ClusterPage } from './cluster.js';
import { LogPage } from './logs.js';
import { DialogHost } from './dialog.js';

// route parses "#/path?query" into its parts.
function route() {
  const h = decodeURIComponent(location.hash.replace(/^#/, '')) || '/apps';
  const [path, query = ''] = h.split('?');
  return { path, query: new URLSearchParams(query) };
}

function Page({ r }) {
  const p = r.path;
  if (p === '/apps' || p === '/') return html`<${AppsPage} query=${r.query} />`;
  if (p === '/new') return html`<${AppForm} />`;
  if (p.startsWith('/edit/')) return html`<${AppForm} id=${p.slice('/edit'.length)} />`;
  if (p.startsWith('/apps/')) return html`<${AppPage} id=${p.slice('/apps'.length)} tab=${r.query.get('tab') || 'tasks'} />`;
  if (p === '/deployments') return html`<${DeploymentsPage} />`;
  if (p === '/cluster') return html`<${ClusterPage} />`;
  if (p === '/log') return html`<${LogPage} query=${r.query} />`;
  return html`<main><h1>Not found</h1><p>No page at ${p}. <a href="#/apps">Apps</a></p></main>`;
}

function Live() {
  const [, tick] = useState(0);
  // Subscribed in a layout effect, in the same task as the render: an
  // effect runs after the paint, and a stream that opened in between went
  // unseen, leaving the page "connecting" for good while events flowed
  // (the browser test saw it about one run in four). The state is read
  // again there too, should it have changed before the first render.
  const rendered = connection.state;
  useLayoutEffect(() => {
    const fn = () => tick((n) => n + 1);
    connection.watchers.add(fn);
    if (connection.state !== rendered) fn();
    return () => connection.watchers.delete(fn);
  }, []);
  const s = rendered;
  return html`<span class=${'live live-' + s} role="status" title="/v2/events">${s === 'live' ? '● live' : s === 'connecting' ? '○ connecting' : '○ reconnecting…'}</span>`;
}

function Shell() {
  const [r, setR] = useState(route());
  useEffect(() => {
    const on = () => setR(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const section = r.path.startsWith('/deployments') ? 'deployments' : r.path.startsWith('/cluster') ? 'cluster' : 'apps';
  const link = (name, href, label) => html`<a href=${href} aria-current=${section === name ? 'page' : null}>${label}</a>`;
  return html`
    <header class="top">
      <a class="brand" href="#/apps">Corral</a>
      <nav aria-label="sections">
        ${link('apps', '#/apps', 'Apps')}
        ${link('deployments', '#/deployments', 'Deployments')}
        ${link('cluster', '#/cluster', 'Cluster')}
      </nav>
      <${Live} />
    </header>
    <${Page} r=${r} />
    <${DialogHost} />`;
}

connect();
if (route().path === '/apps') { store.apps.refresh(); store.queue.refresh(); } // before the first render
const root = document.getElementById('root');
root.textContent = ''; // the "Loading…" placeholder
render(html`<${Shell} />`, root);
