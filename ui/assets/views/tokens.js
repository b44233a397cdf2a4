// /ui/settings/tokens: the ACL token the UI sends. The secret is kept in local storage
// (Nomad's key, `nomadTokenSecret`); setting it checks it against /v1/acl/token/self
// and shows whose it is. `?next=` is where to go back to once a token is set.

import { h, replace, errorBox } from '../dom.js';
import { get, storedToken, storeToken } from '../api.js';
import { setTitle } from '../app.js';

export function render({ main, query, signal, navigate }) {
  setTitle('ACL Tokens');
  const status = h('div', { 'aria-live': 'polite' });
  const input = h('input', {
    id: 'token-secret', type: 'password', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Secret ID', 'aria-label': 'Secret ID', value: storedToken(),
  });
  const next = query.get('next');

  async function show() {
    if (!storedToken()) {
      replace(status, h('p', { class: 'muted' }, 'No token is set: requests are anonymous.'));
      return;
    }
    try {
      const token = await get('/v1/acl/token/self', signal);
      const policies = token.Type === 'management' ? 'all (management token)' : (token.Policies || []).join(', ') || 'none';
      replace(status, h('div', { class: 'token-info' },
        h('p', {}, 'Signed in as ', h('strong', { id: 'token-name' }, token.Name || token.AccessorID), '.'),
        h('p', { class: 'muted' }, `Type: ${token.Type}. Policies: ${policies}.`)));
    } catch (error) {
      if (!signal.aborted) replace(status, errorBox(error));
    }
  }

  const form = h('form', {
    class: 'token-form',
    onsubmit: async (event) => {
      event.preventDefault();
      storeToken(input.value.trim());
      await show();
      if (next && storedToken() && !status.querySelector('.error-box')) navigate(next);
    },
  },
  h('label', { for: 'token-secret' }, 'Secret ID'),
  input,
  h('button', { type: 'submit', class: 'button primary', id: 'set-token' }, 'Set Token'),
  h('button', {
    type: 'button', class: 'button', id: 'clear-token',
    onclick: () => { storeToken(''); input.value = ''; show(); },
  }, 'Clear Token'));

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'ACL Tokens')),
    h('p', {}, 'With ACLs on, the agent answers only requests that carry a token allowed to make them. ',
      'Paste the Secret ID of your token; it stays in this browser.'),
    form, status);
  show();
}
