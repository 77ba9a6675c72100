// The adapter's measured ceilings, against which kernels report pct_of_peak: FMA throughput
// (GFLOP/s) and device-memory copy bandwidth (GB/s). Measured once per device per process.
//
// The FMA ceiling is searched, not assumed: on llvmpipe one plain loop of 8 vec4 FMAs measured
// the loop's trip overhead (43.9 GFLOP/s on 2026-11-29) while 4 accumulators unrolled ×4 reach
// ≥ 72. `bench -- roofline` tries accumulator counts, vec4 against scalar, fma() against a*b+c,
// unroll factors and workgroup sizes, and takes the best as the peak; every variant's figure is
// kept in its rows. Other families (and --quick) time only the known best few.
import type { Gpu } from '../src/runtime/device.ts';
import { empty } from '../src/runtime/tensor.ts';
import source from '../shaders/roofline.wgsl';
import { grid1d } from '../src/kernels/grid.ts';
import { round, timeRuns, type BenchResult } from './harness.ts';

export interface Roofline {
  gflops: number;
  gbps: number;
  /** Median milliseconds of the best FMA variant and of the copy. */
  fmaMs: number;
  copyMs: number;
  /** The FMA variant that set `gflops`, and every variant timed. */
  best: FmaTiming;
  variants: FmaTiming[];
}

/** One shape of the FMA loop. */
export interface FmaVariant {
  /** Independent accumulators (chains of dependent FMAs). */
  acc: number;
  /** 4: vec4<f32> accumulators; 1: f32. */
  width: 1 | 4;
  /** fma() or a * m + c. */
  fma: boolean;
  /** Copies of the loop body per trip. */
  unroll: number;
  workgroup: number;
}

export interface FmaTiming {
  variant: FmaVariant;
  iters: number;
  ms: number;
  gflops: number;
}

export function variantName(v: FmaVariant): string {
  return `${v.width === 4 ? 'vec4' : 'f32'} ${v.fma ? 'fma()' : 'a*b+c'} acc${v.acc} unroll${v.unroll} wg${v.workgroup}`;
}

/** FLOPs one invocation does per loop trip. */
export const flopsPerTrip = (v: FmaVariant) => 2 * v.acc * v.width * v.unroll;

/** The roofline kernel's defines for one FMA variant: its declarations, loop body and reduction written out. */
export function fmaDefines(v: FmaVariant): Record<string, string | number | boolean> {
  const type = v.width === 4 ? 'vec4<f32>' : 'f32';
  const accs = Array.from({ length: v.acc }, (_, j) => `a${j}`);
  const step = accs.map((a) => (v.fma ? `${a} = fma(${a}, m, c);` : `${a} = ${a} * m + c;`)).join(' ');
  const sum = accs.join(' + ');
  return {
    FMA: true,
    WG: v.workgroup,
    TYPE: type,
    DECLARE: accs.map((a, j) => `var ${a} = c + ${type}(${j}.0);`).join(' '),
    STEP: Array(v.unroll).fill(step).join(' '),
    REDUCE: v.width === 4 ? `dot(${sum}, vec4<f32>(1.0))` : sum,
  };
}

/** Runs one FMA variant over `threads` invocations and `iters` loop trips, leaving one f32 per invocation in `dst`. */
export async function dispatchFma(gpu: Gpu, v: FmaVariant, dst: ReturnType<typeof empty>, threads: number, iters: number): Promise<void> {
  const kernel = await gpu.pipelines.get({
    name: 'roofline',
    source,
    bindings: [{ name: 'dst', dtype: 'f32', access: 'read_write' }],
    uniforms: true,
    defines: fmaDefines(v),
  });
  gpu.recorder.dispatch(kernel, [dst], new Uint32Array([threads, iters, 0, 0]), grid1d(gpu, threads, v.workgroup), `roofline ${variantName(v)}`);
}

const cache = new WeakMap<Gpu, { search: boolean; result: Promise<Roofline> }>();

/** The adapter's ceilings, measured once per process: the short list, or the whole search when asked (and kept). */
export function roofline(gpu: Gpu, o: { search?: boolean } = {}): Promise<Roofline> {
  const search = Boolean(o.search);
  const hit = cache.get(gpu);
  if (hit && (hit.search || !search)) return hit.result;
  const result = measure(gpu, search);
  cache.set(gpu, { search, result });
  return result;
}

const FMA_THREADS = 1 << 14;
/** FLOPs per timed dispatch: tens of milliseconds on lavapipe, so dispatch overhead stays small. */
const FMA_WORK = 2 ** 30;
const COPY_BYTES = 64 << 20;

const v4 = (acc: number, unroll: number): FmaVariant => ({ acc, width: 4, fma: true, unroll, workgroup: 64 });
const f32 = (acc: number, unroll: number): FmaVariant => ({ acc, width: 1, fma: true, unroll, workgroup: 64 });

/** The best few on lavapipe (2026-12-01): what other families and --quick measure. */
const QUICK: FmaVariant[] = [v4(4, 4), v4(3, 8), v4(2, 8)];

/** The search's first stage: accumulators × unroll, vec4 and scalar, fma(), workgroup 64. */
const GRID: FmaVariant[] = [
  ...[1, 2, 3, 4, 6, 8, 16].flatMap((acc) => [v4(acc, 1), v4(acc, 4)]),
  v4(2, 8), v4(3, 8), v4(4, 2), v4(4, 8),
  ...[4, 8, 16].flatMap((acc) => [f32(acc, 1), f32(acc, 4)]),
];

const bestOf = (ts: FmaTiming[]) => ts.reduce((a, b) => (b.gflops > a.gflops ? b : a));

async function timeFma(gpu: Gpu, v: FmaVariant, dst: ReturnType<typeof empty>): Promise<FmaTiming> {
  const iters = Math.max(1, Math.round(FMA_WORK / (FMA_THREADS * flopsPerTrip(v))));
  const t = await timeRuns(gpu, () => dispatchFma(gpu, v, dst, FMA_THREADS, iters));
  return { variant: v, iters, ms: t.median, gflops: (FMA_THREADS * iters * flopsPerTrip(v)) / (t.median * 1e6) };
}

/** Times the short list, or the grid and then its winner with a*b+c and with other workgroup sizes. */
async function fmaSearch(gpu: Gpu, search: boolean): Promise<FmaTiming[]> {
  const dst = empty(gpu, [FMA_THREADS]);
  const done: FmaTiming[] = [];
  try {
    for (const v of search ? GRID : QUICK) done.push(await timeFma(gpu, v, dst));
    if (search) {
      const best = bestOf(done).variant;
      for (const v of [{ ...best, fma: false }, ...[32, 128, 256].map((workgroup) => ({ ...best, workgroup }))]) done.push(await timeFma(gpu, v, dst));
    }
  } finally {
    dst.dispose();
  }
  return done;
}

async function copyRate(gpu: Gpu): Promise<[number, number]> {
  const bytes = Math.min(COPY_BYTES, gpu.caps.maxStorageBinding);
  const n = bytes / 16;
  const kernel = await gpu.pipelines.get({
    name: 'roofline',
    source,
    bindings: [
      { name: 'src', dtype: 'f32', vec: 4 },
      { name: 'dst', dtype: 'f32', vec: 4, access: 'read_write' },
    ],
    uniforms: true,
    defines: { FMA: false, WG: 64 },
  });
  const src = empty(gpu, [n * 4]);
  const dst = empty(gpu, [n * 4]);
  const u = new Uint32Array([n, 0, 0, 0]);
  const t = await timeRuns(gpu, async () => gpu.recorder.dispatch(kernel, [src, dst], u, grid1d(gpu, n, 64), 'roofline copy'));
  src.dispose();
  dst.dispose();
  return [(2 * bytes) / (t.median * 1e6), t.median];
}

async function measure(gpu: Gpu, search: boolean): Promise<Roofline> {
  const variants = await fmaSearch(gpu, search);
  const best = bestOf(variants);
  const [gbps, copyMs] = await copyRate(gpu);
  return { gflops: best.gflops, gbps, fmaMs: best.ms, copyMs, best, variants };
}

/**
 * `npm run bench -- roofline [--quick]`: the peaks, then every FMA variant timed. Without
 * options (other families' peak rows) only the short list runs, unless the search already did.
 */
export async function benchRoofline(gpu: Gpu, o: { quick?: boolean } = { quick: true }): Promise<BenchResult[]> {
  const r = await roofline(gpu, { search: !o.quick });
  const adapter = gpu.caps.adapterName;
  const base = { op: 'peak', dtype: 'f32', runs: 5, pct_of_peak: 100, adapter };
  const shape = (t: FmaTiming) => `${FMA_THREADS}x${t.iters}x${flopsPerTrip(t.variant)}`;
  return [
    { ...base, variant: 'fma', shape: shape(r.best), ms_median: round(r.fmaMs), gflops: round(r.gflops), note: `best of ${r.variants.length}: ${variantName(r.best.variant)}` },
    { ...base, variant: 'copy', shape: `${COPY_BYTES >> 20}MiB`, ms_median: round(r.copyMs), gbps: round(r.gbps) },
    ...r.variants.map((t) => ({
      op: 'fma ceiling search',
      variant: variantName(t.variant),
      shape: shape(t),
      dtype: 'f32',
      ms_median: round(t.ms),
      runs: 5,
      gflops: round(t.gflops),
      pct_of_peak: round((100 * t.gflops) / r.gflops),
      adapter,
    })),
  ];
}
