// The top bar's search: what the user types goes to /v1/search/fuzzy (every namespace,
// every context), and the matches are links to their pages, grouped as Nomad's UI
// groups them. `/` focuses the box from anywhere; arrows move through the results;
// Escape closes them.

import { h, replace } from './dom.js';
import { send } from './api.js';
import { jobHref } from './views/jobs.js';

/** Nomad's default `min_term_length`: shorter text is not sent. */
const MIN_TERM = 2;
const MAX_SHOWN = 10;

/** Each context shown, its heading, and the page a match links to. */
const GROUPS = [
  { context: 'jobs', title: 'Jobs', href: (m) => jobHref(m.Scope[1], m.Scope[0]) },
  { context: 'groups', title: 'Task groups', href: (m) => jobHref(m.Scope[1], m.Scope[0]), where: (m) => m.Scope[1] },
  { context: 'tasks', title: 'Tasks', href: (m) => jobHref(m.Scope[1], m.Scope[0]), where: (m) => `${m.Scope[1]} / ${m.Scope[2]}` },
  { context: 'services', title: 'Services', href: (m) => jobHref(m.Scope[1], m.Scope[0]), where: (m) => m.Scope.slice(1).join(' / ') },
  { context: 'allocs', title: 'Allocations', href: (m) => `/ui/allocations/${encodeURIComponent(m.Scope[1])}` },
  { context: 'nodes', title: 'Clients', href: (m) => `/ui/clients/${encodeURIComponent(m.Scope[0])}` },
];

/** Mounts the search box in `container`. */
export function mountSearch(container) {
  const input = h('input', {
    type: 'search', id: 'global-search', placeholder: 'Search jobs, clients, allocations',
    'aria-label': 'Search', autocomplete: 'off', 'aria-controls': 'search-results', 'aria-expanded': 'false',
  });
  const results = h('div', { id: 'search-results', class: 'search-results', hidden: true });
  container.append(h('form', { role: 'search', onsubmit: (e) => e.preventDefault() }, input, results));

  let inFlight = null;
  let timer = null;
  const close = () => {
    results.hidden = true;
    input.setAttribute('aria-expanded', 'false');
  };
  const show = (...children) => {
    replace(results, ...children);
    results.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  };

  async function search(text) {
    inFlight?.abort();
    if (text.length < MIN_TERM) { close(); return; }
    const controller = new AbortController();
    inFlight = controller;
    try {
      const answer = await send('POST', '/v1/search/fuzzy?namespace=*', { Text: text, Context: 'all' }, controller.signal);
      if (controller.signal.aborted) return;
      show(...render(answer));
    } catch (error) {
      if (!controller.signal.aborted) show(h('p', { class: 'empty' }, `Search failed: ${error.message}`));
    }
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value.trim()), 150);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { close(); input.blur(); }
    if (event.key === 'ArrowDown') { event.preventDefault(); results.querySelector('a')?.focus(); }
  });
  results.addEventListener('keydown', (event) => {
    const links = [...results.querySelectorAll('a')];
    const at = links.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' && at >= 0) { event.preventDefault(); links[Math.min(at + 1, links.length - 1)].focus(); }
    if (event.key === 'ArrowUp' && at >= 0) { event.preventDefault(); (at === 0 ? input : links[at - 1]).focus(); }
    if (event.key === 'Escape') { close(); input.focus(); }
  });
  // Following a result, or clicking elsewhere, closes the list.
  results.addEventListener('click', (event) => { if (event.target.closest('a')) { close(); input.value = ''; } });
  document.addEventListener('click', (event) => { if (!container.contains(event.target)) close(); });
  document.addEventListener('keydown', (event) => {
    const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement?.tagName);
    if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      input.focus();
    }
  });
}

/** The groups of matches, or the line that says there are none. */
function render(answer) {
  const matches = answer?.Matches || {};
  const truncated = answer?.Truncations || {};
  const sections = GROUPS.filter((g) => (matches[g.context] || []).length).map((g) => {
    const found = matches[g.context];
    return h('section', { class: 'search-group' },
      h('h2', {}, g.title, truncated[g.context] ? ' (more not shown)' : ''),
      h('ul', {}, found.slice(0, MAX_SHOWN).map((m) => h('li', {},
        h('a', { href: g.href(m) }, m.ID, g.where ? h('span', { class: 'muted' }, ` in ${g.where(m)}`) : null)))));
  });
  return sections.length ? sections : [h('p', { class: 'empty' }, 'No matches.')];
}
