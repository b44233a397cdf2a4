// The router: Nomad's UI addresses (/ui/jobs, /ui/jobs/<job>, /ui/allocations/<id>,
// /ui/clients, /ui/servers, /ui/evaluations, /ui/jobs/run) to views. One view is shown
// at a time; changing view aborts everything the old one had in flight.

import { h, replace, errorBox } from './dom.js';
import { get } from './api.js';
import { mountSearch } from './search.js';

const main = document.getElementById('main');
let current = null;

/** Each route: a pattern over the path after /ui/, the nav section, and the view module. */
const routes = [
  { re: /^jobs\/?$/, section: 'jobs', load: () => import('./views/jobs.js') },
  { re: /^jobs\/run\/?$/, section: 'jobs', load: () => import('./views/run.js') },
  // /ui/jobs/<job>, /ui/jobs/<job>@<namespace>, and its tabs (/definition, /versions, …).
  { re: /^jobs\/([^/]+)(?:\/([a-z-]+))?\/?$/, section: 'jobs', load: () => import('./views/job.js'), names: ['job', 'tab'] },
  { re: /^allocations\/([^/]+)\/?$/, section: 'jobs', load: () => import('./views/allocation.js'), names: ['id'] },
  { re: /^clients\/?$/, section: 'clients', load: () => import('./views/clients.js') },
  { re: /^clients\/([^/]+)\/?$/, section: 'clients', load: () => import('./views/client.js'), names: ['id'] },
  { re: /^servers(?:\/[^/]+)?\/?$/, section: 'servers', load: () => import('./views/servers.js') },
  { re: /^evaluations\/?$/, section: 'evaluations', load: () => import('./views/evaluations.js') },
  { re: /^settings\/tokens\/?$/, section: 'tokens', load: () => import('./views/tokens.js') },
];

function match(pathname) {
  const rest = pathname.replace(/^\/ui\/?/, '');
  if (rest === '') return { redirect: '/ui/jobs' };
  for (const route of routes) {
    const m = rest.match(route.re);
    if (m) {
      const params = {};
      (route.names || []).forEach((name, i) => {
        params[name] = m[i + 1] === undefined ? undefined : decodeURIComponent(m[i + 1]);
      });
      return { route, params };
    }
  }
  return null;
}

/** Sets the page title: what is shown, then Caravan. */
export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), 'Caravan'].join(' · ');
}

/** Goes to a UI address as a click on a link would. */
export function navigate(href, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render();
}

async function render() {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const found = match(location.pathname);
  if (found?.redirect) {
    history.replaceState(null, '', found.redirect + location.search);
    return render();
  }
  for (const a of document.querySelectorAll('.topbar nav a')) {
    if (found && a.dataset.section === found.route.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) {
    setTitle('Not found');
    replace(main, h('h1', {}, 'Page not found'),
      h('p', {}, 'Nothing lives at ', h('code', {}, location.pathname), '. ', h('a', { href: '/ui/jobs' }, 'Go to the jobs list'), '.'));
    return;
  }
  try {
    const view = await found.route.load();
    if (controller.signal.aborted) return;
    const query = new URLSearchParams(location.search);
    replace(main);
    view.render({ main, params: found.params, query, signal: controller.signal, navigate });
  } catch (error) {
    if (!controller.signal.aborted) replace(main, errorBox(error));
  }
}

// Links inside the UI change the view without reloading the page; everything else
// (new tab, modified clicks, downloads, other origins) is left to the browser.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui')) return;
  if (url.hash && url.pathname === location.pathname) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search);
  // Moving to a new view moves focus to it, as a page load would for a screen reader.
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener('popstate', render);

// A 403 (no token, an unknown or expired one, or one without the capability): say so
// once at the top of the page, with a way to the token page, as Nomad's UI does.
window.addEventListener('caravan:forbidden', (event) => {
  if (location.pathname.startsWith('/ui/settings/tokens')) return;
  if (document.getElementById('token-prompt')) return;
  const next = encodeURIComponent(location.pathname + location.search);
  const prompt = h('div', { id: 'token-prompt', class: 'error-box', role: 'alert' },
    `Not authorized: ${event.detail || 'Permission denied'}. `,
    h('a', { href: `/ui/settings/tokens?next=${next}` }, 'Sign in with an ACL token'),
    ' to see this page.');
  main.prepend(prompt);
});

mountSearch(document.getElementById('search-box'));

// The agent this UI talks to, in the top bar.
get('/v1/agent/self').then((self) => {
  const config = self.config || self.Config || {};
  const member = self.member || self.Member || {};
  const name = config.NodeName || member.Name || '';
  const region = config.Region || member.Tags?.region || '';
  const version = config.Version?.Version || '';
  const el = document.getElementById('agent-info');
  if (el) el.textContent = [name, region && `region ${region}`, version && `v${version}`].filter(Boolean).join(' · ');
}).catch(() => {});

render();
