// /ui/evaluations: every evaluation, newest first, live, with a status filter.

import { h, replace, searchBox, errorBox } from '../dom.js';
import { watch } from '../api.js';
import { placementFailures } from '../format.js';
import { setTitle } from '../app.js';
import { evaluationsTable } from './job.js';
import { jobHref } from './jobs.js';

export function render({ main, query, signal }) {
  setTitle('Evaluations');
  let evals = null;
  let error = null;
  let search = (query.get('search') || '').toLowerCase();
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading evaluations…'));
  const count = h('span', { class: 'count' });
  replace(main,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Evaluations ', count),
      h('div', { class: 'toolbar' }, searchBox('Search evaluations', search, (text) => {
        search = text;
        history.replaceState(null, '', `/ui/evaluations${text ? `?search=${encodeURIComponent(text)}` : ''}`);
        draw();
      }))),
    body);

  function draw() {
    body.removeAttribute('aria-busy');
    if (!evals) return replace(body, error ? errorBox(error) : null);
    const shown = evals.filter((e) => !search || [e.ID, e.JobID, e.Status, e.TriggeredBy]
      .some((v) => (v || '').toLowerCase().includes(search)));
    count.textContent = evals.length ? `(${evals.length})` : '';
    // The newest evaluation of each job that could not place everything, in words.
    const failing = [];
    const seen = new Set();
    for (const e of [...evals].sort((a, b) => b.ModifyIndex - a.ModifyIndex)) {
      if (seen.has(e.JobID) || e.Status === 'blocked' || e.Status === 'pending') continue;
      seen.add(e.JobID);
      if (Object.keys(e.FailedTGAllocs || {}).length && evals.some((b) => b.JobID === e.JobID && b.Status === 'blocked')) failing.push(e);
    }
    replace(body,
      error ? errorBox(error) : null,
      failing.length ? h('section', { class: 'panel' }, h('h2', {}, 'Blocked placements'),
        failing.map((e) => h('div', {}, h('p', {}, 'Job ', h('a', { href: jobHref(e.JobID, e.Namespace) }, e.JobID), ':'),
          placementFailures(e.FailedTGAllocs)))) : null,
      evaluationsTable(shown, { showJob: true, empty: evals.length ? 'No evaluation matches the search.' : 'No evaluations yet.' }));
  }

  watch('/v1/evaluations', signal, (data) => { evals = data || []; error = null; draw(); }, {
    onError: (e) => { if (e) { error = e; draw(); } },
  });
}
