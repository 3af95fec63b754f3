// The dashboard shell: picks the page for the URL, refreshes it every few
// seconds while it is visible (polling the dashboard's JSON routes, no
// reloads), and handles logout and an ended session.
import { PAGES } from './pages.js';

const REFRESH_MS = 2000;

/** GET a dashboard JSON route; a 401 (no or ended session) goes to the login page. */
export async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (res.status === 401) {
    location.assign(`/dashboard/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw Object.assign(new Error('Your session ended; log in again.'), { type: 'Unauthenticated' });
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { type: body.type ?? `HTTP${res.status}` });
  return body;
}

function pick(pathname) {
  const path = pathname.replace(/^\/dashboard/, '') || '/';
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return { page: PAGES.task, params: { taskId: decodeURIComponent(task[1]) } };
  if (path === '/services') return { page: PAGES.services, params: {} };
  if (path === '/tasks') return { page: PAGES.tasks, params: {} };
  if (path === '/cost') return { page: PAGES.cost, params: {} };
  return { page: PAGES.clusters, params: {} };
}

async function main() {
  const { page, params } = pick(location.pathname);
  const query = Object.fromEntries(new URLSearchParams(location.search));
  document.querySelector(`[data-nav="${page.nav}"]`)?.classList.add('active');
  const title = document.getElementById('title');
  title.textContent = page.title(params, query);
  document.title = `${title.textContent} · Skiff`;

  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/dashboard/api/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    location.assign('/dashboard/login');
  });
  api('/dashboard/api/session').then((s) => (document.getElementById('who').textContent = s.name), () => {});

  const root = document.getElementById('page');
  const error = document.getElementById('error');
  const updated = document.getElementById('updated');
  const refresh = page.mount(root, { ...params, query, api });
  const tick = async () => {
    // A tab in the background asks for nothing (each refresh is a few audited API calls); it catches up when shown.
    if (document.hidden) {
      document.addEventListener('visibilitychange', tick, { once: true });
      return;
    }
    try {
      await refresh();
      error.hidden = true;
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.loaded = 'true';
    } catch (e) {
      error.textContent = `${e.type ?? 'Error'}: ${e.message}`;
      error.hidden = false;
    }
    setTimeout(tick, page.refreshMs ?? REFRESH_MS);
  };
  tick();
}

main();
