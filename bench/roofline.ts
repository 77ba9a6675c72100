// The adapter's measured ceilings, against which kernels report pct_of_peak: FMA throughput
// (GFLOP/s) and device-memory copy bandwidth (GB/s). Measured once per device per process.
import type { Gpu } from '../src/runtime/device.ts';
import { empty } from '../src/runtime/tensor.ts';
import source from '../shaders/roofline.wgsl';
import { grid1d } from '../src/kernels/grid.ts';
import { round, timeRuns, type BenchResult } from './harness.ts';

export interface Roofline {
  gflops: number;
  gbps: number;
  /** Median milliseconds of the two microbenchmarks. */
  fmaMs: number;
  copyMs: number;
}

const cache = new WeakMap<Gpu, Promise<Roofline>>();

export function roofline(gpu: Gpu): Promise<Roofline> {
  let r = cache.get(gpu);
  if (!r) cache.set(gpu, (r = measure(gpu)));
  return r;
}

const FMA_THREADS = 1 << 16;
const FMA_ITERS = 1024;
const COPY_BYTES = 64 << 20;

async function fmaRate(gpu: Gpu): Promise<[number, number]> {
  const kernel = await gpu.pipelines.get({
    name: 'roofline',
    source,
    bindings: [{ name: 'dst', dtype: 'f32', access: 'read_write' }],
    uniforms: true,
    defines: { FMA: true },
  });
  const dst = empty(gpu, [FMA_THREADS]);
  const u = new Uint32Array([FMA_THREADS, FMA_ITERS, 0, 0]);
  const t = await timeRuns(gpu, async () => gpu.recorder.dispatch(kernel, [dst], u, grid1d(gpu, FMA_THREADS, 64), 'roofline fma'));
  dst.dispose();
  // 8 chains × 4 lanes × 2 flops per iteration.
  return [(FMA_THREADS * FMA_ITERS * 64) / (t.median * 1e6), t.median];
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
    defines: { FMA: false },
  });
  const src = empty(gpu, [n * 4]);
  const dst = empty(gpu, [n * 4]);
  const u = new Uint32Array([n, 0, 0, 0]);
  const t = await timeRuns(gpu, async () => gpu.recorder.dispatch(kernel, [src, dst], u, grid1d(gpu, n, 64), 'roofline copy'));
  src.dispose();
  dst.dispose();
  return [(2 * bytes) / (t.median * 1e6), t.median];
}

async function measure(gpu: Gpu): Promise<Roofline> {
  const [gflops, fmaMs] = await fmaRate(gpu);
  const [gbps, copyMs] = await copyRate(gpu);
  return { gflops, gbps, fmaMs, copyMs };
}

/** `npm run bench -- roofline`. */
export async function benchRoofline(gpu: Gpu): Promise<BenchResult[]> {
  const r = await roofline(gpu);
  const base = { op: 'peak', dtype: 'f32', runs: 5, pct_of_peak: 100, adapter: gpu.caps.adapterName };
  return [
    { ...base, variant: 'fma', shape: `${FMA_THREADS}x${FMA_ITERS}x32`, ms_median: round(r.fmaMs), gflops: round(r.gflops) },
    { ...base, variant: 'copy', shape: `${COPY_BYTES >> 20}MiB`, ms_median: round(r.copyMs), gbps: round(r.gbps) },
  ];
}
