/**
 * The web dashboard end to end: a real `skiff server` running real runc tasks,
 * Debian's Chromium driven by playwright-core, the service created through
 * @aws-sdk/client-ecs. Logs in through the page; sees a new service appear and
 * reach running/healthy without a reload; follows a task's logs live; sees the
 * cold-start waterfall, CPU and memory charts and the cost page; checks that
 * unauthenticated access is refused and that the key's policy decides what the
 * dashboard shows; and checks screenshots of the main pages (decoded here:
 * not blank, the top bar where it belongs, every expected region with content).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CreateServiceCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { describeTask, ipOf } from './support/tasks.ts';

let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let shots: string;
let taskId = '';

const ENV = { SKIFF_SERVICE_INTERVAL_MS: '200', SKIFF_STATS_INTERVAL_MS: '500' };
const VIEWPORT = { width: 1280, height: 900 };

before(async () => {
  shots = mkdtempSync(join(tmpdir(), 'skiff-dashboard-shots-'));
  registry = await startRegistry({ auth: 'none' });
  const image = await pushBusyboxImage(registry, 'test/busybox:dash');
  server = new TestServer({ env: ENV });
  await server.start();
  ecs = server.ecs();
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        {
          name: 'app',
          image,
          stopTimeout: 2,
          // A line every 300 ms, and a little CPU work so the chart has something to draw.
          command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; j=0; while [ $j -lt 300 ]; do j=$((j+1)); done; sleep 0.3; done'],
          healthCheck: { command: ['CMD-SHELL', 'true'], interval: 5, retries: 1 },
        },
      ],
    }),
  );
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: VIEWPORT });
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.destroy();
  await registry?.stop();
  if (!process.env.SKIFF_KEEP_SCREENSHOTS) rmSync(shots, { recursive: true, force: true });
  else console.error(`screenshots kept in ${shots}`);
});

const url = (path: string) => server.endpoint + path;

/** GET `path` exactly as written (fetch would normalise dot segments). */
function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Logs in with `key` through the API (not the page); returns the cookie header to send. */
async function loginCookie(key: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  const res = await fetch(url('/dashboard/api/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(key) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.headers.get('set-cookie')!.split(';')[0];
}

test('without a session: pages redirect to the login page, data routes answer 401, logins are checked', async () => {
  for (const page of ['/dashboard/', '/dashboard/services?cluster=default', '/dashboard/tasks/abc', '/dashboard/cost']) {
    const res = await fetch(url(page), { redirect: 'manual' });
    assert.equal(res.status, 302, page);
    assert.equal(res.headers.get('location'), `/dashboard/login?next=${encodeURIComponent(page)}`);
  }
  for (const data of ['/dashboard/api/clusters', '/dashboard/api/services', '/dashboard/api/tasks', '/dashboard/api/tasks/abc/logs', '/dashboard/api/cost', '/dashboard/api/session']) {
    const res = await fetch(url(data));
    assert.equal(res.status, 401, data);
    assert.equal(((await res.json()) as { type: string }).type, 'Unauthenticated');
  }
  // A made-up cookie is no session.
  const forged = await fetch(url('/dashboard/api/clusters'), { headers: { cookie: `skiff_session=${'A'.repeat(43)}` } });
  assert.equal(forged.status, 401);
  // The login page and its assets need no session; nothing is fetched from elsewhere (CSP).
  const login = await fetch(url('/dashboard/login'));
  assert.equal(login.status, 200);
  assert.match(login.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
  assert.equal((await fetch(url('/dashboard/static/app.js'))).status, 200);
  assert.equal((await fetch(url('/dashboard/static/..%2f..%2fskiff.db'))).status, 404);
  // A path that only starts like the dashboard's reaches no API route without a signature.
  for (const path of ['/dashboard/../skiff/v1/keys', '/dashboard/%2e%2e/skiff/v1/audit']) assert.equal(await rawStatus(path), 404, path);

  const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(url('/dashboard/api/login'), { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const wrong = await post({ accessKeyId: TEST_ROOT_KEY.accessKeyId, secretAccessKey: 'not-the-secret' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const unknown = await post({ accessKeyId: 'AKIANOSUCHKEY', secretAccessKey: 'whatever-secret' });
  assert.equal(((await unknown.json()) as { message: string }).message, ((await wrong.json()) as { message: string }).message, 'same answer: no way to tell which keys exist');
  assert.equal((await post('accessKeyId=x&secretAccessKey=y', { 'content-type': 'application/x-www-form-urlencoded' })).status, 403, 'a cross-site form post is refused');
  assert.equal((await post(TEST_ROOT_KEY, { 'content-type': 'application/json', origin: 'http://evil.example' })).status, 403);
  assert.equal((await post({ accessKeyId: 'x' })).status, 400);

  const ok = await post(TEST_ROOT_KEY);
  assert.equal(ok.status, 200);
  const cookie = ok.headers.get('set-cookie')!;
  assert.match(cookie, /^skiff_session=[A-Za-z0-9_-]{43}; Path=\/dashboard; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  assert.ok(!JSON.stringify(await ok.json()).includes(TEST_ROOT_KEY.secretAccessKey), 'the answer carries no secret');
  const session = cookie.split(';')[0];
  assert.equal((await fetch(url('/dashboard/api/clusters'), { headers: { cookie: session } })).status, 200);
  // The session cookie is not an API credential: Skiff's own endpoints still want SigV4.
  assert.equal((await fetch(url('/skiff/v1/costs'), { headers: { cookie: session } })).status, 403);
  // Logout ends it.
  assert.equal((await fetch(url('/dashboard/api/logout'), { method: 'POST', headers: { cookie: session, 'content-type': 'application/json' }, body: '{}' })).status, 200);
  assert.equal((await fetch(url('/dashboard/api/clusters'), { headers: { cookie: session } })).status, 401);
});

test("the key's policy decides what the dashboard shows, calls are audited as that key, a revoked key ends its session", async () => {
  const policy = {
    Statement: [
      { Effect: 'Allow', Action: ['ecs:Describe*', 'ecs:List*', 'skiff:Get*'], Resource: '*' },
      { Effect: 'Deny', Action: ['skiff:GetCosts'], Resource: '*' },
    ],
  };
  const created = await server.fetch('/skiff/v1/keys', { method: 'POST', body: JSON.stringify({ name: 'viewer-no-cost', policy }) });
  assert.equal(created.status, 200, await created.clone().text());
  const { accessKey } = (await created.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } };
  const cookie = await loginCookie(accessKey);
  const get = (p: string) => fetch(url(p), { headers: { cookie } });

  assert.equal((await get('/dashboard/api/clusters')).status, 200);
  const cost = (await (await get('/dashboard/api/cost')).json()) as { byService: { error?: { type: string; message: string } }; rightsize: { data?: unknown } };
  assert.equal(cost.byService.error?.type, 'AccessDeniedException');
  assert.match(cost.byService.error!.message, /user\/viewer-no-cost is not authorized to perform: skiff:GetCosts/);
  assert.ok(cost.rightsize.data, 'rightsize (skiff:GetRightsize) is allowed');

  const audit = (await (await server.fetch(`/skiff/v1/audit?accessKeyId=${accessKey.accessKeyId}&limit=100`)).json()) as { events: { action: string; outcome: string }[] };
  const actions = new Set(audit.events.map((e) => `${e.action} ${e.outcome}`));
  for (const a of ['skiff:DashboardLogin Success', 'ecs:ListClusters Success', 'ecs:DescribeClusters Success', 'skiff:GetCosts AccessDeniedException']) assert.ok(actions.has(a), `audit has ${a}: ${[...actions].join(', ')}`);

  assert.equal((await server.fetch(`/skiff/v1/keys/${accessKey.accessKeyId}`, { method: 'DELETE' })).status, 200);
  const after = await get('/dashboard/api/clusters');
  assert.equal(after.status, 401, 'the next call after the revocation is refused');
  assert.equal((await get('/dashboard/api/clusters')).status, 401, 'and the session is gone');
});

/** A marker the page keeps until it is reloaded: proves an update arrived without a reload. */
async function markNoReload(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
}
async function assertNoReload(page: Page): Promise<void> {
  assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, 'the page was not reloaded');
}

test('log in through the page; a new service appears and reaches running and healthy live', async () => {
  const page = await context!.newPage();
  await page.goto(url('/dashboard/services?cluster=default'));
  assert.match(page.url(), /\/dashboard\/login\?next=%2Fdashboard%2Fservices%3Fcluster%3Ddefault$/);
  await page.fill('#accessKeyId', TEST_ROOT_KEY.accessKeyId);
  await page.fill('#secretAccessKey', 'wrong-secret');
  await page.click('button[type=submit]');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error') ?? '', /not valid/);
  await page.fill('#secretAccessKey', TEST_ROOT_KEY.secretAccessKey);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/dashboard\/services\?cluster=default$/);
  await page.waitForSelector('[data-region=services]');
  assert.match(await page.textContent('[data-region=services]') ?? '', /No services/);
  // Nothing the page can reach holds the secret: not the URL, not storage, not a readable cookie.
  const exposed = await page.evaluate(() => [location.href, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }), document.cookie].join(' '));
  assert.ok(!exposed.includes(TEST_ROOT_KEY.secretAccessKey) && !exposed.includes('skiff_session'), exposed);

  const tasksPage = await context!.newPage();
  await tasksPage.goto(url('/dashboard/tasks?cluster=default&service=web'));
  await tasksPage.waitForSelector('[data-region=tasks]');
  await markNoReload(page);
  await markNoReload(tasksPage);

  await ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'web', desiredCount: 1 }));

  const card = page.locator('[data-service=web]');
  await card.waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('[data-service=web] [data-count=running]')?.textContent === '1', null, { timeout: 30_000 });
  assert.equal(await card.locator('[data-count=desired]').textContent(), '1');
  await page.waitForFunction(() => /has reached a steady state/.test(document.querySelector('[data-service=web] [data-region=events]')?.textContent ?? ''), null, { timeout: 30_000 });
  await assertNoReload(page);

  await tasksPage.waitForFunction(
    () => {
      const row = document.querySelector('[data-region=tasks] tbody tr');
      const states = [...(row?.querySelectorAll('[data-status]') ?? [])].map((e) => e.getAttribute('data-status'));
      return states.includes('RUNNING') && states.includes('HEALTHY');
    },
    null,
    { timeout: 30_000 },
  );
  await assertNoReload(tasksPage);
  taskId = (await tasksPage.getAttribute('[data-region=tasks] tbody tr [data-task]', 'data-task'))!;
  assert.match(taskId, /^[0-9a-f]{32}$/);
  const task = await describeTask(ecs, taskId);
  const cells = await tasksPage.locator('[data-region=tasks] tbody tr').first().locator('td').allTextContents();
  // Task, Family, State, Desired, Health, IP, Size, Capacity, Started, Group
  assert.deepEqual(cells.slice(1, 8), ['web:1', 'RUNNING', 'RUNNING', 'HEALTHY', ipOf(task), '0.25 vCPU / 0.5 GB', task.capacityProviderName]);
  assert.equal(cells[9], 'service:web');
  await checkScreenshot(page, 'services', ['services']);
  await checkScreenshot(tasksPage, 'tasks', ['tasks']);
  await tasksPage.close();
  await page.close();
});

test("a task's page: logs arrive live, the cold-start waterfall and the CPU and memory charts are drawn", async () => {
  assert.ok(taskId, 'the previous test found the service task');
  const page = await context!.newPage();
  await page.goto(url('/dashboard/tasks?cluster=default&service=web'));
  await page.click(`[data-task="${taskId}"] a`);
  await page.waitForURL(new RegExp(`/dashboard/tasks/${taskId}`));
  await page.waitForSelector('[data-region=logs] [data-line]');
  await markNoReload(page);
  const count = () => page.locator('[data-region=logs] [data-line]').count();
  const first = await count();
  await page.waitForFunction((n) => document.querySelectorAll('[data-region=logs] [data-line]').length >= n + 3, first, { timeout: 20_000 });
  await assertNoReload(page);
  const lines = await page.locator('[data-region=logs] [data-line]').allTextContents();
  assert.match(lines[0], /app tick 1$/);
  // Lines in order, none twice (the page asks only for what it has not shown).
  const ticks = lines.map((l) => Number(/tick (\d+)$/.exec(l)?.[1]));
  assert.deepEqual(ticks, ticks.map((_, i) => i + 1));
  assert.ok((await count()) > first);

  const phases = await page.locator('[data-chart=waterfall] rect[data-phase]').evaluateAll((els) => els.map((e) => e.getAttribute('data-phase')));
  for (const p of ['image-pull', 'container-create']) assert.ok(phases.some((x) => x?.startsWith(p)), `waterfall has ${p}: ${phases.join(', ')}`);
  assert.match((await page.textContent('[data-region=waterfall]')) ?? '', /created → started in [\d.]+ ms/);

  // Samples every 500 ms: wait for at least 3 CPU points (the first sample has no rate).
  await page.waitForFunction(() => document.querySelectorAll('[data-chart=cpu] circle').length >= 3, null, { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-chart=memory] circle').length >= 3, null, { timeout: 20_000 });
  for (const chart of ['cpu', 'memory']) {
    const d = await page.getAttribute(`[data-chart=${chart}] path[data-series=${chart}]`, 'd');
    assert.match(d ?? '', /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){2,}/, `${chart} line drawn`);
  }
  assert.match((await page.textContent('[data-region=task]')) ?? '', /0\.25 vCPU, 512 MiB/);
  await checkScreenshot(page, 'task', ['task', 'waterfall', 'cpu', 'memory', 'logs']);
  await page.close();
});

test('the cost page shows figures by service and day and right-sizing advice', async () => {
  const page = await context!.newPage();
  await page.goto(url('/dashboard/cost'));
  await page.waitForSelector('[data-region=cost-by-service] table');
  const total = (await page.textContent('[data-stat=total] .value')) ?? '';
  assert.match(total, /^\$\d+\.\d+$/);
  assert.ok(Number(total.slice(1)) > 0, `a running task costs something: ${total}`);
  assert.match((await page.textContent('[data-stat=spot] .value')) ?? '', /^\$\d/);
  assert.match((await page.textContent('[data-stat=projected] .value')) ?? '', /^\$\d/);
  const byService = (await page.textContent('[data-region=cost-by-service] tbody')) ?? '';
  assert.match(byService, /web\$\d/);
  const today = new Date().toISOString().slice(5, 10);
  assert.ok(await page.locator(`[data-chart=cost-by-day] rect[data-bar="${today}"]`).count(), 'a bar for today');
  assert.match((await page.textContent('[data-region=service-by-day]')) ?? '', /web/);
  await page.waitForSelector('[data-region=rightsize] table');
  assert.match((await page.textContent('[data-region=rightsize] tbody')) ?? '', /^web/);
  await checkScreenshot(page, 'cost', ['cost-summary', 'cost-by-day', 'cost-by-service', 'service-by-day', 'rightsize']);
  // The clusters page too, and logout from the page.
  await page.goto(url('/dashboard/'));
  await page.waitForSelector('[data-region=clusters] tbody tr');
  assert.match((await page.textContent('[data-region=clusters] tbody')) ?? '', /default.*ACTIVE/);
  await checkScreenshot(page, 'clusters', ['clusters']);
  await page.click('#logout');
  await page.waitForURL(/\/dashboard\/login$/);
  await page.goto(url('/dashboard/cost'));
  assert.match(page.url(), /\/dashboard\/login\?next=/);
  await page.close();
});

// ---- screenshots -------------------------------------------------------------------

/**
 * Takes a full-page screenshot and checks it, decoded: the viewport's width,
 * at least its height; not blank (more than 50 colours, at least 5% of pixels differ
 * from the most common colour); the dark top bar at the
 * top; and every `regions` element visible with content inside its box
 * (at least 2% of its pixels differ from its own most common colour).
 * Pixel-exact comparison with a stored image is not used: fonts, times and
 * figures change from run to run.
 */
async function checkScreenshot(page: Page, name: string, regions: string[]): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.loaded === 'true');
  const file = join(shots, `${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  const img = decodePng(readFileSync(file));
  assert.equal(img.width, VIEWPORT.width);
  assert.ok(img.height >= VIEWPORT.height, `${name}: the whole page (${img.height} px high)`);
  const whole = contentOf(img, { x: 0, y: 0, width: img.width, height: img.height });
  assert.ok(whole.colours > 50, `${name}: ${whole.colours} colours — looks blank`);
  assert.ok(whole.nonBackground > 0.05, `${name}: only ${(whole.nonBackground * 100).toFixed(1)}% of pixels differ from the background`);
  const [r, g, b] = img.pixel(5, 5);
  assert.ok(r < 60 && g < 60 && b < 70, `${name}: the top bar is dark (got ${r},${g},${b})`);
  for (const region of regions) {
    const box = await page.locator(`[data-region="${region}"]`).first().boundingBox();
    assert.ok(box && box.width > 20 && box.height > 20, `${name}: region ${region} is laid out`);
    const clipped = { x: Math.max(0, box.x), y: Math.max(0, box.y), width: Math.min(box.width, img.width - box.x), height: Math.min(box.height, img.height - box.y) };
    assert.ok(clipped.width > 20 && clipped.height > 20, `${name}: region ${region} is inside the screenshot`);
    const c = contentOf(img, clipped);
    assert.ok(c.nonBackground > 0.02, `${name}: region ${region} has content (${(c.nonBackground * 100).toFixed(1)}% non-background)`);
  }
}

interface Image {
  width: number;
  height: number;
  pixel(x: number, y: number): [number, number, number];
}

function contentOf(img: Image, box: { x: number; y: number; width: number; height: number }): { colours: number; nonBackground: number } {
  const counts = new Map<number, number>();
  let n = 0;
  for (let y = Math.floor(box.y); y < Math.floor(box.y + box.height); y++) {
    for (let x = Math.floor(box.x); x < Math.floor(box.x + box.width); x++) {
      const [r, g, b] = img.pixel(x, y);
      const k = (r << 16) | (g << 8) | b;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      n++;
    }
  }
  const top = Math.max(...counts.values());
  return { colours: counts.size, nonBackground: n ? 1 - top / n : 0 };
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
function decodePng(buf: Buffer): Image {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG file');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.ok(data[9] === 2 || data[9] === 6, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + i] = v & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [out[y * stride + x * channels], out[y * stride + x * channels + 1], out[y * stride + x * channels + 2]] };
}


test('the screenshot check tells a blank page from a drawn one', async () => {
  const page = await context!.newPage();
  await page.setContent('<html><body style="background:#f6f7f9"></body></html>');
  const blank = decodePng(await page.screenshot());
  const c = contentOf(blank, { x: 0, y: 0, width: blank.width, height: blank.height });
  assert.equal(c.colours, 1);
  assert.equal(c.nonBackground, 0);
  await page.close();
});
