// The /v1 HTTP API, as the views use it: JSON reads, writes, blocking queries and the
// log stream. Every call takes the view's AbortSignal so leaving a view cancels its
// requests.

/** An API answer that was not 2xx: Caravan's errors are plain text, as Nomad's. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

/**
 * The ACL token the UI sends, kept in local storage under the key Nomad's UI uses, so
 * a token set in one tab (or in Nomad's UI at the same address) works in every tab.
 */
export const TOKEN_KEY = 'nomadTokenSecret';

export function storedToken() {
  try { return window.localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function storeToken(secret) {
  try {
    if (secret) window.localStorage.setItem(TOKEN_KEY, secret);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts for this page only */ }
}

/** The headers of every call: JSON, and the token when one is set. */
function headers(extra = {}) {
  const all = { Accept: 'application/json', ...extra };
  const token = storedToken();
  if (token) all['X-Nomad-Token'] = token;
  return all;
}

async function check(response) {
  if (response.ok) return response;
  const text = (await response.text()).trim();
  // A refusal for want of a (valid) token: the app offers to set one.
  if (response.status === 403) {
    window.dispatchEvent(new CustomEvent('caravan:forbidden', { detail: text }));
  }
  throw new ApiError(response.status, text || response.statusText);
}

/** GET a JSON document. */
export async function get(path, signal) {
  const response = await check(await fetch(path, { signal, headers: headers() }));
  return response.json();
}

/** GET a JSON document and the X-Nomad-Index it was read at. */
export async function getIndexed(path, signal) {
  const response = await check(await fetch(path, { signal, headers: headers() }));
  const index = Number(response.headers.get('X-Nomad-Index')) || 0;
  return { data: await response.json(), index };
}

/** A write (POST, PUT, DELETE) with an optional JSON body; answers the JSON reply. */
export async function send(method, path, body, signal) {
  const init = { method, signal, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await check(await fetch(path, init));
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });

/**
 * Watches `path` with Nomad blocking queries until `signal` aborts: the first read
 * answers at once, each next one waits (`?index=<last X-Nomad-Index>&wait=`) until what
 * it reads changes. `onUpdate(data, index)` runs after every answer, a change or the
 * wait running out, so a view can also refresh what it reads alongside. A view keeps
 * one such watch: browsers allow six connections per host, and the log stream needs one.
 * Errors go to `onError` and the watch retries with a growing delay.
 */
export async function watch(path, signal, onUpdate, { wait = '30s', onError } = {}) {
  let index = 0;
  let delay = 500;
  const sep = path.includes('?') ? '&' : '?';
  while (!signal.aborted) {
    try {
      const url = index > 0 ? `${path}${sep}index=${index}&wait=${wait}` : path;
      const { data, index: next } = await getIndexed(url, signal);
      if (signal.aborted) return;
      // An index that went back means a restarted agent: start over from its state.
      index = next < index ? 0 : next;
      delay = 500;
      await onUpdate(data, next);
      onError?.(null);
    } catch (error) {
      if (signal.aborted) return;
      onError?.(error);
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 10000);
    }
  }
}

/**
 * Streams a task's log (`/v1/client/fs/logs`, plain text) into `onText` chunk by chunk
 * until the stream ends or `signal` aborts. With `follow` the agent keeps the answer
 * open and sends what the task writes next. Starts at most `tail` bytes before the end.
 */
export async function streamLogs(allocId, task, type, { follow, tail = 65536, signal, onText }) {
  const query = new URLSearchParams({
    task, type, plain: 'true', follow: String(Boolean(follow)), origin: 'end', offset: String(tail),
  });
  const response = await check(
    await fetch(`/v1/client/fs/logs/${encodeURIComponent(allocId)}?${query}`, { signal, headers: headers() }),
  );
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onText(decoder.decode(value, { stream: true }));
    }
    onText(decoder.decode());
  } finally {
    reader.releaseLock();
  }
}

/**
 * Restarts an allocation's tasks in place (`POST /v1/client/allocation/<id>/restart`):
 * `task` alone, or every running task, or with `allTasks` every task. The agent
 * forwards the call to the client that runs the allocation.
 */
export function restartAllocation(allocId, { task = '', allTasks = false } = {}, signal) {
  return send('POST', `/v1/client/allocation/${encodeURIComponent(allocId)}/restart`, { TaskName: task, AllTasks: allTasks }, signal);
}

/** `/v1/job/<id>` and friends: job IDs may hold any character. */
export const jobPath = (id, rest = '') => `/v1/job/${encodeURIComponent(id)}${rest}`;
