/**
 * Schedule expressions of Application Auto Scaling scheduled actions, and when
 * one is due. Pure: time comes in as arguments.
 *
 *   at(yyyy-mm-ddThh:mm:ss)      once, at that wall-clock time in the action's time zone
 *   rate(N minute|minutes|hour|hours|day|days)   every N units from the action's StartTime (else its creation)
 *   cron(Minutes Hours Day-of-month Month Day-of-week Year)   AWS's six-field cron, in the time zone:
 *       `*` `,` `-` `/`; months 1-12 or JAN-DEC; days of week 1-7 or SUN-SAT (1 = Sunday);
 *       `?` in exactly one of Day-of-month / Day-of-week; `L` (last day of the month),
 *       `nL` (last weekday n of the month), `n#k` (k-th weekday n of the month).
 *       `W` (nearest weekday) is not supported.
 *
 * Time zones are IANA names (`America/New_York`), resolved with Intl; the default is UTC.
 */

export class ScheduleError extends Error {}

interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

type DayOfWeekRule = { kind: 'set'; days: Set<number> } | { kind: 'last'; day: number } | { kind: 'nth'; day: number; nth: number };

export interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  /** undefined when Day-of-month is `?`. */
  dayOfMonth?: { days: Set<number>; last: boolean };
  months: Set<number>;
  /** undefined when Day-of-week is `?`. */
  dayOfWeek?: DayOfWeekRule;
  /** undefined: any year. */
  years?: Set<number>;
}

export type Schedule = { kind: 'at'; at: WallTime } | { kind: 'rate'; everyMs: number } | { kind: 'cron'; cron: CronFields };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const UNIT_MS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** Parses a schedule expression; throws ScheduleError saying what is wrong. */
export function parseSchedule(expr: string): Schedule {
  const m = /^(at|rate|cron)\((.*)\)$/.exec(expr.trim());
  if (!m) throw new ScheduleError(`Schedule must be at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields) (got '${expr}').`);
  const body = m[2].trim();
  if (m[1] === 'at') return { kind: 'at', at: parseAt(body) };
  if (m[1] === 'rate') {
    const r = /^(\d+)\s+([a-z]+)$/.exec(body);
    if (!r || !UNIT_MS[r[2]] || Number(r[1]) < 1) throw new ScheduleError(`rate(${body}) is not valid: use rate(N minutes|hours|days) with a whole N of at least 1.`);
    if (Number(r[1]) === 1 && r[2].endsWith('s')) throw new ScheduleError(`rate(1 ${r[2]}) is not valid: a value of 1 takes the singular unit (rate(1 ${r[2].slice(0, -1)})).`);
    if (Number(r[1]) > 1 && !r[2].endsWith('s')) throw new ScheduleError(`rate(${body}) is not valid: a value above 1 takes the plural unit (${r[2]}s).`);
    return { kind: 'rate', everyMs: Number(r[1]) * UNIT_MS[r[2]] };
  }
  return { kind: 'cron', cron: parseCron(body) };
}

function parseAt(body: string): WallTime {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!m) throw new ScheduleError(`at(${body}) is not valid: use at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-11-27T14:30:00).`);
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  const check = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ScheduleError(`at(${body}) is not a real date and time.`);
  }
  return { year, month, day, hour, minute, second };
}

function parseCron(body: string): CronFields {
  const f = body.split(/\s+/);
  if (f.length !== 6) throw new ScheduleError(`cron(${body}) must have six fields: Minutes Hours Day-of-month Month Day-of-week Year (got ${f.length}).`);
  const [min, hour, dom, mon, dow, year] = f;
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleError(`cron(${body}): use ? in exactly one of Day-of-month and Day-of-week (e.g. cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *)).`);
  }
  const out: CronFields = {
    minutes: parseField(min, 'Minutes', 0, 59),
    hours: parseField(hour, 'Hours', 0, 23),
    months: parseField(mon, 'Month', 1, 12, MONTHS),
    ...(year === '*' ? {} : { years: parseField(year, 'Year', 1970, 2199) }),
  };
  if (dom !== '?') {
    if (/W/i.test(dom)) throw new ScheduleError(`cron Day-of-month '${dom}': W (nearest weekday) is not supported by Skiff.`);
    const parts = dom.split(',');
    const last = parts.includes('L');
    const rest = parts.filter((p) => p !== 'L');
    out.dayOfMonth = { days: rest.length ? parseField(rest.join(','), 'Day-of-month', 1, 31) : new Set(), last };
  }
  if (dow !== '?') {
    const nth = /^([1-7]|[A-Z]{3})#([1-5])$/i.exec(dow);
    const lastDay = /^([1-7]|[A-Z]{3})L$/i.exec(dow);
    if (nth) out.dayOfWeek = { kind: 'nth', day: single(nth[1], 'Day-of-week', DAYS), nth: Number(nth[2]) };
    else if (lastDay) out.dayOfWeek = { kind: 'last', day: single(lastDay[1], 'Day-of-week', DAYS) };
    else out.dayOfWeek = { kind: 'set', days: parseField(dow === 'L' ? '7' : dow, 'Day-of-week', 1, 7, DAYS) };
  }
  return out;
}

function single(v: string, what: string, names: string[]): number {
  const i = names.indexOf(v.toUpperCase());
  if (i >= 0) return i + 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > names.length) throw new ScheduleError(`cron ${what} value '${v}' is not valid.`);
  return n;
}

/** A cron field (`*`, lists, ranges, steps, names) → the set of values it allows. */
function parseField(text: string, what: string, min: number, max: number, names?: string[]): Set<number> {
  const out = new Set<number>();
  const value = (v: string): number => {
    const i = names ? names.indexOf(v.toUpperCase()) : -1;
    const n = i >= 0 ? i + 1 : /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new ScheduleError(`cron ${what} value '${v}' is not valid: use ${min}-${max}${names ? ` or ${names[0]}-${names[names.length - 1]}` : ''}.`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`cron ${what} step '${stepText}' is not valid: use a whole number of at least 1.`);
    let lo: number, hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [lo, hi] = [value(a), value(b)];
      if (lo > hi) throw new ScheduleError(`cron ${what} range '${range}' runs backwards.`);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Whether `tz` is an IANA time zone name this host knows. */
export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of instant `t` in `tz` (with the weekday, 1 = Sunday). */
export function wallTime(t: number, tz = 'UTC'): WallTime & { weekday: number } {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(t))) p[part.type] = part.value;
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour),
    minute: Number(p.minute),
    second: Number(p.second),
    weekday: DAYS.indexOf(p.weekday.toUpperCase()) + 1,
  };
}

/** The instant at which the wall clock in `tz` shows `w` (the later one when a clock change repeats it). */
export function zonedInstant(w: WallTime, tz = 'UTC'): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const offsetAt = (t: number) => {
    const x = wallTime(t, tz);
    return Date.UTC(x.year, x.month - 1, x.day, x.hour, x.minute, x.second) - Math.floor(t / 1000) * 1000;
  };
  let t = asUtc - offsetAt(asUtc);
  t = asUtc - offsetAt(t);
  return t;
}

function cronMatches(c: CronFields, w: WallTime & { weekday: number }): boolean {
  if (!c.minutes.has(w.minute) || !c.hours.has(w.hour) || !c.months.has(w.month)) return false;
  if (c.years && !c.years.has(w.year)) return false;
  const daysInMonth = new Date(Date.UTC(w.year, w.month, 0)).getUTCDate();
  if (c.dayOfMonth) return c.dayOfMonth.days.has(w.day) || (c.dayOfMonth.last && w.day === daysInMonth);
  const d = c.dayOfWeek!;
  if (d.kind === 'set') return d.days.has(w.weekday);
  if (w.weekday !== d.day) return false;
  if (d.kind === 'last') return w.day + 7 > daysInMonth;
  return Math.ceil(w.day / 7) === d.nth;
}

/** Longest stretch of minutes a cron schedule is searched back for a missed run (after downtime). */
const CRON_LOOKBACK_MS = 24 * 3_600_000;

/**
 * The latest instant in (since, now] at which the schedule runs, within
 * [startTime, endTime] when given; undefined when there is none.
 * `base` is where a rate() counts from (the StartTime, else the creation time).
 */
export function dueInstant(s: Schedule, o: { since: number; now: number; base: number; timezone?: string; startTime?: number; endTime?: number }): number | undefined {
  const lo = Math.max(o.since, (o.startTime ?? -Infinity) - 1);
  const hi = Math.min(o.now, o.endTime ?? Infinity);
  if (hi <= lo) return undefined;
  if (s.kind === 'at') {
    const t = zonedInstant(s.at, o.timezone);
    return t > lo && t <= hi ? t : undefined;
  }
  if (s.kind === 'rate') {
    const k = Math.floor((hi - o.base) / s.everyMs);
    const t = o.base + k * s.everyMs;
    return k >= 1 && t > lo ? t : undefined;
  }
  const floor = Math.max(lo, hi - CRON_LOOKBACK_MS);
  for (let t = Math.floor(hi / 60_000) * 60_000; t > floor; t -= 60_000) {
    if (cronMatches(s.cron, wallTime(t, o.timezone))) return t;
  }
  return undefined;
}
