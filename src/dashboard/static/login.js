// The login page: sends the key to the server once (a JSON POST, never in a URL);
// the server answers with an HttpOnly session cookie this script cannot read.
const form = document.getElementById('login');
const error = document.getElementById('error');

/** Only a dashboard path on this origin (the server checks the same rule). */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/dashboard/';
  return /^\/dashboard(\/[A-Za-z0-9._~\-/]*)?(\?[A-Za-z0-9._~\-=&%:]*)?$/.test(next) && !next.includes('//') ? next : '/dashboard/';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = JSON.stringify({ accessKeyId: form.accessKeyId.value.trim(), secretAccessKey: form.secretAccessKey.value });
  form.secretAccessKey.value = '';
  try {
    const res = await fetch('/dashboard/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (res.ok) {
      location.assign(nextPath());
      return;
    }
    const problem = await res.json().catch(() => ({}));
    error.textContent = problem.message || `Login failed (HTTP ${res.status}).`;
  } catch (e) {
    error.textContent = `Cannot reach Skiff: ${e.message}`;
  }
  error.hidden = false;
});
