// /ui/jobs/run: paste a job (HCL or JSON), plan it, run it, as `nomad job plan` then
// `nomad job run -check-index` do. HCL goes through /v1/jobs/parse; the plan is
// /v1/job/<id>/plan with a diff; the run registers with the plan's job modify index, so
// a job changed by someone else in between is refused rather than overwritten.

import { h, replace, section, errorBox } from '../dom.js';
import { send, jobPath } from '../api.js';
import { placementFailures } from '../format.js';
import { setTitle } from '../app.js';
import { jobHref } from './jobs.js';

const EXAMPLE = `job "example" {
  datacenters = ["*"]
  type        = "service"

  group "web" {
    count = 1

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from caravan; sleep 3600"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`;

export function render({ main, signal, navigate }) {
  setTitle('Run job', 'Jobs');
  let planned = null; // { job, plan } of the text as it was planned

  const stored = sessionStorage.getItem('caravan.run.source');
  sessionStorage.removeItem('caravan.run.source');
  const source = h('textarea', {
    id: 'job-source', class: 'code-input', rows: '22', spellcheck: 'false', autocomplete: 'off',
    'aria-describedby': 'job-source-help',
  });
  source.value = stored || EXAMPLE;
  const hcl1 = h('input', { type: 'checkbox', id: 'hclv1' });
  const planButton = h('button', { type: 'submit', class: 'button primary' }, 'Plan');
  const runButton = h('button', { type: 'button', class: 'button primary', disabled: true, onclick: () => run() }, 'Run');
  const status = h('span', { class: 'muted small', role: 'status' });
  const result = h('div', {});

  const form = h('form', { class: 'run-form' },
    h('label', { for: 'job-source', class: 'label' }, 'Job specification'),
    h('p', { id: 'job-source-help', class: 'muted small' },
      'HCL (as for ', h('code', {}, 'caravan job run'), ') or JSON (a job, or ', h('code', {}, '{"Job": …}'),
      '). Plan first to see what will change; ', h('kbd', {}, 'Ctrl'), '+', h('kbd', {}, 'Enter'), ' plans.'),
    source,
    h('div', { class: 'toolbar' }, planButton, runButton,
      h('label', { class: 'check' }, hcl1, ' HCL1 syntax'),
      h('button', { type: 'button', class: 'button', onclick: () => { source.value = EXAMPLE; invalidate(); source.focus(); } }, 'Reset to example'),
      status));
  form.addEventListener('submit', (event) => { event.preventDefault(); plan(); });
  source.addEventListener('input', invalidate);
  hcl1.addEventListener('change', invalidate);
  source.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); plan(); }
  });

  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/ui/jobs' }, 'Jobs'), ' / ', h('span', {}, 'Run')),
    h('div', { class: 'page-head' }, h('h1', {}, 'Run a job')),
    h('div', { class: 'panel' }, form),
    result);

  function invalidate() {
    if (!planned) return;
    planned = null;
    runButton.disabled = true;
    status.textContent = 'Changed since the plan: plan again to run.';
  }

  async function toJob(text) {
    const trimmed = text.trim();
    if (!trimmed) throw new Error('Paste a job specification first.');
    if (trimmed.startsWith('{')) {
      let value;
      try {
        value = JSON.parse(trimmed);
      } catch (e) {
        throw new Error(`The JSON does not parse: ${e.message}`);
      }
      const job = value.Job || value;
      if (!job.ID) throw new Error('The JSON job has no "ID".');
      return job;
    }
    return send('POST', '/v1/jobs/parse', { JobHCL: text, Canonicalize: true, hclv1: hcl1.checked }, signal);
  }

  async function plan() {
    planned = null;
    runButton.disabled = true;
    planButton.disabled = true;
    status.textContent = 'Planning…';
    try {
      const job = await toJob(source.value);
      const response = await send('POST', jobPath(job.ID, '/plan'), { Job: job, Diff: true }, signal);
      planned = { job, plan: response };
      runButton.disabled = false;
      status.textContent = '';
      replace(result, planView(job, response));
      runButton.focus();
    } catch (error) {
      if (signal.aborted) return;
      status.textContent = '';
      replace(result, errorBox(error));
    } finally {
      planButton.disabled = false;
    }
  }

  async function run() {
    if (!planned) return;
    runButton.disabled = true;
    status.textContent = 'Submitting…';
    const { job, plan: response } = planned;
    try {
      await send('POST', '/v1/jobs', { Job: job, EnforceIndex: true, JobModifyIndex: response.JobModifyIndex || 0 }, signal);
      navigate(jobHref(job.ID, job.Namespace));
    } catch (error) {
      if (signal.aborted) return;
      status.textContent = '';
      runButton.disabled = false;
      replace(result, errorBox(error), planView(job, response));
    }
  }
}

const MARK = { Added: '+', Deleted: '-', Edited: '+/-', None: ' ' };

/** `nomad job plan`'s output: the diff, the scheduler's dry run and the warnings. */
function planView(job, plan) {
  const lines = [];
  const diff = plan.Diff;
  if (diff) diffLines(diff, lines);
  const failed = plan.FailedTGAllocs && Object.keys(plan.FailedTGAllocs).length ? plan.FailedTGAllocs : null;
  const updates = Object.entries(plan.Annotations?.DesiredTGUpdates || {});
  return section(`Plan for "${job.ID}"`,
    lines.length ? h('pre', { class: 'code diff', tabindex: '0', 'aria-label': 'Job diff' }, lines) : null,
    updates.length
      ? h('ul', { class: 'plan-updates' }, updates.map(([group, u]) => h('li', {}, `Task group "${group}": `, describeUpdates(u))))
      : null,
    h('h3', {}, 'Scheduler dry run'),
    failed
      ? [h('p', { class: 'warn' }, 'WARNING: Failed to place all allocations.'), placementFailures(failed)]
      : h('p', { class: 'ok' }, 'All tasks successfully allocated.'),
    plan.Warnings ? h('div', { class: 'notice' }, h('strong', {}, 'Warnings: '), plan.Warnings) : null,
    h('p', { class: 'muted small' }, `Job modify index: ${plan.JobModifyIndex || 0}. Run registers the job only if it is still at this index.`));
}

function describeUpdates(u) {
  const parts = [
    ['place', 'create'], ['destructive_update', 'destroy/create'], ['in_place_update', 'in-place update'],
    ['stop', 'stop'], ['migrate', 'migrate'], ['canary', 'canary'], ['ignore', 'ignore'],
  ].map(([key, word]) => {
    const pascal = key.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
    const n = u[pascal] ?? u[key] ?? 0;
    return n ? `${n} ${word}` : null;
  }).filter(Boolean);
  return parts.join(', ') || 'no change';
}

function line(lines, type, depth, text) {
  lines.push(h('span', { class: `diff-${(type || 'None').toLowerCase()}` }, `${'  '.repeat(depth)}${MARK[type] || ' '} ${text}\n`));
}

function fieldLines(fields, depth, lines) {
  for (const f of fields || []) {
    if (f.Type === 'None') continue;
    const note = f.Annotations?.length ? ` (${f.Annotations.join(', ')})` : '';
    if (f.Type === 'Edited') line(lines, f.Type, depth, `${f.Name}: "${f.Old}" => "${f.New}"${note}`);
    else if (f.Type === 'Added') line(lines, f.Type, depth, `${f.Name}: "${f.New}"${note}`);
    else line(lines, f.Type, depth, `${f.Name}: "${f.Old}"${note}`);
  }
}

function objectLines(objects, depth, lines) {
  for (const o of objects || []) {
    if (o.Type === 'None') continue;
    line(lines, o.Type, depth, `${o.Name} {`);
    fieldLines(o.Fields, depth + 1, lines);
    objectLines(o.Objects, depth + 1, lines);
    lines.push(`${'  '.repeat(depth)}  }\n`);
  }
}

// As `nomad job plan` without -verbose: the fields of what is edited; an added or
// deleted job, group or task is one line.
function diffLines(diff, lines) {
  line(lines, diff.Type, 0, `Job: "${diff.ID}"`);
  if (diff.Type === 'Edited') {
    fieldLines(diff.Fields, 1, lines);
    objectLines(diff.Objects, 1, lines);
  }
  for (const group of diff.TaskGroups || []) {
    const updates = Object.entries(group.Updates || {}).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ');
    line(lines, group.Type, 0, `Task Group: "${group.Name}"${updates ? ` (${updates})` : ''}`);
    if (group.Type === 'Edited') {
      fieldLines(group.Fields, 1, lines);
      objectLines(group.Objects, 1, lines);
    }
    for (const task of group.Tasks || []) {
      if (task.Type === 'None') continue;
      const note = task.Annotations?.length ? ` (${task.Annotations.join(', ')})` : '';
      line(lines, task.Type, 1, `Task: "${task.Name}"${note}`);
      if (task.Type === 'Edited') {
        fieldLines(task.Fields, 2, lines);
        objectLines(task.Objects, 2, lines);
      }
    }
  }
}
