// /ui/jobs: every job with its status, type and allocations, live, with a search box.

import { h, replace, badge, table, searchBox, errorBox } from '../dom.js';
import { watch } from '../api.js';
import { summaryBar, summaryText, summaryTotals, nanoTime } from '../format.js';
import { setTitle } from '../app.js';

/** The UI address of a job (Nomad's form; the namespace only when not default). */
export function jobHref(id, namespace) {
  const ns = namespace && namespace !== 'default' ? `@${encodeURIComponent(namespace)}` : '';
  return `/ui/jobs/${encodeURIComponent(id)}${ns}`;
}

const STATUS_ORDER = { running: 0, pending: 1, dead: 2 };

export function render({ main, query, signal }) {
  setTitle('Jobs');
  let jobs = null;
  let error = null;
  let search = (query.get('search') || '').toLowerCase();
  let status = query.get('status') || '';

  const body = h('div', { class: 'list-body', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading jobs…'));
  const count = h('span', { class: 'count' });
  const statusSelect = h('select', { 'aria-label': 'Filter by status', class: 'filter' },
    ['', 'running', 'pending', 'dead'].map((s) => h('option', { value: s, selected: s === status }, s || 'All statuses')));
  statusSelect.addEventListener('change', () => { status = statusSelect.value; remember(); draw(); });

  replace(main,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Jobs ', count),
      h('div', { class: 'toolbar' },
        searchBox('Search jobs', search, (text) => { search = text; remember(); draw(); }),
        statusSelect)),
    body);

  function remember() {
    const params = new URLSearchParams();
    if (search) params.set('search', search);
    if (status) params.set('status', status);
    const qs = params.toString();
    history.replaceState(null, '', `/ui/jobs${qs ? `?${qs}` : ''}`);
  }

  function draw() {
    body.removeAttribute('aria-busy');
    if (error && !jobs) return replace(body, errorBox(error));
    if (!jobs) return;
    const shown = jobs
      .filter((j) => !status || j.Status === status)
      .filter((j) => !search || [j.ID, j.Name, j.Type, j.Status].some((v) => (v || '').toLowerCase().includes(search)))
      .sort((a, b) => (STATUS_ORDER[a.Status] ?? 3) - (STATUS_ORDER[b.Status] ?? 3) || a.ID.localeCompare(b.ID));
    count.textContent = jobs.length ? `(${shown.length === jobs.length ? jobs.length : `${shown.length} of ${jobs.length}`})` : '';
    const emptyText = jobs.length
      ? 'No job matches the filter.'
      : h('span', {}, 'No jobs yet. ', h('a', { href: '/ui/jobs/run' }, 'Run a job'), ' or use ', h('code', {}, 'caravan job run'), '.');
    replace(body,
      error ? errorBox(error) : null,
      table([
        { title: 'Name', cell: (j) => h('a', { href: jobHref(j.ID, j.Namespace), class: 'strong' }, j.Name || j.ID) },
        { title: 'Status', cell: (j) => badge(j.Status) },
        { title: 'Type', cell: (j) => j.Type },
        { title: 'Priority', cell: (j) => String(j.Priority), class: 'num' },
        { title: 'Submitted', cell: (j) => nanoTime(j.SubmitTime) },
        { title: 'Allocations', class: 'summary-cell', cell: (j) => {
          const totals = summaryTotals(j.JobSummary);
          return h('div', { class: 'summary-inline' }, summaryBar(totals, { legend: false }), h('span', { class: 'muted' }, summaryText(totals)));
        } },
      ], shown, { empty: emptyText, rowKey: (j) => j.ID, caption: 'Jobs' }));
  }

  watch('/v1/jobs', signal, (data) => { jobs = data || []; draw(); }, {
    onError: (e) => { if (e || error) { error = e; draw(); } },
  });
}
