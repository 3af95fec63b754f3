/**
 * The one renderer: command handlers return data, this prints it as a table for
 * people or as JSON for scripts (`--output json`).
 */
export type OutputFormat = 'table' | 'json';

export interface Table {
  columns: string[];
  rows: (string | number | undefined | null)[][];
}

export function render(format: OutputFormat, data: unknown, table: () => Table, out = process.stdout): void {
  if (format === 'json') {
    out.write(JSON.stringify(data, null, 2) + '\n');
    return;
  }
  const t = table();
  const cells = [t.columns, ...t.rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) out.write(r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd() + '\n');
}

export function parseFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new Error(`--output must be table or json (got ${value})`);
}
