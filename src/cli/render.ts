/**
 * The one renderer: command handlers return data, this prints it as a table for
 * people or as JSON for scripts (`--output json`).
 */
export type OutputFormat = 'table' | 'json';

export interface Table {
  columns: string[];
  rows: (string | number | undefined | null)[][];
  /** Colours a body cell (after its width is measured, so escape codes never shift columns). */
  colorize?: (text: string, column: string) => string;
}

export function render(format: OutputFormat, data: unknown, table: () => Table, out = process.stdout): void {
  if (format === 'json') {
    out.write(JSON.stringify(data, null, 2) + '\n');
    return;
  }
  const t = table();
  const cells = [t.columns, ...t.rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  cells.forEach((r, n) => {
    const line = r.map((c, i) => {
      const text = c ?? '';
      const pad = ' '.repeat(Math.max(0, widths[i] - text.length));
      return (n > 0 && t.colorize ? t.colorize(text, t.columns[i]) : text) + (i === r.length - 1 ? '' : pad);
    });
    out.write(line.join('  ').trimEnd() + '\n');
  });
}

export function parseFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new Error(`--output must be table or json (got ${value})`);
}
