// The dashboard's pages. Each has a title, the nav entry it belongs to, and
// mount(root, ctx) → refresh(): mount draws the page's frame once, refresh
// fetches fresh data and redraws the parts that change (the shell calls it
// every few seconds).
import { h, table, badge, fmtTime, fmtDateTime, usd, sectionError } from './dom.js';
import { lineChart, waterfallChart, barChart } from './charts.js';

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString();
const link = (path, params, text) => h('a', { href: `/dashboard${path}${Object.keys(params).length ? `?${q(params)}` : ''}` }, text);
const empty = (text) => h('div', { class: 'empty' }, text);
/** The drawing width inside a card (its padding and border taken off), so chart text stays at its natural size. */
const innerWidth = (card) => Math.max(320, card.clientWidth - 34);

const clusters = {
  nav: 'clusters',
  title: () => 'Clusters',
  mount(root, { api }) {
    return async () => {
      const { clusters } = await api('/dashboard/api/clusters');
      root.replaceChildren(
        h(
          'div',
          { class: 'card', 'data-region': 'clusters' },
          clusters.length === 0
            ? empty('No clusters.')
            : table(
                [{ label: 'Cluster' }, { label: 'Status' }, { label: 'Services', num: true }, { label: 'Running tasks', num: true }, { label: 'Pending tasks', num: true }, { label: 'Capacity providers' }, { label: '' }],
                clusters.map((c) => [
                  link('/services', { cluster: c.name }, c.name),
                  badge(c.status),
                  String(c.activeServices),
                  String(c.runningTasks),
                  String(c.pendingTasks),
                  c.capacityProviders.join(', '),
                  link('/tasks', { cluster: c.name }, 'tasks →'),
                ]),
              ),
        ),
      );
    };
  },
};

const services = {
  nav: 'services',
  title: (_p, query) => `Services · ${query.cluster || 'default'}`,
  mount(root, { api, query }) {
    const cluster = query.cluster || 'default';
    return async () => {
      const { services } = await api(`/dashboard/api/services?${q({ cluster })}`);
      root.replaceChildren(
        h(
          'div',
          { 'data-region': 'services' },
          services.length === 0 ? h('div', { class: 'card' }, empty(`No services in cluster ${cluster}.`)) : services.map((s) => serviceCard(cluster, s)),
        ),
      );
    };
  },
};

function serviceCard(cluster, s) {
  return h(
    'div',
    { class: 'card', 'data-service': s.name },
    h(
      'div',
      { class: 'service-head' },
      h('h2', {}, s.name),
      badge(s.status),
      h(
        'span',
        { class: 'counts' },
        h('span', {}, 'desired ', h('b', { 'data-count': 'desired' }, String(s.desired))),
        h('span', {}, 'running ', h('b', { 'data-count': 'running' }, String(s.running))),
        h('span', {}, 'pending ', h('b', { 'data-count': 'pending' }, String(s.pending))),
      ),
      h('span', { class: 'muted' }, s.taskDefinition, ' · ', s.capacity),
      link('/tasks', { cluster, service: s.name }, 'tasks →'),
    ),
    table(
      [{ label: 'Deployment' }, { label: 'Status' }, { label: 'Rollout' }, { label: 'Task definition' }, { label: 'Desired', num: true }, { label: 'Running', num: true }, { label: 'Pending', num: true }, { label: 'Failed', num: true }, { label: 'Created' }],
      s.deployments.map((d) => [h('span', { class: 'mono' }, d.id), badge(d.status), badge(d.rolloutState), d.taskDefinition, String(d.desired), String(d.running), String(d.pending), String(d.failed), fmtDateTime(d.createdAt)]),
    ),
    h('ul', { class: 'events', 'data-region': 'events' }, s.events.map((e) => h('li', {}, h('time', {}, fmtTime(e.createdAt)), e.message))),
  );
}

const tasks = {
  nav: 'tasks',
  title: (_p, query) => `Tasks · ${query.cluster || 'default'}${query.service ? ` · ${query.service}` : ''}`,
  mount(root, { api, query }) {
    const cluster = query.cluster || 'default';
    return async () => {
      const { tasks } = await api(`/dashboard/api/tasks?${q({ cluster, service: query.service })}`);
      root.replaceChildren(
        h(
          'div',
          { class: 'card', 'data-region': 'tasks' },
          tasks.length === 0
            ? empty('No tasks.')
            : table(
                [{ label: 'Task' }, { label: 'Family' }, { label: 'State' }, { label: 'Desired' }, { label: 'Health' }, { label: 'IP' }, { label: 'Size' }, { label: 'Capacity' }, { label: 'Started' }, { label: 'Group' }],
                tasks.map((t) => [
                  h('span', { 'data-task': t.id }, link(`/tasks/${t.id}`, { cluster }, t.id.slice(0, 12))),
                  t.family,
                  badge(t.lastStatus),
                  t.desiredStatus,
                  badge(t.health),
                  h('span', { class: 'mono' }, t.ip ?? '—'),
                  `${Number(t.cpu) / 1024} vCPU / ${Number(t.memory) / 1024} GB`,
                  badge(t.capacityProvider),
                  fmtTime(t.startedAt),
                  t.stoppedReason ? h('span', { class: 'muted', title: t.stoppedReason }, t.group ?? '', ' · ', t.stoppedReason) : (t.group ?? ''),
                ]),
              ),
        ),
      );
    };
  },
};

const task = {
  nav: 'tasks',
  title: (p) => `Task ${p.taskId.slice(0, 12)}`,
  mount(root, { api, taskId }) {
    const facts = h('div', { class: 'card', 'data-region': 'task' });
    const waterfall = h('div', { class: 'card', 'data-region': 'waterfall' }, h('h2', {}, 'Cold start'));
    const cpu = h('div', { class: 'card', 'data-region': 'cpu' }, h('h2', {}, 'CPU'));
    const memory = h('div', { class: 'card', 'data-region': 'memory' }, h('h2', {}, 'Memory'));
    const logBox = h('pre', { class: 'logs', 'data-region': 'logs' });
    root.replaceChildren(facts, waterfall, h('div', { class: 'grid' }, cpu, memory), h('div', { class: 'card' }, h('h2', {}, 'Logs'), logBox));
    let logNext = 0;
    const id = encodeURIComponent(taskId);

    /** `gvisor (ptrace)`: the runtime (DescribeTasks attributes skiff.isolation, skiff.isolationPlatform). */
    const isolationOf = (t) => {
      const get = (n) => t.attributes?.find((a) => a.name === n)?.value;
      const platform = get('skiff.isolationPlatform');
      return `${get('skiff.isolation') ?? 'runc'}${platform ? ` (${platform})` : ''}`;
    };

    return async () => {
      const [detail, logs] = await Promise.all([api(`/dashboard/api/tasks/${id}`), api(`/dashboard/api/tasks/${id}/logs?after=${logNext}`).catch((e) => ({ error: e }))]);
      const t = detail.task.task;
      const ip = t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;
      const billing = detail.task.billing;
      facts.replaceChildren(
        h('h2', {}, `${t.taskDefinitionArn.split('/').pop()} `, badge(t.lastStatus), ' ', badge(t.healthStatus ?? 'UNKNOWN')),
        h(
          'dl',
          { class: 'facts' },
          ...[
            ['Task', h('span', { class: 'mono' }, t.taskArn)],
            ['Desired status', t.desiredStatus],
            ['IP address', h('span', { class: 'mono', 'data-ip': ip ?? '' }, ip ?? '—')],
            ['Size', `${Number(t.cpu) / 1024} vCPU, ${Number(t.memory)} MiB`],
            ['Capacity provider', badge(t.capacityProviderName ?? 'FARGATE')],
            ['Isolation', isolationOf(t)],
            ['Group', t.group ?? '—'],
            ['Created', fmtDateTime(t.createdAt * 1000)],
            ['Started', t.startedAt ? fmtDateTime(t.startedAt * 1000) : '—'],
            ...(t.stoppedReason ? [['Stopped', `${t.stopCode ?? ''} ${t.stoppedReason}`]] : []),
            ...(billing ? [['Bill', `${billing.billedSeconds} s · ${usd(billing.cost)}`]] : []),
          ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        ),
      );

      if ('error' in detail.coldstart) waterfall.replaceChildren(sectionError('Cold start', detail.coldstart.error));
      else {
        const w = detail.coldstart.data.waterfall;
        waterfall.replaceChildren(
          h('div', { class: 'chart-title' }, h('h2', {}, 'Cold start'), h('span', { class: 'muted' }, w.totalMs !== undefined ? `created → started in ${w.totalMs.toFixed(1)} ms` : (w.note ?? 'not started yet'))),
          w.rows.length ? waterfallChart(w.rows, w.totalMs, innerWidth(waterfall)) : empty(w.note ?? 'No start-up phases recorded yet.'),
          detail.coldstart.data.tips.length ? h('ul', { class: 'tips' }, detail.coldstart.data.tips.map((x) => h('li', {}, x))) : null,
        );
      }

      if ('error' in detail.stats) {
        cpu.replaceChildren(sectionError('CPU', detail.stats.error));
        memory.replaceChildren(sectionError('Memory', detail.stats.error));
      } else {
        const samples = detail.stats.data.samples;
        const vcpus = Number(t.cpu) / 1024;
        const cpuPoints = samples.filter((x) => x.cpuVcpus !== undefined && x.cpuVcpus !== null).map((x) => ({ t: x.ts, v: x.cpuVcpus }));
        const memPoints = samples.map((x) => ({ t: x.ts, v: x.memoryBytes / 1048576 }));
        cpu.replaceChildren(
          h('div', { class: 'chart-title' }, h('h2', {}, 'CPU'), h('span', { class: 'muted' }, `vCPU used of ${vcpus} · ${cpuPoints.length} samples`)),
          lineChart({ points: cpuPoints, limit: vcpus, unit: 'vCPU', label: 'cpu', width: innerWidth(cpu) }),
        );
        memory.replaceChildren(
          h('div', { class: 'chart-title' }, h('h2', {}, 'Memory'), h('span', { class: 'muted' }, `MiB working set of ${t.memory} · ${memPoints.length} samples`)),
          lineChart({ points: memPoints, limit: Number(t.memory), unit: 'MiB', label: 'memory', colour: '#8250df', width: innerWidth(memory) }),
        );
      }

      if (logs.error) throw logs.error;
      const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
      if (logs.skipped) logBox.append(h('div', { class: 'ts' }, `… ${logs.skipped} earlier lines not shown`));
      for (const l of logs.lines) {
        logBox.append(h('div', { class: l.stream === 'stderr' ? 'stderr' : null, 'data-line': '' }, h('span', { class: 'ts' }, `${new Date(l.timestamp).toLocaleTimeString()} ${l.container} `), l.message));
      }
      logNext = logs.next;
      if (atBottom) logBox.scrollTop = logBox.scrollHeight;
    };
  },
};

const cost = {
  nav: 'cost',
  title: () => 'Cost',
  refreshMs: 5000,
  mount(root, { api, query }) {
    const days = query.days || 7;
    return async () => {
      const c = await api(`/dashboard/api/cost?${q({ days })}`);
      const parts = [];
      if ('error' in c.byService) parts.push(sectionError('Cost', c.byService.error));
      else {
        const r = c.byService.data;
        parts.push(
          h(
            'div',
            { class: 'stats', 'data-region': 'cost-summary' },
            stat(`Cost, last ${c.days} days`, usd(r.total.cost), 'total'),
            stat('Spot savings', usd(r.total.spotSavings), 'spot'),
            stat(`Month to date (${r.projection.month})`, usd(r.projection.monthToDate), 'mtd'),
            stat('Projected month', usd(r.projection.projectedMonth), 'projected'),
            stat('Run rate', `${usd(r.projection.runRatePerHour)}/h`, 'rate'),
          ),
        );
        const grid = [];
        if (!('error' in c.byDay)) {
          const costOf = new Map(c.byDay.data.lines.map((l) => [l.key, l.cost]));
          const days = 'error' in c.serviceByDay ? [...costOf.keys()] : c.serviceByDay.data.days;
          const bars = days.map((d) => ({ label: d.slice(5), value: Number(costOf.get(d) ?? 0), title: `${d}: ${usd(costOf.get(d) ?? 0)}` }));
          grid.push(h('div', { class: 'card', 'data-region': 'cost-by-day' }, h('h2', {}, 'Cost by day'), barChart(bars, { label: 'cost-by-day' })));
        }
        grid.push(
          h(
            'div',
            { class: 'card', 'data-region': 'cost-by-service' },
            h('h2', {}, 'Cost by service'),
            r.lines.length === 0
              ? empty('No usage in this range.')
              : table(
                  [{ label: 'Service' }, { label: 'Cost', num: true }, { label: 'On demand', num: true }, { label: 'Spot savings', num: true }, { label: 'vCPU-h', num: true }, { label: 'GB-h', num: true }, { label: 'Tasks', num: true }],
                  r.lines.map((l) => [l.key, usd(l.cost), usd(l.onDemandCost), usd(l.spotSavings), Number(l.vcpuHours).toFixed(4), Number(l.gbHours).toFixed(4), String(l.tasks)]),
                ),
          ),
        );
        parts.push(h('div', { class: 'grid' }, grid));
      }
      if (!('error' in c.serviceByDay)) {
        const m = c.serviceByDay.data;
        parts.push(
          h(
            'div',
            { class: 'card', 'data-region': 'service-by-day' },
            h('h2', {}, 'Cost by service and day'),
            m.services.length === 0
              ? empty('No usage in this range.')
              : table([{ label: 'Service' }, ...m.days.map((d) => ({ label: d.slice(5), num: true }))], m.services.map((s) => [s, ...m.days.map((d) => (m.cost[s][d] ? usd(m.cost[s][d]) : '—'))])),
          ),
        );
      }
      if ('error' in c.rightsize) parts.push(sectionError('Right-sizing', c.rightsize.error));
      else parts.push(rightsizeCard(c.rightsize.data));
      root.replaceChildren(...parts);
    };
  },
};

function stat(label, value, key) {
  return h('div', { class: 'stat', 'data-stat': key }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

function rightsizeCard(data) {
  const size = (s) => (s ? `${s.cpu / 1024} vCPU / ${s.memory} MiB` : '—');
  return h(
    'div',
    { class: 'card', 'data-region': 'rightsize' },
    h('h2', {}, `Right-sizing advice (p95 over ${data.windowHours} h)`),
    data.results.length === 0
      ? empty('Nothing measured yet.')
      : table(
          [{ label: 'Family / service' }, { label: 'Current' }, { label: 'Recommended' }, { label: 'Saving / month', num: true }, { label: 'Advice' }],
          data.results.map((r) => {
            const rec = r.recommendation;
            return [
              r.family ?? r.service,
              size(rec.current),
              rec.status === 'ok' ? size(rec.recommended) : '—',
              rec.monthlySaving !== undefined ? `${usd(rec.monthlySaving)} (${rec.savingPercent}%)` : '—',
              rec.status === 'ok' ? [badge(rec.action?.toUpperCase() ?? 'KEEP'), ' ', rec.notes.join(' ')] : h('span', { class: 'muted' }, rec.message),
            ];
          }),
        ),
  );
}

export const PAGES = { clusters, services, tasks, task, cost };
