// /ui/clients/<id>: a client node: status, eligibility, resources, drivers, attributes,
// meta, events and its allocations. Live: one blocking query on the node's allocations;
// each answer reads the node again.

import { h, replace, badge, table, facts, section, mapTable, searchBox, errorBox } from '../dom.js';
import { get, watch, ApiError } from '../api.js';
import { shortId, isoTime, mib } from '../format.js';
import { setTitle } from '../app.js';
import { allocationsTable } from './job.js';

export function render({ main, params, signal }) {
  const id = params.id;
  setTitle(`Client ${shortId(id)}`);
  let node = null;
  let allocs = [];
  let error = null;
  let notFound = false;
  let attributeFilter = '';
  let drawn = '';
  let drawnAt = 0;

  const title = h('h1', {}, `Client ${shortId(id)}`);
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading client…'));
  const attributes = h('div', {});
  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/ui/clients' }, 'Clients'), ' / ', h('span', { class: 'mono' }, shortId(id))),
    h('div', { class: 'page-head' }, title),
    body);

  const attributeSearch = searchBox('Filter attributes', '', (text) => { attributeFilter = text; drawAttributes(); });
  function drawAttributes() {
    replace(attributes, mapTable(node?.Attributes, { filter: attributeFilter, empty: attributeFilter ? 'No attribute matches.' : 'None.' }));
  }

  function draw() {
    body.removeAttribute('aria-busy');
    const state = JSON.stringify([node, allocs, String(error), notFound]);
    if (state === drawn && Date.now() - drawnAt < 20000) return;
    drawn = state;
    drawnAt = Date.now();
    if (notFound) return replace(body, errorBox(`Client ${id} was not found.`));
    if (!node) return replace(body, error ? errorBox(error) : null);
    setTitle(node.Name, 'Clients');
    replace(title, node.Name, ' ', badge(node.Status));
    const cpu = node.NodeResources?.Cpu?.CpuShares ?? 0;
    const memory = node.NodeResources?.Memory?.MemoryMB ?? 0;
    const disk = node.NodeResources?.Disk?.DiskMB ?? 0;
    const live = allocs.filter((a) => a.ClientStatus === 'running' || a.ClientStatus === 'pending');
    const usedCpu = live.reduce((n, a) => n + Object.values(a.AllocatedResources?.Tasks || {}).reduce((m, t) => m + (t.Cpu?.CpuShares || 0), 0), 0);
    const usedMemory = live.reduce((n, a) => n + Object.values(a.AllocatedResources?.Tasks || {}).reduce((m, t) => m + (t.Memory?.MemoryMB || 0), 0), 0);
    drawAttributes();
    replace(body,
      error ? errorBox(error) : null,
      section('Details', facts([
        ['ID', h('span', { class: 'mono' }, node.ID)],
        ['Status', h('span', {}, badge(node.Status), node.StatusDescription ? ` ${node.StatusDescription}` : '')],
        ['Eligibility', h('span', { class: node.SchedulingEligibility === 'eligible' ? '' : 'warn' }, node.SchedulingEligibility)],
        ['Draining', node.Drain ? 'yes' : 'no'],
        ['Address', h('span', { class: 'mono' }, node.HTTPAddr || '-')],
        ['Datacenter', node.Datacenter],
        ['Node pool', node.NodePool || '-'],
        ['Class', node.NodeClass || '-'],
        ['Allocated CPU', `${usedCpu} / ${cpu} MHz`],
        ['Allocated memory', `${mib(usedMemory)} / ${mib(memory)}`],
        ['Disk', mib(disk)],
      ])),
      section('Allocations', allocationsTable(allocs, { showJob: true, showNode: false, empty: 'No allocations on this client.' })),
      section('Drivers', table([
        { title: 'Driver', cell: ([name]) => h('strong', {}, name) },
        { title: 'Detected', cell: ([, d]) => (d.Detected ? 'yes' : 'no') },
        { title: 'Health', cell: ([, d]) => badge(d.Healthy ? 'healthy' : 'unhealthy') },
        { title: 'Description', cell: ([, d]) => d.HealthDescription || '-' },
        { title: 'Updated', cell: ([, d]) => isoTime(d.UpdateTime) },
      ], Object.entries(node.Drivers || {}).sort(([a], [b]) => a.localeCompare(b)), { empty: 'No drivers.', caption: 'Drivers' })),
      section('Events', table([
        { title: 'Time', cell: (e) => isoTime(e.Timestamp) },
        { title: 'Subsystem', cell: (e) => e.Subsystem },
        { title: 'Message', cell: (e) => e.Message },
      ], [...(node.Events || [])].reverse(), { empty: 'No events.', caption: 'Node events' })),
      section('Attributes', h('div', { class: 'toolbar' }, attributeSearch), attributes),
      section('Meta', mapTable(node.Meta, { empty: 'No meta.' })));
  }

  watch(`/v1/node/${encodeURIComponent(id)}/allocations`, signal, async (data) => {
    allocs = data || [];
    try {
      node = await get(`/v1/node/${encodeURIComponent(id)}`, signal);
      notFound = false;
      error = null;
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 404) notFound = true;
      else error = e;
    }
    draw();
  }, { onError: (e) => { if (e) { error = e; draw(); } } });
}
