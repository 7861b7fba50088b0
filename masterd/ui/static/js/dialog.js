// Confirmation dialogs: every destructive or disruptive action asks first,
// in a modal <dialog> (Escape cancels, focus stays inside).
import { html, useEffect, useRef, useState } from './lib.js';

let show = null;

// ask opens a dialog and resolves with the entered value (input dialogs),
// true (confirmations) or null when cancelled.
// opts: {title, message, confirm, danger, input: {label, value, type}}
export function ask(opts) {
  return new Promise((resolve) => show({ ...opts, resolve }));
}

export function DialogHost() {
  const [d, setD] = useState(null);
  const ref = useRef(null);
  const inputRef = useRef(null);
  const [value, setValue] = useState('');
  show = (opts) => { setValue(opts.input ? String(opts.input.value ?? '') : ''); setD(opts); };
  useEffect(() => {
    const el = ref.current;
    if (d && el && !el.open) {
      el.showModal();
      if (inputRef.current) { inputRef.current.focus(); inputRef.current.select(); }
    }
  }, [d]);
  const close = (result) => {
    if (ref.current && ref.current.open) ref.current.close();
    const r = d && d.resolve;
    setD(null);
    if (r) r(result);
  };
  if (!d) return null;
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="dialog-title" onCancel=${(e) => { e.preventDefault(); close(null); }}>
    <form method="dialog" onSubmit=${(e) => { e.preventDefault(); close(d.input ? value : true); }}>
      <h2 id="dialog-title">${d.title}</h2>
      ${d.message ? html`<p>${d.message}</p>` : null}
      ${d.input ? html`<label>${d.input.label}
        <input ref=${inputRef} name="value" type=${d.input.type || 'text'} min="0" required value=${value}
          onInput=${(e) => setValue(e.currentTarget.value)} /></label>` : null}
      <div class="actions">
        <button type="button" onClick=${() => close(null)}>Cancel</button>
        <button type="submit" class=${d.danger ? 'danger' : 'primary'} id="dialog-confirm">${d.confirm || 'OK'}</button>
      </div>
    </form>
  </dialog>`;
}
