// /ui/jobs/<job>[@namespace][/<tab>]: a job's overview (status, summary, placement
// failures, task groups, allocations, evaluations), its definition and its versions;
// stop, start and purge. Live: one blocking query on the job's allocations, and on each
// answer the job, its summary and evaluations are read again.

import { h, replace, badge, table, facts, section, errorBox, confirmButton, announce } from '../dom.js';
import { get, send, watch, jobPath, ApiError } from '../api.js';
import { shortId, nanoTime, summaryBar, summaryTotals, placementFailures, mib } from '../format.js';
import { setTitle } from '../app.js';
import { jobHref } from './jobs.js';

const TABS = [
  ['', 'Overview'],
  ['definition', 'Definition'],
  ['versions', 'Versions'],
  ['evaluations', 'Evaluations'],
];

/** The allocations table of the job and client pages. */
export function allocationsTable(allocs, { showJob = false, showNode = true, empty = 'No allocations.' } = {}) {
  const sorted = [...allocs].sort((a, b) => b.CreateIndex - a.CreateIndex);
  return table([
    { title: 'ID', cell: (a) => h('a', { href: `/ui/allocations/${a.ID}`, class: 'mono strong' }, shortId(a.ID)) },
    showJob ? { title: 'Job', cell: (a) => h('a', { href: jobHref(a.JobID, a.Namespace) }, a.JobID) } : null,
    { title: 'Task group', cell: (a) => a.TaskGroup },
    { title: 'Created', cell: (a) => nanoTime(a.CreateTime) },
    { title: 'Modified', cell: (a) => nanoTime(a.ModifyTime) },
    { title: 'Status', cell: (a) => h('span', { class: 'alloc-status' }, badge(a.ClientStatus),
      a.DesiredStatus && a.DesiredStatus !== 'run' ? h('span', { class: 'muted small' }, ` desired ${a.DesiredStatus}`) : null) },
    { title: 'Version', cell: (a) => String(a.JobVersion ?? a.Job?.Version ?? '-'), class: 'num' },
    showNode ? { title: 'Client', cell: (a) => (a.NodeID ? h('a', { href: `/ui/clients/${a.NodeID}`, class: 'mono' }, a.NodeName || shortId(a.NodeID)) : '-') } : null,
  ].filter(Boolean), sorted, { empty, rowKey: (a) => a.ID, caption: 'Allocations' });
}

/** The evaluations table of the job and evaluations pages. */
export function evaluationsTable(evals, { showJob = false, empty = 'No evaluations.' } = {}) {
  const sorted = [...evals].sort((a, b) => b.CreateIndex - a.CreateIndex);
  return table([
    { title: 'ID', cell: (e) => h('span', { class: 'mono', title: e.ID }, shortId(e.ID)) },
    showJob ? { title: 'Job', cell: (e) => h('a', { href: jobHref(e.JobID, e.Namespace) }, e.JobID) } : null,
    { title: 'Priority', cell: (e) => String(e.Priority), class: 'num' },
    { title: 'Triggered by', cell: (e) => e.TriggeredBy },
    { title: 'Status', cell: (e) => h('span', {}, badge(e.Status), e.StatusDescription ? h('span', { class: 'muted small' }, ` ${e.StatusDescription}`) : null) },
    { title: 'Placement failures', cell: (e) => (Object.keys(e.FailedTGAllocs || {}).length ? h('span', { class: 'warn' }, 'Yes') : 'No') },
    { title: 'Created', cell: (e) => nanoTime(e.CreateTime) },
  ].filter(Boolean), sorted, { empty, rowKey: (e) => e.ID, caption: 'Evaluations' });
}

/** The newest finished evaluation's failures, while the job still wants to run. */
function currentFailures(job, evals) {
  if (!job || job.Stop) return null;
  const finished = evals.filter((e) => e.Status !== 'blocked' && e.Status !== 'pending')
    .sort((a, b) => b.ModifyIndex - a.ModifyIndex);
  const failed = finished[0]?.FailedTGAllocs;
  return failed && Object.keys(failed).length ? failed : null;
}

function groupResources(group) {
  let cpu = 0;
  let memory = 0;
  for (const task of group.Tasks || []) {
    cpu += task.Resources?.CPU || 0;
    memory += task.Resources?.MemoryMB || 0;
  }
  return `${cpu} MHz · ${mib(memory)} · disk ${mib(group.EphemeralDisk?.SizeMB || 0)}`;
}

export function render({ main, params, signal, navigate }) {
  const [id, namespace = 'default'] = splitNamespace(params.job);
  const tab = TABS.some(([t]) => t === (params.tab || '')) ? params.tab || '' : null;
  const ns = `namespace=${encodeURIComponent(namespace)}`;
  const base = jobHref(id, namespace);
  setTitle(id, 'Jobs');

  let job = null;
  let summary = null;
  let allocs = [];
  let evals = [];
  let versions = null;
  let error = null;
  let actionError = null;
  let notFound = false;

  const status = h('span', {});
  const actions = h('div', { class: 'actions' });
  const notice = h('div', {});
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading job…'));

  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/ui/jobs' }, 'Jobs'), ' / ', h('span', {}, id)),
    h('div', { class: 'page-head' }, h('h1', {}, id, ' ', status), actions),
    h('nav', { class: 'tabs', 'aria-label': 'Job' },
      TABS.map(([t, label]) => h('a', { href: t ? `${base}/${t}` : base, 'aria-current': t === tab ? 'page' : null }, label))),
    notice,
    body);

  if (tab === null) {
    replace(body, errorBox(`This job has no "${params.tab}" page.`));
    return;
  }

  async function act(what, run) {
    actionError = null;
    try {
      await run();
      announce(what);
      await refresh();
    } catch (e) {
      if (!signal.aborted) actionError = e;
    }
    draw();
  }

  const stop = () => act(`Job ${id} stopped`, () => send('DELETE', `${jobPath(id)}?${ns}`, undefined, signal));
  const start = () => act(`Job ${id} started`, async () => {
    // Nomad's "Start": register the job again as it is, with Stop cleared.
    const current = await get(`${jobPath(id)}?${ns}`, signal);
    current.Stop = false;
    await send('POST', '/v1/jobs', { Job: current }, signal);
  });
  const purge = () => act(`Job ${id} purged`, async () => {
    await send('DELETE', `${jobPath(id)}?purge=true&${ns}`, undefined, signal);
    navigate('/ui/jobs');
  });

  function drawActions() {
    if (!job) return replace(actions);
    const edit = h('button', {
      type: 'button', class: 'button',
      onclick: () => {
        sessionStorage.setItem('caravan.run.source', JSON.stringify({ Job: job }, null, 2));
        navigate('/ui/jobs/run');
      },
    }, 'Edit and run');
    if (job.Stop) {
      replace(actions, edit,
        confirmButton({ key: 'start', label: 'Start job', question: 'Run this job again?', confirmLabel: 'Yes, start job', action: start, danger: false }),
        confirmButton({ key: 'purge', label: 'Purge', question: 'Remove this job and its history?', confirmLabel: 'Yes, purge job', action: purge }));
    } else {
      replace(actions, edit,
        confirmButton({ key: 'stop', label: 'Stop job', question: 'Are you sure you want to stop this job?', confirmLabel: 'Yes, stop job', action: stop }));
    }
  }

  function overview() {
    const totals = summaryTotals(summary);
    const failures = currentFailures(job, evals);
    return [
      job.Stop && job.Status !== 'dead'
        ? h('p', { class: 'notice' }, 'This job was stopped; its allocations are shutting down.') : null,
      section('Summary',
        facts([
          ['Status', badge(job.Status)],
          ['Type', job.Type],
          ['Priority', String(job.Priority)],
          ['Version', String(job.Version)],
          ['Namespace', job.Namespace],
          ['Datacenters', (job.Datacenters || []).join(', ') || '-'],
          job.NodePool ? ['Node pool', job.NodePool] : null,
          ['Submitted', nanoTime(job.SubmitTime)],
        ]),
        summaryBar(totals)),
      failures ? section('Placement failures', placementFailures(failures)) : null,
      section('Task groups', table([
        { title: 'Name', cell: (g) => h('strong', {}, g.Name) },
        { title: 'Count', cell: (g) => String(g.Count), class: 'num' },
        { title: 'Tasks', cell: (g) => (g.Tasks || []).map((t) => `${t.Name} (${t.Driver})`).join(', ') },
        { title: 'Reserved', cell: groupResources },
        { title: 'Allocations', class: 'summary-cell', cell: (g) => summaryBar(summaryTotals({ Summary: { [g.Name]: summary?.Summary?.[g.Name] || {} } }), { legend: false }) },
      ], job.TaskGroups || [], { empty: 'This job has no task groups.', caption: 'Task groups' })),
      section('Allocations', allocationsTable(allocs)),
      section('Recent evaluations', evaluationsTable(evals.slice().sort((a, b) => b.CreateIndex - a.CreateIndex).slice(0, 5))),
    ];
  }

  function definition() {
    const text = JSON.stringify(job, null, 2);
    const copy = h('button', {
      type: 'button', class: 'button small',
      onclick: async () => {
        try { await navigator.clipboard.writeText(text); copy.textContent = 'Copied'; } catch { copy.textContent = 'Copy failed'; }
      },
    }, 'Copy');
    return section('Definition', h('div', { class: 'code-head' }, h('span', { class: 'muted' }, `Version ${job.Version}, as the server stores it (JSON)`), copy),
      h('pre', { class: 'code', tabindex: '0' }, text));
  }

  function versionList() {
    if (!versions) return h('p', { class: 'loading' }, 'Loading versions…');
    return section('Versions', h('ol', { class: 'versions' }, versions.map((v) =>
      h('li', {},
        h('details', {},
          h('summary', {}, h('strong', {}, `Version ${v.Version}`), ' ', v.Stable ? badge('stable') : null,
            v.Stop ? badge('stopped') : null, ' ', h('span', { class: 'muted' }, 'submitted '), nanoTime(v.SubmitTime)),
          h('pre', { class: 'code', tabindex: '0' }, JSON.stringify(v, null, 2)))))));
  }

  // What was last drawn: a live update that changed nothing redraws nothing (text being
  // selected in the definition stays selected), except to age the relative times.
  let drawnState = '';
  let drawnActions = '';
  let drawnAt = 0;

  function draw() {
    body.removeAttribute('aria-busy');
    const state = JSON.stringify([job, summary, allocs, evals, versions, String(error), String(actionError), notFound]);
    if (state === drawnState && Date.now() - drawnAt < 20000) return;
    drawnState = state;
    drawnAt = Date.now();
    replace(status, job ? badge(job.Status) : null);
    // The buttons change only with the job's stop flag: an open "Are you sure?" survives
    // updates of everything else.
    const actionsFor = job ? String(Boolean(job.Stop)) : '';
    if (actionsFor !== drawnActions) {
      drawnActions = actionsFor;
      drawActions();
    }
    replace(notice,
      actionError ? errorBox(actionError) : null,
      error && job ? errorBox(error) : null);
    if (notFound) {
      return replace(body, h('div', { class: 'error-box', role: 'alert' },
        `Job "${id}" was not found in namespace "${namespace}". `, h('a', { href: '/ui/jobs' }, 'Back to jobs'), '.'));
    }
    if (!job) return replace(body, error ? errorBox(error) : h('p', { class: 'loading' }, 'Loading job…'));
    setTitle(job.Name || id, 'Jobs');
    if (tab === '') replace(body, overview());
    else if (tab === 'definition') replace(body, definition());
    else if (tab === 'versions') replace(body, versionList());
    else if (tab === 'evaluations') replace(body, section('Evaluations', evaluationsTable(evals)));
  }

  async function refresh() {
    try {
      const reads = [
        get(`${jobPath(id)}?${ns}`, signal),
        get(`${jobPath(id, '/summary')}?${ns}`, signal).catch(() => null),
        get(`${jobPath(id, '/evaluations')}?${ns}`, signal).catch(() => []),
        tab === 'versions' ? get(`${jobPath(id, '/versions')}?${ns}`, signal).then((v) => v.Versions).catch(() => null) : null,
      ];
      [job, summary, evals, versions] = await Promise.all(reads);
      notFound = false;
      error = null;
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 404) {
        notFound = true;
        job = null;
      } else {
        error = e;
      }
    }
  }

  watch(`${jobPath(id, '/allocations')}?${ns}`, signal, async (data) => {
    allocs = data || [];
    await refresh();
    if (!signal.aborted) draw();
  }, { onError: (e) => { if (e) { error = e; draw(); } } });
}

/** `web@prod` → ['web', 'prod']; Nomad's UI addresses a job that way. */
function splitNamespace(text) {
  const at = text.lastIndexOf('@');
  return at > 0 ? [text.slice(0, at), text.slice(at + 1)] : [text];
}
