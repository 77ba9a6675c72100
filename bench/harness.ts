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
  /** Peer rows (bench peers): our speed ÷ this row's speed on the same work (> 1: ours is faster). */
  ratio?: number;
  /** Most GPU memory the buffer pool held (pipeline stages, VAE memory runs). */
  peak_bytes?: number;
  /** Queue submits per denoising step (pipeline rows). */
  submits_per_step?: number;
  /** CPU milliseconds to record one denoising step, nothing executed (pipeline encode rows). */
  encode_ms_per_step?: { first_step: number; steady_state: number };
  note?: string;
  adapter: string;
}

export interface TimeOptions {
  warmup?: number;
  runs?: number;
}

export interface Timing {
  median: number;
  runs: number;
}

/**
 * Milliseconds per call of `fn`, each call followed by `wait` (which must await all the work
 * `fn` queued): the one timer for our kernels and for peers with their own queues.
 */
export async function timeCalls(fn: () => Promise<unknown>, wait: () => Promise<unknown>, o: TimeOptions = {}): Promise<Timing> {
  const runs = Math.max(5, o.runs ?? 5);
  for (let i = 0; i < (o.warmup ?? 1); i++) {
    await fn();
    await wait();
  }
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    await wait();
    ms.push(performance.now() - t0);
  }
  return { median: median(ms), runs };
}

/** One call of `fn` between two `wait`s (which await all queued work), in wall-clock ms: a sample of interleaved rounds. */
export async function timeOnce(fn: () => Promise<unknown>, wait: () => Promise<unknown>): Promise<number> {
  await wait();
  const t0 = performance.now();
  await fn();
  await wait();
  return performance.now() - t0;
}

/** The Timing of samples already taken (interleaved rounds). */
export function timingOf(ms: number[]): Timing {
  return { median: median(ms), runs: ms.length };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds per call of `fn` (which records GPU work; each run ends with gpu.sync()). */
export function timeRuns(gpu: Gpu, fn: () => Promise<unknown>, o: TimeOptions = {}): Promise<Timing> {
  return timeCalls(fn, () => gpu.sync('bench'), o);
}

/** A compute row: GFLOP/s from `flops` and the median time, and its share of the measured FMA peak. */
export function flopsRow(
  gpu: Gpu,
  what: { op: string; variant: string; shape: string; dtype: string },
  t: Timing,
  flops: number,
  peakGflops: number,
): BenchResult {
  const gflops = flops / (t.median * 1e6);
  return { ...what, ms_median: round(t.median, 4), runs: t.runs, gflops: round(gflops), pct_of_peak: round((100 * gflops) / peakGflops), adapter: gpu.caps.adapterName };
}

export function round(x: number, digits = 3): number {
  return Number(x.toPrecision(digits));
}

function rate(r: BenchResult): string {
  if (r.gflops !== undefined) return `${r.gflops} GFLOP/s`;
  if (r.gbps !== undefined) return `${r.gbps} GB/s`;
  if (r.peak_bytes !== undefined) return `${(r.peak_bytes / 2 ** 20).toFixed(1)} MiB peak`;
  return '';
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
    rate(r),
    r.pct_of_peak !== undefined ? `${r.pct_of_peak}%` : '',
    r.ratio !== undefined ? `${r.ratio}×` : '',
    [r.submits_per_step !== undefined ? `${r.submits_per_step} submits/step` : '', r.note ?? ''].filter(Boolean).join('; '),
  ]);
  const head = ['op', 'variant', 'shape', 'dtype', 'ms (median)', 'rate', 'of peak', 'ours ÷ peer', 'note'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(width[i])).join('  ').trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (results.length) console.log(`adapter: ${results[0].adapter}`);
}
