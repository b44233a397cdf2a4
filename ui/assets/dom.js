// A few DOM builders: enough to write views as functions of data, no framework.
// Text always goes in as text nodes, so a job name can never become markup.

/**
 * Builds an element: `h('a', { href: '/ui/jobs', class: 'x' }, 'Jobs')`.
 * Attributes starting with `on` become listeners; `null`/`false` ones are skipped;
 * children may be strings, numbers, nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'style' && typeof value === 'object') {
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      Object.assign(element.style, value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces what `container` shows, keeping keyboard focus on the element with the same
 * `data-key` or link target, so a live update never throws the user's focus away.
 */
export function replace(container, ...children) {
  const active = document.activeElement;
  const focusKey = active && container.contains(active) ? keyOf(active) : null;
  container.replaceChildren();
  append(container, children);
  if (focusKey) {
    const again = [...container.querySelectorAll('[data-key], a[href]')].find((e) => keyOf(e) === focusKey);
    again?.focus({ preventScroll: true });
  }
}

function keyOf(element) {
  return element.dataset?.key || element.getAttribute?.('href') || null;
}

/** A link inside the UI (the router turns the click into a view change). */
export const link = (href, ...children) => h('a', { href }, ...children);

/** A coloured status label: `running`, `pending`, `dead`, `failed`, … */
export function badge(status, extra = '') {
  const text = status || 'unknown';
  return h('span', { class: `badge status-${text.replace(/[^a-z-]/gi, '')} ${extra}`.trim() }, text);
}

/**
 * A table: `columns` are `{ title, cell(row) -> node|string, class? }`. With no rows it
 * shows `empty` instead. Rows with `rowKey` keep a `data-key` for focus and tests.
 */
export function table(columns, rows, { empty = 'Nothing here yet.', rowKey, caption } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))),
      h('tbody', {}, rows.map((row) =>
        h('tr', { 'data-row': rowKey ? rowKey(row) : null },
          columns.map((c) => h('td', { class: c.class }, c.cell(row)))))),
    ));
}

/** A definition list of `[term, value]` pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(Boolean).map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

/** A titled section of a page. */
export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

/** A key/value table of a string map (attributes, meta). */
export function mapTable(map, { empty = 'None.', filter = '' } = {}) {
  const entries = Object.entries(map || {})
    .filter(([k, v]) => !filter || k.toLowerCase().includes(filter) || String(v).toLowerCase().includes(filter))
    .sort(([a], [b]) => a.localeCompare(b));
  return table(
    [
      { title: 'Name', cell: ([k]) => h('code', {}, k) },
      { title: 'Value', cell: ([, v]) => String(v), class: 'wrap' },
    ],
    entries,
    { empty },
  );
}

/** A search box that calls `onInput(lowercased text)` as the user types. */
export function searchBox(label, value, onInput) {
  const input = h('input', {
    type: 'search', class: 'search', placeholder: label, 'aria-label': label, value,
    'data-key': `search:${label}`,
  });
  input.addEventListener('input', () => onInput(input.value.trim().toLowerCase()));
  return input;
}

/** A message shown where a view's data would be: an error, or a not-found. */
export function errorBox(error) {
  const text = error?.message || String(error);
  return h('div', { class: 'error-box', role: 'alert' }, text);
}

/** Announces a change to screen readers without moving focus. */
export function announce(text) {
  const region = document.getElementById('live-region');
  if (region) region.textContent = text;
}

/**
 * A button that asks before it acts, the way Nomad's UI does: the first press shows
 * "Are you sure?" with a confirm and a cancel button; the confirm runs `action`.
 */
export function confirmButton({ label, question, confirmLabel, action, danger = true, key }) {
  const wrap = h('span', { class: 'confirm' });
  const idle = () => {
    const button = h('button', {
      type: 'button', class: danger ? 'button danger' : 'button', 'data-key': key,
      onclick: () => ask(),
    }, label);
    wrap.replaceChildren(button);
    return button;
  };
  const ask = () => {
    const yes = h('button', {
      type: 'button', class: danger ? 'button danger' : 'button primary', 'data-key': `${key}:yes`,
      onclick: async () => {
        yes.disabled = true;
        try {
          await action();
        } finally {
          idle();
        }
      },
    }, confirmLabel);
    const no = h('button', { type: 'button', class: 'button', onclick: () => idle().focus() }, 'Cancel');
    wrap.replaceChildren(h('span', { class: 'confirm-question' }, question), yes, no);
    yes.focus();
  };
  idle();
  return wrap;
}
