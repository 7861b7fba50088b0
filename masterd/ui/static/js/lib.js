// What every page uses: Preact with htm, the store hook and small views.
import { Component, h, render } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);
export { Component, render, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState };

// useResource re-renders the component whenever the resource is read
// again, and returns it.
export function useResource(res) {
  const [, tick] = useState(0);
  // A layout effect subscribes before the first paint: data already read
  // shows in the same frame.
  useLayoutEffect(() => {
    if (!res) return undefined;
    return res.watch(() => tick((n) => n + 1));
  }, [res]);
  return res;
}

// Bar draws parts of a whole as coloured segments, with a text label for
// screen readers and the keyboard.
export function Bar({ parts, total, label }) {
  const sum = parts.reduce((a, p) => a + p.value, 0);
  const whole = Math.max(total || 0, sum, 1);
  return html`<span class="bar" role="img" aria-label=${label} title=${label}>${parts.filter((p) => p.value > 0).map((p) =>
    html`<span class=${'seg ' + p.cls} style=${'width:' + (100 * p.value / whole) + '%'}></span>`)}</span>`;
}

// ago renders an ISO time as a short relative time.
export function ago(iso) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (isNaN(t)) return iso;
  let s = Math.round((Date.now() - t) / 1000);
  if (s < 0) s = 0;
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

// ErrorNote shows a failed request.
export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.status ? error.status + ': ' : ''}${error.message}</p>`;
}

export function mib(v) {
  if (v >= 1024) return (v / 1024).toFixed(v >= 10240 ? 0 : 1) + ' GiB';
  return Math.round(v) + ' MiB';
}
