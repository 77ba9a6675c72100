// The summary rows of `bench/versus.ts`: per result row (op, variant, shape, dtype), the medians
// over rounds of each version and the median of the per-round ratios older ÷ this.
import { median, type BenchResult } from './harness.ts';

export type VersusRow = BenchResult & { version: 'older' | 'this'; round: number };
export type SummaryRow = BenchResult & { per_round?: number[] };

export function summarize(rows: VersusRow[], rounds: number): SummaryRow[] {
  // A bench may give an op several rows (one per shape, variant or dtype): each is its own line.
  const keyOf = (r: BenchResult) => [r.op, r.variant, r.shape, r.dtype].join('\u0000');
  const keys = [...new Set(rows.map(keyOf))];
  return keys.flatMap((key): SummaryRow[] => {
    const per = (v: 'older' | 'this') => rows.filter((r) => keyOf(r) === key && r.version === v).sort((x, y) => x.round - y.round);
    const a = per('older');
    const b = per('this');
    // Rows missing from a run, or too short to time (0 ms), have no ratio.
    if (a.length !== rounds || b.length !== rounds || [...a, ...b].some((r) => !(r.ms_median > 0))) return [];
    const ratios = a.map((r, i) => r.ms_median / b[i].ms_median);
    const { op, variant, shape, dtype, adapter } = b[0];
    const each = { variant, shape, dtype, adapter, runs: rounds };
    // Rows as bench rows (ms_median, ratio), so README tables can cite them.
    return [
      { ...each, op: `${op}: older, median of rounds`, ms_median: median(a.map((r) => r.ms_median)) },
      { ...each, op: `${op}: this, median of rounds`, ms_median: median(b.map((r) => r.ms_median)) },
      { ...each, op: `${op}: older ÷ this`, ms_median: 0, ratio: Number(median(ratios).toFixed(3)), per_round: ratios.map((x) => Number(x.toFixed(3))) },
    ];
  });
}
