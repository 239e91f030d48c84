// The console's entry: sign-in with the super-admin token, the hash routes (#/ every tenant,
// #/tenant/<id> one tenant), a refresh every few seconds while the tab is visible, and notices.

import { ApiError, callOptional, forgetToken, storedToken, storeToken } from './api.js';
import { TenantActions } from './actions.js';
import { el } from './dom.js';
import { MoveTracker } from './moves.js';
import { Overview } from './overview.js';
import { TenantPage } from './tenant-page.js';

const REFRESH_MS = 5000;
const NOTICE_MS = 8000;
/** The tenant id rule of the API (TENANT_ID_PATTERN). */
const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

const $ = (id) => document.getElementById(id);
const status = $('status');
const view = $('view');
const notices = el('ul', { class: 'notices', 'aria-live': 'polite' });
document.body.append(notices);

let current = null;
let timer = null;
let refreshing = null;

const ctx = {
  currency: undefined,
  refreshNow: () => refresh(),
  /** An endpoint the service may not have: null on 404, and on any other failure but a refused token. */
  optional: (path) =>
    callOptional(path).catch((err) => {
      if (err instanceof ApiError && err.refused) throw err;
      ctx.problems.push(err.message);
      return null;
    }),
  problems: [],
};
ctx.moves = new MoveTracker(
  (entry) => {
    current?.render();
    if (!entry?.done) return;
    notify(
      entry.ok ? `Moved ${entry.id} to the ${entry.to} model.` : `The move of ${entry.id} failed: ${entry.error}`,
      entry.ok ? 'info' : 'error',
    );
    void refresh();
  },
  (err) => signOut(err),
);
ctx.actions = new TenantActions({
  notify,
  changed: () => refresh(),
  moves: ctx.moves,
  failed: (err) => (err instanceof ApiError && err.refused ? signOut(err) : notify(err.message, 'error')),
});

/** A short message at the bottom right; errors stay until dismissed. */
function notify(text, kind = 'info') {
  const item = el('li', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  item.append(el('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', on: { click: () => item.remove() } }, '×'));
  notices.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), NOTICE_MS);
  while (notices.children.length > 5) notices.firstChild.remove();
}

function showSignIn(message = '') {
  clearTimeout(timer);
  current = null;
  view.hidden = true;
  view.replaceChildren();
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  status.textContent = '';
  $('token').focus();
}

/** A refused token (401, 403): forget it and ask for another, saying why. */
function signOut(err) {
  forgetToken();
  const why =
    err?.status === 403
      ? `The admin API refused this token (${err.message}). Sign in with a token that carries the super_admin role.`
      : err
        ? `The admin API refused this token (${err.message}). It may have expired: sign in with a new one.`
        : '';
  showSignIn(why);
}

/** The view the hash names: the tenant table, or one tenant's page. */
function route() {
  const match = /^#\/tenant\/(.+)$/.exec(location.hash);
  let id = null;
  if (match) {
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      id = '';
    }
  }
  if (match && !TENANT_ID.test(id)) {
    current = null;
    view.replaceChildren(
      el('p', { class: 'error' }, 'That is not a tenant id: ids are 1 to 40 characters of a-z, 0-9 and "-".'),
      el('a', { href: '#/' }, '← All tenants'),
    );
    return;
  }
  current = id ? new TenantPage(ctx, id) : new Overview(ctx);
  view.replaceChildren(current.element);
  void refresh();
}

/** Fetches the current view's figures again (one refresh at a time), then schedules the next. */
function refresh() {
  clearTimeout(timer);
  if (!storedToken() || !current || document.hidden) return Promise.resolve();
  if (refreshing) return refreshing;
  const page = current;
  ctx.problems = [];
  refreshing = page
    .refresh()
    .then(
      () => {
        const time = new Date().toLocaleTimeString('en-GB');
        status.textContent = ctx.problems.length ? `Updated ${time}; some figures are missing: ${ctx.problems[0]}` : `Updated ${time}`;
        status.className = ctx.problems.length ? 'status warn' : 'status';
      },
      (err) => {
        if (err instanceof ApiError && err.refused) return signOut(err);
        if (err instanceof ApiError && err.status === 404 && page instanceof TenantPage) {
          view.replaceChildren(el('p', { class: 'error' }, err.message), el('a', { href: '#/' }, '← All tenants'));
          current = null;
          return;
        }
        status.textContent = `Not updated: ${err.message}`;
        status.className = 'status warn';
      },
    )
    .finally(() => {
      refreshing = null;
      if (current && storedToken()) timer = setTimeout(() => void refresh(), REFRESH_MS);
    });
  return refreshing;
}

function start() {
  $('sign-in').hidden = true;
  view.hidden = false;
  $('sign-out').hidden = false;
  route();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token')
    .value.trim()
    .replace(/^Bearer\s+/i, '');
  $('token').value = '';
  if (!token) return;
  storeToken(token);
  start();
});
$('sign-out').addEventListener('click', () => {
  forgetToken();
  showSignIn('Signed out: the token is gone from this tab.');
});
window.addEventListener('hashchange', () => storedToken() && route());
document.addEventListener('visibilitychange', () => {
  if (document.hidden) clearTimeout(timer);
  else void refresh();
});

if (storedToken()) start();
else showSignIn();
