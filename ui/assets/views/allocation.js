// /ui/allocations/<id>: an allocation's status, tasks, recent events, resources and its
// tasks' stdout/stderr, streamed live, and a Restart action (in place, with Nomad's
// inline confirmation). One blocking query on the allocation; the log is one streaming
// request (fetch + ReadableStream), restarted when the task or stream changes.

import { h, replace, badge, table, facts, section, errorBox, confirmButton, announce } from '../dom.js';
import { get, watch, streamLogs, restartAllocation, ApiError } from '../api.js';
import { shortId, nanoTime, isoTime, mib } from '../format.js';
import { setTitle } from '../app.js';
import { jobHref } from './jobs.js';

/** Keeps at most this much log text in the page: a chatty task must not slow it down. */
const LOG_LIMIT = 512 * 1024;

export function render({ main, params, signal }) {
  const id = params.id;
  setTitle(`Allocation ${shortId(id)}`);
  let alloc = null;
  let error = null;
  let notFound = false;
  let drawn = '';
  let drawnAt = 0;

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/ui/jobs' }, 'Jobs'), ' / ', h('span', {}, shortId(id)));
  const title = h('h1', {}, `Allocation ${shortId(id)}`);
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading allocation…'));
  const more = h('div', {});
  const logs = logPanel(id, signal);
  const usage = usagePanel(id, signal, () => alloc);
  let actionError = null;
  // Built once and only shown or hidden: a live update must not close an open question.
  const restart = confirmButton({
    key: 'restart', label: 'Restart', question: 'Are you sure? This will restart the allocation in-place.',
    confirmLabel: 'Yes, restart', danger: false,
    action: async () => {
      actionError = null;
      try {
        await restartAllocation(id, {}, signal);
        announce(`Allocation ${shortId(id)} restarted`);
      } catch (e) {
        if (!signal.aborted) actionError = e;
      }
      drawn = '';
      draw();
    },
  });
  // Shown through `style.display`: `.actions` is a flex box, which `hidden` alone loses to.
  const actions = h('div', { class: 'actions', style: { display: 'none' } }, restart);
  // The log sits under the tasks, where a user looks first; usage, events and resources follow.
  replace(main, crumbs, h('div', { class: 'page-head' }, title, actions), body, logs.element, usage, more);

  function draw() {
    body.removeAttribute('aria-busy');
    // Nomad offers a restart while the allocation should run and has a task running.
    const restartable = alloc && alloc.DesiredStatus === 'run' && alloc.ClientStatus === 'running';
    actions.style.display = restartable ? '' : 'none';
    const state = JSON.stringify([alloc, String(error), String(actionError), notFound]);
    if (state === drawn && Date.now() - drawnAt < 20000) return;
    drawn = state;
    drawnAt = Date.now();
    if (notFound) {
      replace(more);
      return replace(body, errorBox(`Allocation ${id} was not found.`));
    }
    if (!alloc) return replace(body, error ? errorBox(error) : null);
    setTitle(`Allocation ${shortId(alloc.ID)}`, alloc.JobID);
    replace(crumbs, h('a', { href: '/ui/jobs' }, 'Jobs'), ' / ',
      h('a', { href: jobHref(alloc.JobID, alloc.Namespace) }, alloc.JobID), ' / ', h('span', {}, alloc.TaskGroup), ' / ',
      h('span', { class: 'mono' }, shortId(alloc.ID)));
    replace(title, `Allocation ${shortId(alloc.ID)} `, badge(alloc.ClientStatus));
    const tasks = Object.entries(alloc.TaskStates || {});
    const groupTasks = alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup)?.Tasks || [];
    logs.setTasks(groupTasks.length ? groupTasks.map((t) => t.Name) : tasks.map(([name]) => name));
    const events = tasks
      .flatMap(([task, state]) => (state.Events || []).map((e) => ({ task, ...e })))
      .sort((a, b) => b.Time - a.Time)
      .slice(0, 30);
    replace(body,
      error ? errorBox(error) : null,
      actionError ? errorBox(`Could not restart the allocation: ${actionError.message || actionError}`) : null,
      section('Details', facts([
        ['Status', h('span', {}, badge(alloc.ClientStatus), alloc.ClientDescription ? ` ${alloc.ClientDescription}` : '')],
        ['Desired', `${alloc.DesiredStatus}${alloc.DesiredDescription ? ` (${alloc.DesiredDescription})` : ''}`],
        ['Job', h('a', { href: jobHref(alloc.JobID, alloc.Namespace) }, alloc.JobID)],
        ['Task group', alloc.TaskGroup],
        ['Job version', String(alloc.Job?.Version ?? '-')],
        ['Client', alloc.NodeID ? h('a', { href: `/ui/clients/${alloc.NodeID}` }, alloc.NodeName || shortId(alloc.NodeID)) : '-'],
        ['Name', alloc.Name],
        ['Created', nanoTime(alloc.CreateTime)],
        ['Modified', nanoTime(alloc.ModifyTime)],
        ['Evaluation', h('span', { class: 'mono', title: alloc.EvalID }, shortId(alloc.EvalID))],
        alloc.PreviousAllocation ? ['Replaces', h('a', { href: `/ui/allocations/${alloc.PreviousAllocation}`, class: 'mono' }, shortId(alloc.PreviousAllocation))] : null,
        alloc.NextAllocation ? ['Replaced by', h('a', { href: `/ui/allocations/${alloc.NextAllocation}`, class: 'mono' }, shortId(alloc.NextAllocation))] : null,
      ])),
      section('Tasks', table([
        { title: 'Name', cell: ([name]) => h('strong', {}, name) },
        { title: 'State', cell: ([, s]) => h('span', {}, badge(s.State), s.Failed ? h('span', { class: 'warn small' }, ' failed') : null) },
        { title: 'Driver', cell: ([name]) => groupTasks.find((t) => t.Name === name)?.Driver || '-' },
        { title: 'Restarts', cell: ([, s]) => String(s.Restarts || 0), class: 'num' },
        { title: 'Started', cell: ([, s]) => isoTime(s.StartedAt) },
        { title: 'Finished', cell: ([, s]) => isoTime(s.FinishedAt) },
        { title: 'Last event', cell: ([, s]) => {
          const last = (s.Events || [])[s.Events.length - 1];
          return last ? `${last.Type}: ${eventText(last)}` : '-';
        } },
      ], tasks, { empty: 'No task has reported yet.', rowKey: ([name]) => name, caption: 'Tasks' })));
    replace(more,
      section('Recent events', table([
        { title: 'Time', cell: (e) => nanoTime(e.Time) },
        { title: 'Task', cell: (e) => e.task },
        { title: 'Type', cell: (e) => h('strong', {}, e.Type) },
        { title: 'Description', cell: (e) => eventText(e) },
      ], events, { empty: 'No events yet.', caption: 'Recent events' })),
      section('Resources', resources(alloc, groupTasks)));
  }

  watch(`/v1/allocation/${encodeURIComponent(id)}`, signal, (data) => {
    alloc = data;
    notFound = false;
    error = null;
    draw();
  }, {
    onError: (e) => {
      if (!e) return;
      if (e instanceof ApiError && e.status === 404) notFound = true;
      else error = e;
      draw();
    },
  });
}

/**
 * Measured CPU and memory of each task against what it reserved, read from the client
 * (`/v1/client/allocation/<id>/stats`) every 3 seconds while the allocation runs. Hidden
 * when the agent does not measure usage.
 */
function usagePanel(allocId, signal, currentAlloc) {
  const content = h('div', {});
  const element = section('Resource usage', content);
  element.hidden = true;
  let unsupported = false;
  async function poll() {
    const alloc = currentAlloc();
    if (unsupported || signal.aborted) return;
    if (!alloc || alloc.ClientStatus !== 'running') {
      element.hidden = true;
      return;
    }
    try {
      const stats = await get(`/v1/client/allocation/${encodeURIComponent(allocId)}/stats`, signal);
      const rows = Object.entries(stats.Tasks || {}).map(([name, t]) => {
        const reserved = alloc.AllocatedResources?.Tasks?.[name] || {};
        const u = t.ResourceUsage || {};
        return {
          name,
          cpu: u.CpuStats?.TotalTicks || 0,
          cpuReserved: reserved.Cpu?.CpuShares || 0,
          memory: (u.MemoryStats?.RSS || u.MemoryStats?.Usage || 0) / (1024 * 1024),
          memoryReserved: reserved.Memory?.MemoryMB || 0,
        };
      });
      element.hidden = false;
      replace(content, table([
        { title: 'Task', cell: (r) => h('strong', {}, r.name) },
        { title: 'CPU', cell: (r) => meter(r.cpu, r.cpuReserved, `${Math.round(r.cpu)} / ${r.cpuReserved} MHz`) },
        { title: 'Memory', cell: (r) => meter(r.memory, r.memoryReserved, `${r.memory.toFixed(1)} / ${r.memoryReserved} MiB`) },
      ], rows, { empty: 'No task is running.', caption: 'Resource usage' }),
      h('p', { class: 'muted small' }, 'Measured on the client; refreshed every 3 seconds.'));
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 501)) unsupported = true;
      element.hidden = true;
    }
  }
  const timer = setInterval(poll, 3000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  setTimeout(poll, 300);
  return element;
}

function meter(value, max, label) {
  const ratio = max > 0 ? Math.min(value / max, 1) : 0;
  return h('div', { class: 'meter-cell' },
    h('div', { class: `meter${ratio > 0.9 ? ' high' : ''}`, role: 'img', 'aria-label': label },
      h('span', { style: { width: `${(ratio * 100).toFixed(1)}%` } })),
    h('span', { class: 'small' }, label));
}

function eventText(event) {
  return event.DisplayMessage || event.Message || event.DriverError || '';
}

function resources(alloc, groupTasks) {
  const tasks = Object.entries(alloc.AllocatedResources?.Tasks || {});
  const rows = tasks.map(([name, r]) => ({
    name,
    cpu: r.Cpu?.CpuShares || 0,
    memory: r.Memory?.MemoryMB || 0,
    memoryMax: r.Memory?.MemoryMaxMB || 0,
    ports: (r.Networks || []).flatMap((n) => [...(n.ReservedPorts || []), ...(n.DynamicPorts || [])].map((p) => `${p.Label}: ${n.IP || ''}:${p.Value}`)),
  }));
  if (!rows.length) {
    for (const task of groupTasks) {
      rows.push({ name: task.Name, cpu: task.Resources?.CPU || 0, memory: task.Resources?.MemoryMB || 0, memoryMax: task.Resources?.MemoryMaxMB || 0, ports: [] });
    }
  }
  const disk = alloc.AllocatedResources?.Shared?.DiskMB;
  return [
    table([
      { title: 'Task', cell: (r) => h('strong', {}, r.name) },
      { title: 'CPU', cell: (r) => `${r.cpu} MHz`, class: 'num' },
      { title: 'Memory', cell: (r) => mib(r.memory) + (r.memoryMax ? ` (max ${mib(r.memoryMax)})` : ''), class: 'num' },
      { title: 'Ports', cell: (r) => r.ports.join(', ') || '-' },
    ], rows, { empty: 'No resources allocated.', caption: 'Allocated resources' }),
    disk ? h('p', { class: 'muted' }, `Ephemeral disk: ${mib(disk)}`) : null,
    h('p', { class: 'muted small' }, 'Reserved by the scheduler for this allocation.'),
  ];
}

/**
 * The log viewer: a task picker, stdout/stderr, follow on or off, and the text. Follow
 * keeps the stream open and scrolls to the end unless the reader scrolled up.
 */
function logPanel(allocId, viewSignal) {
  let tasks = [];
  let task = null;
  let type = 'stdout';
  let follow = true;
  let stream = null;

  const output = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Task log', 'data-testid': 'log' });
  const state = h('span', { class: 'muted small', role: 'status' });
  const taskPicker = h('select', { 'aria-label': 'Task', class: 'filter' });
  taskPicker.addEventListener('change', () => { task = taskPicker.value; restart(); });
  const typeButtons = ['stdout', 'stderr'].map((t) => h('button', {
    type: 'button', class: 'button small', 'aria-pressed': String(t === type), 'data-key': `log:${t}`,
    onclick: () => { type = t; typeButtons.forEach((b) => b.setAttribute('aria-pressed', String(b.textContent === t))); restart(); },
  }, t));
  const followButton = h('button', {
    type: 'button', class: 'button small', 'aria-pressed': 'true', 'data-key': 'log:follow',
    onclick: () => { follow = !follow; followButton.setAttribute('aria-pressed', String(follow)); restart(); },
  }, 'Follow');

  const element = section('Logs',
    h('div', { class: 'log-toolbar' }, taskPicker, h('span', { class: 'segmented', role: 'group', 'aria-label': 'Stream' }, typeButtons), followButton, state),
    output);

  let atEnd = true;
  output.addEventListener('scroll', () => {
    atEnd = output.scrollTop + output.clientHeight >= output.scrollHeight - 8;
  });

  function restart() {
    stream?.abort();
    if (!task) return;
    const controller = new AbortController();
    stream = controller;
    viewSignal.addEventListener('abort', () => controller.abort(), { once: true });
    output.textContent = '';
    let kept = 0;
    atEnd = true;
    state.textContent = follow ? 'Streaming…' : 'Loading…';
    streamLogs(allocId, task, type, {
      follow,
      signal: controller.signal,
      onText: (text) => {
        if (!text) return;
        output.append(text);
        kept += text.length;
        if (kept > LOG_LIMIT * 1.5) {
          output.textContent = output.textContent.slice(-LOG_LIMIT);
          kept = LOG_LIMIT;
        }
        if (atEnd) output.scrollTop = output.scrollHeight;
      },
    }).then(() => {
      if (controller.signal.aborted) return;
      state.textContent = follow ? 'The task has finished; this is the whole log.' : '';
      if (!output.textContent) output.textContent = `(no ${type} output)`;
    }, (error) => {
      if (controller.signal.aborted) return;
      state.textContent = '';
      output.textContent = `Could not read the log: ${error.message}`;
    });
  }

  return {
    element,
    setTasks(names) {
      if (names.join('\n') === tasks.join('\n')) return;
      tasks = names;
      replace(taskPicker, names.map((n) => h('option', { value: n, selected: n === task }, n)));
      taskPicker.hidden = names.length < 2;
      if (!task || !names.includes(task)) {
        task = names[0] || null;
        restart();
      }
    },
  };
}
