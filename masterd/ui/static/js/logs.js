// A task's stdout or stderr, following new output, read through masterd's
// proxy to the agent's /files API (Mesos's files/read: offset=-1 gives the
// size; then chunks from an offset). The sandbox is where the agent's
// /state names the task's executor directory.
import { ErrorNote, html, useEffect, useRef, useState } from './lib.js';
import { get } from './api.js';

const CHUNK = 65536; // bytes read at a time, and shown at first
const KEEP = 1 << 20; // characters kept on the page
const FOLLOW_MS = 1000; // how often a followed file is read for more

// sandboxOf finds the task's sandbox directory in an agent's /state.
export function sandboxOf(state, taskId) {
  const fws = [...(state.frameworks || []), ...(state.completed_frameworks || [])];
  for (const fw of fws) {
    for (const ex of [...(fw.executors || []), ...(fw.completed_executors || [])]) {
      const tasks = [...(ex.tasks || []), ...(ex.queued_tasks || []), ...(ex.completed_tasks || [])];
      if (ex.id === taskId || tasks.some((t) => t.id === taskId)) return ex.directory;
    }
  }
  return null;
}

const enc = new TextEncoder();

export function LogPage({ query }) {
  const app = query.get('app') || '', task = query.get('task') || '', agent = query.get('agent') || '';
  const file = query.get('file') === 'stderr' ? 'stderr' : 'stdout';
  const [dir, setDir] = useState(null);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [follow, setFollow] = useState(true);
  const pre = useRef(null);
  const base = '/agent/' + encodeURIComponent(agent) + '/files/';

  useEffect(() => {
    setDir(null); setError(null);
    get('/agent/' + encodeURIComponent(agent) + '/state').then((st) => {
      const d = sandboxOf(st, task);
      if (d) setDir(d); else setError(new Error(`the agent does not know task ${task} (gone, or its sandbox was removed)`));
    }, setError);
  }, [agent, task]);

  useEffect(() => {
    if (!dir) return undefined;
    let offset = -1, stopped = false, timer = null;
    setText('');
    const path = dir + '/' + file;
    const read = async () => {
      timer = null;
      try {
        if (offset < 0) {
          const size = (await get(base + 'read?path=' + encodeURIComponent(path) + '&offset=-1')).offset;
          offset = Math.max(0, size - CHUNK);
        }
        for (;;) {
          const r = await get(base + 'read?path=' + encodeURIComponent(path) + '&offset=' + offset + '&length=' + CHUNK);
          if (stopped) return;
          if (r.data) {
            offset = r.offset + enc.encode(r.data).length;
            setText((t) => (t + r.data).slice(-KEEP));
          }
          if (!r.data || enc.encode(r.data).length < CHUNK) break;
        }
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(e);
      }
      if (!stopped && follow) timer = setTimeout(read, FOLLOW_MS);
    };
    read();
    return () => { stopped = true; if (timer) clearTimeout(timer); };
  }, [dir, file, follow]);

  // Stay at the bottom while following.
  useEffect(() => {
    const el = pre.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [text]);

  const link = (f) => `#/log?app=${encodeURIComponent(app)}&task=${encodeURIComponent(task)}&agent=${encodeURIComponent(agent)}&file=${f}`;
  return html`<main class="logs">
    <p class="crumbs"><a href="#/apps">Apps</a> / <a href=${'#/apps' + app}>${app}</a> / <span class="mono">${task}</span></p>
    <div class="toolbar">
      <h1>${file} <span class="muted mono small">${dir ? dir + '/' + file : ''}</span></h1>
      <div class="actions">
        <a class="button" href=${link('stdout')} aria-current=${file === 'stdout' ? 'page' : null}>stdout</a>
        <a class="button" href=${link('stderr')} aria-current=${file === 'stderr' ? 'page' : null}>stderr</a>
        <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.currentTarget.checked)} /> follow</label>
        ${dir ? html`<a class="button" href=${base + 'download?path=' + encodeURIComponent(dir + '/' + file)}>Download</a>` : null}
      </div>
    </div>
    <${ErrorNote} error=${error} />
    <pre class="log" id="log" ref=${pre} tabindex="0" aria-label=${file + ' of ' + task} aria-live="polite">${text}</pre>
  </main>`;
}
