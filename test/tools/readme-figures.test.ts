// Every figure in the README's tables must come from a committed bench/results JSON: each table
// is preceded by a link to the JSON(s) it was taken from, and every number-with-unit in its cells
// (the first column names the work and is skipped) must be found, at the precision written, in a
// row of those files under the field that unit reads.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Row = Record<string, unknown>;

/** Where a unit's value lives in a result row, in the unit written. */
const FIELDS: Record<string, (r: Row) => unknown> = {
  ms: (r) => r.ms_median,
  s: (r) => (typeof r.ms_median === 'number' ? r.ms_median / 1000 : undefined),
  'GFLOP/s': (r) => r.gflops,
  'GB/s': (r) => r.gbps,
  MiB: (r) => (typeof r.peak_bytes === 'number' ? r.peak_bytes / 2 ** 20 : undefined),
  '%': (r) => r.pct_of_peak,
  '×': (r) => r.ratio,
  calls: (r) => r.runs,
  'submits per step': (r) => r.submits_per_step,
};

/** Numbers and units in reading order; a number takes the next unit after it ("30.4–30.9 / 28.6 GFLOP/s"). */
const TOKEN = /(\d+(?:\.\d+)?)|(GFLOP\/s|GB\/s|MiB|ms|calls|submits per step|%|×|(?<![\w/])s\b)/g;

export interface Figure {
  value: string;
  unit: string;
}

export function figures(cell: string): Figure[] {
  const out: Figure[] = [];
  let pending: string[] = [];
  for (const m of cell.replace(/`[^`]*`/g, '').matchAll(TOKEN)) {
    if (m[1] !== undefined) pending.push(m[1]);
    else {
      out.push(...pending.map((value) => ({ value, unit: m[2] })));
      pending = [];
    }
  }
  return out;
}

interface Table {
  line: number;
  /** bench/results JSON files linked between the previous heading or table and this one. */
  sources: string[];
  rows: string[][];
}

export function tables(markdown: string): Table[] {
  const lines = markdown.split('\n');
  const out: Table[] = [];
  let sources: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (/^#/.test(lines[i])) sources = [];
    sources.push(...[...lines[i].matchAll(/bench\/results\/[\w.-]+\.json/g)].map((m) => m[0]));
    if (!lines[i].startsWith('|') || !lines[i + 1]?.startsWith('|-')) continue;
    const start = i;
    const rows: string[][] = [];
    for (i += 2; lines[i]?.startsWith('|'); i++) rows.push(lines[i].split('|').slice(1, -1).map((c) => c.trim()));
    out.push({ line: start + 1, sources: [...new Set(sources)], rows });
    sources = [];
  }
  return out;
}

/** Whether `value` is what a JSON row's field reads, rounded to the digits the README shows. */
function matches(value: string, unit: string, rows: Row[]): boolean {
  const digits = value.split('.')[1]?.length ?? 0;
  const v = Number(value);
  return rows.some((r) => {
    const x = FIELDS[unit](r);
    return typeof x === 'number' && Math.abs(x - v) <= 0.5 * 10 ** -digits + 1e-9;
  });
}

it('finds numbers, ranges and units in a cell', () => {
  expect(figures('30.4–30.9 / 28.6 GFLOP/s')).toEqual(['30.4', '30.9', '28.6'].map((value) => ({ value, unit: 'GFLOP/s' })));
  expect(figures('0.37 s / 15 MiB (2 submits per step)')).toEqual([
    { value: '0.37', unit: 's' },
    { value: '15', unit: 'MiB' },
    { value: '2', unit: 'submits per step' },
  ]);
  expect(figures('44 calls, `x 5 ms`')).toEqual([{ value: '44', unit: 'calls' }]);
  expect(matches('12.1', 'ms', [{ ms_median: 12.09 }])).toBe(true);
  expect(matches('12.1', 'ms', [{ ms_median: 12.2 }])).toBe(false);
});

it("every number in the README's tables is in the committed bench/results JSON linked above the table", () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const problems: string[] = [];
  let checked = 0;
  for (const t of tables(readme)) {
    const found = t.rows.flatMap((r) => r.slice(1).flatMap(figures));
    if (!found.length) continue;
    const missing = t.sources.filter((f) => !existsSync(ROOT + f));
    if (!t.sources.length || missing.length) {
      problems.push(`table at README.md:${t.line}: ${t.sources.length ? `linked ${missing.join(', ')} does not exist` : 'no bench/results/*.json linked above it'}`);
      continue;
    }
    const rows = t.sources.flatMap((f) => (JSON.parse(readFileSync(ROOT + f, 'utf8')) as Row[]).slice(1));
    for (const f of found) {
      checked++;
      if (!matches(f.value, f.unit, rows)) problems.push(`table at README.md:${t.line}: ${f.value} ${f.unit} is in none of ${t.sources.join(', ')}`);
    }
  }
  expect(problems).toEqual([]);
  expect(checked).toBeGreaterThan(40);
});
