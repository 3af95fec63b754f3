/**
 * `skiff advise`: does a workload fit a per-task serverless container, an
 * always-on host, or a function — and what does each cost per month?
 * Pure: a workload description and a price book in, options and a verdict out.
 *
 * Serverless container costs come from the price book (the operator's Fargate
 * prices). Host and function prices are assumptions, stated here and printed
 * with every answer (ASSUMPTIONS):
 *   - host: AWS EC2 us-east-1 on-demand Linux prices (m6i general purpose,
 *     t3 burstable only when average use fits under its baseline), 730 h a month,
 *     plus a 20 GB gp3 root volume at $0.08/GB-month; sized with 25% headroom
 *     plus 0.25 vCPU / 0.5 GB for the OS;
 *   - function: AWS Lambda us-east-1, $0.0000166667 per GB-second (x86) or
 *     $0.0000133334 (Arm) and $0.20 per million requests, no free tier; 1 vCPU
 *     per 1769 MB of memory; at most 10 240 MB and 900 s per invocation;
 *   - serverless container: one task per event is billed at least 60 s, plus
 *     about 15 s of start-up (billing starts at the image pull); a service runs
 *     enough always-on tasks for its requests in flight (Little's law).
 * A month is 730 hours.
 */
import Big from 'big.js';
import { cheapestSizeAtLeast } from '../ecs/sizes.ts';
import { hourlyCost, ratesFor, HOURS_PER_MONTH, MINIMUM_BILLED_SECONDS, type CpuArchitecture, type PriceBook } from '../metering/pricing.ts';

export type CostSensitivity = 'low' | 'medium' | 'high';
export type Platform = 'serverless-container' | 'always-on-host' | 'function';

export interface Workload {
  /** vCPUs one copy needs while it works. */
  cpu: number;
  /** GB of memory one copy needs. */
  memoryGB: number;
  /** Seconds one run (a job, or one request) takes. */
  durationSec: number;
  /** Work arrives as events (true) or the workload is a long-running service (false). */
  eventDriven: boolean;
  /** Average events or requests per second (0 for a service with no request traffic, e.g. a worker). */
  requestsPerSecond: number;
  /** Requests one copy handles at once (default 1). */
  concurrency?: number;
  costSensitivity: CostSensitivity;
  architecture?: CpuArchitecture;
}

export interface PlatformOption {
  platform: Platform;
  fits: boolean;
  /** USD per month, 2 decimals; absent when it does not fit. */
  monthlyCost?: string;
  /** How it would be run, e.g. "3 always-on tasks of 512 CPU / 1024 MiB". */
  shape?: string;
  why: string[];
}

export interface Advice {
  workload: Required<Omit<Workload, 'architecture'>> & { architecture: CpuArchitecture };
  options: PlatformOption[];
  recommendation?: Platform;
  reasons: string[];
  assumptions: string[];
}

export const ASSUMPTIONS: readonly string[] = Object.freeze([
  'serverless container: prices from the Skiff price table; one task per event is billed at least 60 s plus ~15 s of start-up; services run always-on tasks for the requests in flight',
  'always-on host: AWS EC2 us-east-1 on-demand Linux (m6i.large 2 vCPU/8 GB $0.096/h … m6i.4xlarge $0.768/h; t3 burstable only under its CPU baseline) + 20 GB gp3 at $0.08/GB-month; 25% headroom + 0.25 vCPU/0.5 GB for the OS; patching and capacity are yours',
  'function: AWS Lambda us-east-1, $0.0000166667/GB-s x86 ($0.0000133334 Arm) + $0.20 per million requests, no free tier; 1 vCPU per 1769 MB; max 10240 MB and 900 s; API gateway or event source costs not included',
  'a month is 730 hours',
]);

interface Instance {
  name: string;
  vcpu: number;
  memoryGB: number;
  hourly: string;
  /** Sustained CPU fraction per vCPU for burstable instances. */
  baseline?: number;
}
export const HOST_INSTANCES: readonly Instance[] = Object.freeze([
  { name: 't3.micro', vcpu: 2, memoryGB: 1, hourly: '0.0104', baseline: 0.1 },
  { name: 't3.small', vcpu: 2, memoryGB: 2, hourly: '0.0208', baseline: 0.2 },
  { name: 't3.medium', vcpu: 2, memoryGB: 4, hourly: '0.0416', baseline: 0.2 },
  { name: 'm6i.large', vcpu: 2, memoryGB: 8, hourly: '0.096' },
  { name: 'm6i.xlarge', vcpu: 4, memoryGB: 16, hourly: '0.192' },
  { name: 'm6i.2xlarge', vcpu: 8, memoryGB: 32, hourly: '0.384' },
  { name: 'm6i.4xlarge', vcpu: 16, memoryGB: 64, hourly: '0.768' },
]);
const HOST_VOLUME_MONTHLY = new Big('0.08').times(20);
const FUNCTION = Object.freeze({ gbSecondX86: '0.0000166667', gbSecondArm: '0.0000133334', perRequest: '0.0000002', mbPerVcpu: 1769, maxMB: 10240, maxSec: 900 });
const TASK_START_BILLED_SEC = 15;
const TOLERANCE: Record<CostSensitivity, number> = { low: 0.5, medium: 0.15, high: 0 };
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

const money = (b: Big) => b.round(2, Big.roundHalfUp).toFixed(2);

export class WorkloadError extends Error {}

/** Checks a workload description; every problem is reported together. */
export function validateWorkload(w: Partial<Workload>): Advice['workload'] {
  const problems: string[] = [];
  const num = (v: unknown, name: string, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) problems.push(`${name} must be a number from ${min} to ${max} (got ${JSON.stringify(v)})`);
  };
  num(w.cpu, 'cpu (vCPUs)', 0.0625, 192);
  num(w.memoryGB, 'memoryGB', 0.125, 1024);
  num(w.durationSec, 'durationSec', 0.001, 365 * 86400);
  num(w.requestsPerSecond, 'requestsPerSecond', 0, 1e6);
  if (w.concurrency !== undefined) num(w.concurrency, 'concurrency', 1, 1e5);
  if (typeof w.eventDriven !== 'boolean') problems.push(`eventDriven must be true or false (got ${JSON.stringify(w.eventDriven)})`);
  if (!['low', 'medium', 'high'].includes(w.costSensitivity as string)) problems.push(`costSensitivity must be low, medium or high (got ${JSON.stringify(w.costSensitivity)})`);
  if (w.architecture !== undefined && w.architecture !== 'X86_64' && w.architecture !== 'ARM64') problems.push(`architecture must be X86_64 or ARM64`);
  if (w.eventDriven && w.requestsPerSecond === 0) problems.push('an event-driven workload needs requestsPerSecond > 0 (events per second, e.g. 0.01 for 864 a day)');
  if (problems.length) throw new WorkloadError(problems.join('\n'));
  return {
    cpu: w.cpu!,
    memoryGB: w.memoryGB!,
    durationSec: w.durationSec!,
    eventDriven: w.eventDriven!,
    requestsPerSecond: w.requestsPerSecond!,
    concurrency: w.concurrency ?? 1,
    costSensitivity: w.costSensitivity!,
    architecture: w.architecture ?? 'X86_64',
  };
}

export function advise(input: Partial<Workload>, book: PriceBook): Advice {
  const w = validateWorkload(input);
  const inFlight = w.requestsPerSecond * w.durationSec; // Little's law
  const copies = Math.max(1, Math.ceil(inFlight / w.concurrency - 1e-9));
  const options = [container(w, copies, book), host(w, copies), fn(w)];
  const fitting = options.filter((o) => o.fits);
  const reasons: string[] = [];
  let recommendation: Platform | undefined;
  if (fitting.length) {
    const cheapest = fitting.reduce((a, b) => (new Big(a.monthlyCost!).lte(b.monthlyCost!) ? a : b));
    const limit = new Big(cheapest.monthlyCost!).times(1 + TOLERANCE[w.costSensitivity]);
    const prefer: Platform[] = w.eventDriven && w.durationSec <= MINIMUM_BILLED_SECONDS
      ? ['function', 'serverless-container', 'always-on-host']
      : ['serverless-container', 'function', 'always-on-host'];
    const chosen = prefer.map((p) => fitting.find((o) => o.platform === p)!).find((o) => o && new Big(o.monthlyCost!).lte(limit))!;
    recommendation = chosen.platform;
    reasons.push(`${label(chosen.platform)} at $${chosen.monthlyCost}/month${chosen.platform === cheapest.platform ? ' is the cheapest option that fits' : ` is within ${TOLERANCE[w.costSensitivity] * 100}% of the cheapest (${label(cheapest.platform)}, $${cheapest.monthlyCost}) — at ${w.costSensitivity} cost sensitivity, less to operate wins`}`);
    reasons.push(...chosen.why);
  } else {
    reasons.push('no option fits: the workload is larger than one task, host or function allows; split it');
  }
  return { workload: w, options, recommendation, reasons, assumptions: [...ASSUMPTIONS] };
}

const label = (p: Platform) => ({ 'serverless-container': 'a per-task serverless container', 'always-on-host': 'an always-on host', function: 'a function' })[p];

function container(w: Advice['workload'], copies: number, book: PriceBook): PlatformOption {
  const size = cheapestSizeAtLeast(Math.ceil(w.cpu * 1024), Math.ceil(w.memoryGB * 1024));
  if (!size) return { platform: 'serverless-container', fits: false, why: ['larger than the largest Fargate size (16 vCPU / 120 GB)'] };
  const rates = ratesFor(book, w.architecture, 'FARGATE');
  const hourly = hourlyCost({ cpuUnits: size.cpu, memoryMiB: size.memory, ephemeralStorageGiB: 20 }, rates);
  const sz = `${size.cpu} CPU / ${size.memory} MiB`;
  const alwaysOn = hourly.times(HOURS_PER_MONTH).times(copies);
  const why: string[] = [];
  if (w.eventDriven) {
    const billed = Math.max(MINIMUM_BILLED_SECONDS, Math.ceil(w.durationSec + TASK_START_BILLED_SEC));
    const perEvent = hourly.times(billed).div(3600).times(w.requestsPerSecond * SECONDS_PER_MONTH);
    if (perEvent.lte(alwaysOn)) {
      why.push(`one task per event (${sz}), each billed ${billed} s for a ${w.durationSec} s run: pay only while work runs, nothing when idle`);
      if (w.durationSec < MINIMUM_BILLED_SECONDS) why.push(`runs shorter than the 60 s minimum pay for ${billed} s each`);
      return { platform: 'serverless-container', fits: true, monthlyCost: money(perEvent), shape: `1 task per event, ${sz}`, why };
    }
    why.push(`events arrive often enough that ${copies} always-on task(s) of ${sz} cost less than a task per event ($${money(perEvent)})`);
    return { platform: 'serverless-container', fits: true, monthlyCost: money(alwaysOn), shape: `${copies} always-on task(s), ${sz}`, why };
  }
  why.push(`${copies} always-on task(s) of ${sz} for ${round(w.requestsPerSecond * w.durationSec)} request(s) in flight; no servers to patch, each task isolated and billed by the second`);
  if (copies === 1) why.push('run at least 2 tasks in different zones for availability (doubles the cost)');
  return { platform: 'serverless-container', fits: true, monthlyCost: money(alwaysOn), shape: `${copies} always-on task(s), ${sz}`, why };
}

function host(w: Advice['workload'], copies: number): PlatformOption {
  const needCpu = copies * w.cpu * 1.25 + 0.25;
  const needMem = copies * w.memoryGB * 1.25 + 0.5;
  const avgBusy = (w.requestsPerSecond * w.durationSec * w.cpu) / Math.max(1, w.concurrency) || (w.eventDriven ? 0 : w.cpu);
  let best: { i: Instance; n: number; cost: Big } | undefined;
  for (const i of HOST_INSTANCES) {
    const n = Math.max(Math.ceil(needCpu / i.vcpu), Math.ceil(needMem / i.memoryGB));
    if (i.baseline !== undefined && (n > 1 || avgBusy / i.vcpu > i.baseline)) continue;
    const cost = new Big(i.hourly).times(HOURS_PER_MONTH).plus(HOST_VOLUME_MONTHLY).times(n);
    if (!best || cost.lt(best.cost)) best = { i, n, cost };
  }
  if (!best) return { platform: 'always-on-host', fits: false, why: ['no instance in the assumed table fits'] };
  const why = [`${best.n} × ${best.i.name} (${best.i.vcpu} vCPU, ${best.i.memoryGB} GB) running all month, busy or idle`];
  const util = avgBusy / (best.n * best.i.vcpu);
  why.push(util < 0.3 ? `about ${Math.round(util * 100)}% average CPU use: you pay mostly for idle capacity` : `about ${Math.round(util * 100)}% average CPU use: steady load is where a host pays off`);
  why.push('you patch, scale and replace the host yourself; no isolation between copies beyond what you set up');
  return { platform: 'always-on-host', fits: true, monthlyCost: money(best.cost), shape: `${best.n} × ${best.i.name}`, why };
}

function fn(w: Advice['workload']): PlatformOption {
  const mb = Math.max(128, Math.ceil(w.memoryGB * 1024), Math.ceil(w.cpu * FUNCTION.mbPerVcpu));
  const why: string[] = [];
  if (w.durationSec > FUNCTION.maxSec) why.push(`a run takes ${w.durationSec} s, over the 900 s function limit`);
  if (mb > FUNCTION.maxMB) why.push(`needs ${mb} MB (memory, or ${w.cpu} vCPU at 1769 MB per vCPU), over the 10240 MB limit`);
  if (!w.eventDriven && w.requestsPerSecond === 0) why.push('a long-running process with no requests (a worker or daemon) is not a function');
  if (why.length) return { platform: 'function', fits: false, why };
  const perSecond = w.architecture === 'ARM64' ? FUNCTION.gbSecondArm : FUNCTION.gbSecondX86;
  const invocations = new Big(w.requestsPerSecond).times(SECONDS_PER_MONTH);
  const perInvocation = new Big(mb).div(1024).times(w.durationSec).times(perSecond).plus(FUNCTION.perRequest);
  const cost = invocations.times(perInvocation);
  why.push(`${round(invocations.toNumber())} invocations/month at ${mb} MB for ${w.durationSec} s each: scales to zero, billed per millisecond`);
  if (w.concurrency > 1) why.push(`a function serves one request per instance: the concurrency of ${w.concurrency} per copy is lost`);
  if (!w.eventDriven) why.push('a service behind a function pays per request; at steady high traffic that adds up faster than always-on capacity');
  return { platform: 'function', fits: true, monthlyCost: money(cost), shape: `${mb} MB function`, why };
}

const round = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 100) / 100));
