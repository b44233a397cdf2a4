// How values read: times, sizes, IDs, and placement failures in the CLI's words.

import { h } from './dom.js';

/** The first 8 characters of a UUID, as the CLI shows them. */
export const shortId = (id) => (id || '').slice(0, 8);

/** Nanoseconds since the epoch (Nomad's times) as a Date, or null for zero. */
export function nanosToDate(nanos) {
  if (!nanos) return null;
  return new Date(Math.floor(Number(nanos) / 1e6));
}

/** `42m38s ago`, the CLI's relative time, from a Date. */
export function ago(date) {
  if (!date || Number.isNaN(date.getTime())) return '-';
  let seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const suffix = seconds < 0 ? ' from now' : ' ago';
  seconds = Math.abs(seconds);
  const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  let text = '';
  let shown = 0;
  for (const [unit, size] of units) {
    const value = Math.floor(seconds / size);
    seconds -= value * size;
    if (value > 0 && shown < 2) {
      text += `${value}${unit}`;
      shown += 1;
    } else if (shown > 0) {
      shown = 2;
    }
  }
  return (text || '0s') + suffix;
}

/** A <time> element: relative text, exact local time on hover and for screen readers. */
export function time(date) {
  if (!date || Number.isNaN(date.getTime())) return '-';
  return h('time', { datetime: date.toISOString(), title: date.toLocaleString() }, ago(date));
}

/** A Nomad nanosecond timestamp as a <time>. */
export const nanoTime = (nanos) => time(nanosToDate(nanos));

/** An RFC 3339 string (task StartedAt, node event Timestamp) as a <time>. */
export function isoTime(text) {
  if (!text || text.startsWith('0001-')) return '-';
  return time(new Date(text));
}

/** Mebibytes the way Nomad's UI writes them. */
export function mib(value) {
  const n = Number(value) || 0;
  return n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} GiB` : `${n} MiB`;
}

/** A Go duration from nanoseconds: `30s`, `5m0s`. */
export function duration(nanos) {
  let s = Math.round((Number(nanos) || 0) / 1e9);
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  if (hours) return `${hours}h${minutes}m${s}s`;
  if (minutes) return `${minutes}m${s}s`;
  return `${s}s`;
}

/**
 * Why a task group could not be placed, one line per reason, in `nomad job run`'s words
 * (`Constraint "${attr.os.name} = windows" filtered 3 nodes`).
 */
export function placementFailureLines(metric) {
  const lines = [];
  const sorted = (map) => Object.entries(map || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!metric.NodesEvaluated) lines.push('No nodes were eligible for evaluation');
  for (const [dc, available] of sorted(metric.NodesAvailable)) {
    if (available === 0) lines.push(`No nodes are available in datacenter "${dc}"`);
  }
  for (const [cls, n] of sorted(metric.ClassFiltered)) lines.push(`Class "${cls}" filtered ${n} nodes`);
  for (const [c, n] of sorted(metric.ConstraintFiltered)) lines.push(`Constraint "${c}" filtered ${n} nodes`);
  if (metric.NodesExhausted > 0) lines.push(`Resources exhausted on ${metric.NodesExhausted} nodes`);
  for (const [cls, n] of sorted(metric.ClassExhausted)) lines.push(`Class "${cls}" exhausted on ${n} nodes`);
  for (const [d, n] of sorted(metric.DimensionExhausted)) lines.push(`Dimension "${d}" exhausted on ${n} nodes`);
  for (const d of metric.QuotaExhausted || []) lines.push(`Quota limit hit "${d}"`);
  return lines;
}

/** A block that explains failed placements per task group, or null when none failed. */
export function placementFailures(failedTGAllocs) {
  const groups = Object.entries(failedTGAllocs || {});
  if (!groups.length) return null;
  return h('div', { class: 'placement-failures', role: 'status' },
    groups.map(([group, metric]) => {
      const unplaced = (metric.CoalescedFailures || 0) + 1;
      return h('div', { class: 'failure' },
        h('h3', {}, `Task group "${group}" (failed to place ${unplaced} allocation${unplaced === 1 ? '' : 's'})`),
        h('ul', {}, placementFailureLines(metric).map((line) => h('li', {}, line))));
    }));
}

/** Allocation states in the order summary bars show them. */
export const SUMMARY_STATES = ['Queued', 'Starting', 'Running', 'Complete', 'Failed', 'Lost', 'Unknown'];

/** Sums a JobSummary's per-group counts. */
export function summaryTotals(summary) {
  const totals = Object.fromEntries(SUMMARY_STATES.map((s) => [s, 0]));
  for (const group of Object.values(summary?.Summary || {})) {
    for (const state of SUMMARY_STATES) totals[state] += group[state] || 0;
  }
  return totals;
}

/** A stacked bar of allocation states with a legend of counts. */
export function summaryBar(totals, { legend = true } = {}) {
  const total = SUMMARY_STATES.reduce((n, s) => n + totals[s], 0);
  const label = SUMMARY_STATES.filter((s) => totals[s]).map((s) => `${totals[s]} ${s.toLowerCase()}`).join(', ') || 'no allocations';
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': label, title: label },
    total
      ? SUMMARY_STATES.filter((s) => totals[s]).map((s) =>
        h('span', { class: `seg seg-${s.toLowerCase()}`, style: { flexGrow: String(totals[s]) } }))
      : h('span', { class: 'seg seg-none' }));
  if (!legend) return bar;
  return h('div', { class: 'summary' }, bar,
    h('ul', { class: 'legend' }, SUMMARY_STATES.map((s) =>
      h('li', { class: totals[s] ? '' : 'zero' }, h('span', { class: `dot seg-${s.toLowerCase()}` }), `${s} `, h('strong', {}, totals[s])))));
}

/** Compact "2 running · 1 failed" text for a list row. */
export function summaryText(totals) {
  return SUMMARY_STATES.filter((s) => totals[s]).map((s) => `${totals[s]} ${s.toLowerCase()}`).join(' · ') || 'none';
}
