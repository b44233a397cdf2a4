// /ui/clients: every client node with its status, eligibility and drivers, live.

import { h, replace, badge, table, searchBox, errorBox } from '../dom.js';
import { watch } from '../api.js';
import { shortId } from '../format.js';
import { setTitle } from '../app.js';

/** The drivers a node can run tasks with (detected and healthy). */
export function healthyDrivers(drivers) {
  return Object.entries(drivers || {}).filter(([, d]) => d.Detected && d.Healthy).map(([name]) => name).sort();
}

export function render({ main, query, signal }) {
  setTitle('Clients');
  let nodes = null;
  let error = null;
  let search = (query.get('search') || '').toLowerCase();
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading clients…'));
  const count = h('span', { class: 'count' });
  replace(main,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Clients ', count),
      h('div', { class: 'toolbar' }, searchBox('Search clients', search, (text) => {
        search = text;
        history.replaceState(null, '', `/ui/clients${text ? `?search=${encodeURIComponent(text)}` : ''}`);
        draw();
      }))),
    body);

  function draw() {
    body.removeAttribute('aria-busy');
    if (!nodes) return replace(body, error ? errorBox(error) : null);
    const shown = nodes
      .filter((n) => !search || [n.ID, n.Name, n.Address, n.Datacenter, n.NodeClass, n.NodePool, n.Status]
        .some((v) => (v || '').toLowerCase().includes(search)))
      .sort((a, b) => a.Name.localeCompare(b.Name));
    count.textContent = nodes.length ? `(${nodes.length})` : '';
    replace(body, error ? errorBox(error) : null, table([
      { title: 'ID', cell: (n) => h('a', { href: `/ui/clients/${n.ID}`, class: 'mono strong' }, shortId(n.ID)) },
      { title: 'Name', cell: (n) => n.Name },
      { title: 'Status', cell: (n) => badge(n.Status) },
      { title: 'Eligibility', cell: (n) => h('span', { class: n.SchedulingEligibility === 'eligible' ? '' : 'warn' },
        n.SchedulingEligibility, n.Drain ? ' (draining)' : '') },
      { title: 'Address', cell: (n) => h('span', { class: 'mono' }, n.Address) },
      { title: 'Datacenter', cell: (n) => n.Datacenter },
      { title: 'Node pool', cell: (n) => n.NodePool || '-' },
      { title: 'Class', cell: (n) => n.NodeClass || '-' },
      { title: 'Drivers', cell: (n) => healthyDrivers(n.Drivers).join(', ') || '-' },
      { title: 'Version', cell: (n) => n.Version || '-' },
    ], shown, { empty: nodes.length ? 'No client matches the search.' : 'No clients have registered.', rowKey: (n) => n.ID, caption: 'Clients' }));
  }

  watch('/v1/nodes', signal, (data) => { nodes = data || []; error = null; draw(); }, {
    onError: (e) => { if (e) { error = e; draw(); } },
  });
}
