// Timing for `npm run bench`: warm-up, at least 5 timed runs, the median, GPU work awaited.
import type { Gpu } from '../src/runtime/device.ts';

/** One measured configuration, printed as a JSON line with --json. */
export interface BenchResult {
  op: string;
  variant: string;
  shape: string;
  dtype: string;
  ms_median: number;
  runs: number;
  gflops?: number;
  gbps?: number;
  /** Percentage of the adapter's measured peak (FMA rate for gflops, copy bandwidth for gbps). */
  pct_of_peak?: number;
  adapter: string;
}

export interface TimeOptions {
  warmup?: number;
  runs?: number;
}

/** Milliseconds per call of `fn` (which records GPU work; each run ends with gpu.sync()). */
export async function timeRuns(gpu: Gpu, fn: () => Promise<unknown>, o: TimeOptions = {}): Promise<{ median: number; runs: number }> {
  const runs = Math.max(5, o.runs ?? 5);
  for (let i = 0; i < (o.warmup ?? 1); i++) {
    await fn();
    await gpu.sync('bench warm-up');
  }
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    await gpu.sync('bench');
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const mid = ms.length >> 1;
  const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
  return { median, runs };
}

export function round(x: number, digits = 3): number {
  return Number(x.toPrecision(digits));
}

/** Prints results as JSON lines or an aligned table. */
export function report(results: BenchResult[], json: boolean): void {
  if (json) {
    for (const r of results) console.log(JSON.stringify(r));
    return;
  }
  const rows = results.map((r) => [
    r.op,
    r.variant,
    r.shape,
    r.dtype,
    r.ms_median.toFixed(2),
    r.gflops !== undefined ? `${r.gflops} GFLOP/s` : `${r.gbps} GB/s`,
    r.pct_of_peak !== undefined ? `${r.pct_of_peak}%` : '',
  ]);
  const head = ['op', 'variant', 'shape', 'dtype', 'ms (median)', 'rate', 'of peak'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(width[i])).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (results.length) console.log(`adapter: ${results[0].adapter}`);
}
