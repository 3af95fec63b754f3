/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests
 * and tools that check what `/metrics` serves. Strict means: every sample
 * belongs to a family declared by `# TYPE` before it, names and label names are
 * valid, label values are properly quoted and escaped, a series appears once,
 * and histograms have cumulative `le` buckets ending in `+Inf` equal to `_count`.
 * Any violation throws with the line number.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** A value as Prometheus reads it (Go's ParseFloat: Inf and NaN in any case). */
function parseValue(s: string, where: string): number {
  const l = s.toLowerCase();
  if (l === '+inf' || l === 'inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parses `{a="x",b="y"}` starting at text[i] === '{'; returns labels and the index after '}'. */
function parseLabels(text: string, i: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} repeated`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${name} value is not quoted`);
    let j = eq + 2;
    let v = '';
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`${where}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const e = text[j + 1];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`${where}: bad escape \\${e}`);
        j += 2;
        continue;
      }
      if (ch === '\n') throw new Error(`${where}: newline in label value`);
      v += ch;
      j++;
    }
    labels[name] = v;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${where}: expected ',' or '}' after label ${name}`);
  }
}

const seriesKey = (s: Sample) => s.name + JSON.stringify(Object.entries(s.labels).sort());

export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      let f = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        if (f?.type && f.samples.length) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (f && (f as { typed?: boolean }).typed) throw new Error(`${where}: TYPE for ${name} repeated`);
        f ??= { name, type: rest as MetricType, samples: [] };
        f.type = rest as MetricType;
        (f as { typed?: boolean }).typed = true;
        families.set(name, f);
      } else {
        if (f?.help !== undefined) throw new Error(`${where}: HELP for ${name} repeated`);
        f ??= { name, type: 'untyped', samples: [] };
        f.help = rest;
        families.set(name, f);
      }
      return;
    }
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) throw new Error(`${where}: not a sample: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]))) throw new Error(`${where}: bad value/timestamp ${line.slice(i + 1)}`);
    const value = parseValue(parts[0], where);
    const family =
      families.get(name) ??
      [...families.values()].find((f) => (f.type === 'histogram' || f.type === 'summary') && ['_bucket', '_sum', '_count'].some((s) => name === f.name + s));
    if (!family || !(family as { typed?: boolean }).typed) throw new Error(`${where}: sample ${name} has no # TYPE before it`);
    if (family.type === 'histogram' && name === family.name) throw new Error(`${where}: histogram ${name} sample without _bucket/_sum/_count`);
    const sample = { name, labels, value };
    const key = seriesKey(sample);
    if (seen.has(key)) throw new Error(`${where}: series ${key} repeated`);
    seen.add(key);
    family.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (s.name.endsWith('_bucket') && le === undefined) throw new Error(`${f.name}: bucket without le`);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket')).map((s) => ({ le: parseValue(s.labels.le, f.name), v: s.value })).sort((a, b) => a.le - b.le);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`${f.name}${key}: histogram without _sum/_count`);
    if (buckets.at(-1)?.le !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    buckets.forEach((b, i) => {
      if (i && b.v < buckets[i - 1].v) throw new Error(`${f.name}${key}: buckets are not cumulative at le=${b.le}`);
    });
    if (buckets.at(-1)!.v !== count.value) throw new Error(`${f.name}${key}: +Inf bucket ${buckets.at(-1)!.v} != _count ${count.value}`);
  }
}

/** The samples of a family whose labels include every label in `match`. */
export function samplesOf(families: Map<string, MetricFamily>, name: string, match: Record<string, string> = {}): Sample[] {
  const f = families.get(name) ?? [...families.values()].find((x) => name.startsWith(x.name + '_'));
  return (f?.samples ?? []).filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}
