// /ui/servers: the servers of the region, from /v1/agent/members, and the leader.
// Membership has no blocking query: it is read again every 10 seconds.

import { h, replace, badge, table, errorBox } from '../dom.js';
import { get } from '../api.js';
import { setTitle } from '../app.js';

export function render({ main, signal }) {
  setTitle('Servers');
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading servers…'));
  replace(main, h('div', { class: 'page-head' }, h('h1', {}, 'Servers')), body);

  async function load() {
    try {
      const [members, leader] = await Promise.all([
        get('/v1/agent/members', signal),
        get('/v1/status/leader', signal).catch(() => ''),
      ]);
      const list = (members.Members || []).filter((m) => (m.Tags?.role || 'nomad') === 'nomad');
      body.removeAttribute('aria-busy');
      replace(body, table([
        { title: 'Name', cell: (m) => h('strong', {}, m.Name) },
        { title: 'Status', cell: (m) => badge(m.Status) },
        { title: 'Leader', cell: (m) => (leader && leader === `${m.Addr}:${m.Port}` ? badge('leader') : '') },
        { title: 'Address', cell: (m) => h('span', { class: 'mono' }, m.Addr) },
        { title: 'Port', cell: (m) => String(m.Port), class: 'num' },
        { title: 'Datacenter', cell: (m) => m.Tags?.dc || '-' },
        { title: 'Region', cell: (m) => m.Tags?.region || '-' },
        { title: 'Version', cell: (m) => m.Tags?.build || '-' },
      ], list, { empty: 'This agent knows no servers.', rowKey: (m) => m.Name, caption: 'Servers' }),
      h('p', { class: 'muted small' }, leader ? ['Leader: ', h('span', { class: 'mono' }, leader)] : 'No leader is known.'));
    } catch (error) {
      if (!signal.aborted) replace(body, errorBox(error));
    }
  }

  load();
  const timer = setInterval(load, 10000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
