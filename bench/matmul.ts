// `npm run bench -- matmul`: every variant this adapter supports (the naive baseline, the
// register-blocked ones, the workgroup-memory ones) on 1024³, then DICEPTION's transformer
// shapes (4946 joint tokens = 2·2304 image + 333 text + 5 point tokens; 1536 hidden, 6144 MLP)
// with the fastest one, in f32 and f16 and with 8-bit weights (f16 activations × q8 weights,
// groups of 64; `gbps` counts the weight's bytes read once). `--quick` stops after the variants;
// `--quick --shape MxNxK` lists them on that shape instead of 1024³ (a smoke run).
import { linear, MATMUL_VARIANTS } from '../src/kernels/matmul.ts';
import { uploadQ8 } from '../src/kernels/q8.ts';
import { setKernelChoice } from '../src/kernels/registry.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { quantizeQ8 } from '../src/runtime/q8.ts';
import { Rng } from '../src/runtime/random.ts';
import { fromArray, type DType } from '../src/runtime/tensor.ts';
import { flopsRow, round, timeRuns, type BenchResult } from './harness.ts';
import { benchRoofline, roofline } from './roofline.ts';
import type { BenchOptions } from './run.ts';

type Shape = [M: number, N: number, K: number];

const CUBE: Shape = [1024, 1024, 1024];
export const MODEL_SHAPES: Shape[] = [
  [4946, 1536, 1536], // attention projections of the joint sequence
  [4946, 6144, 1536], // MLP up
  [4946, 1536, 6144], // MLP down
  [2304, 1536, 1536], // image-token projections of one sample
];

/** x [M, K] in `dtype` times a weight [N, K] in `dtype`, or 8-bit with `q8`. */
async function one(gpu: Gpu, variant: string, [M, N, K]: Shape, dtype: DType, peak: number, q8 = false): Promise<BenchResult> {
  const x = fromArray(gpu, new Rng(1).uniformArray(M * K, -1, 1), [M, K], dtype);
  const values = new Rng(2).uniformArray(N * K, -1, 1);
  const w = q8 ? uploadQ8(gpu, quantizeQ8(values, N, K)) : fromArray(gpu, values, [N, K], dtype);
  setKernelChoice('matmul', variant);
  try {
    const t = await timeRuns(gpu, async () => (await linear(gpu, x, w)).dispose());
    const row = flopsRow(gpu, { op: 'linear', variant, shape: `${M}x${N}x${K}`, dtype: q8 ? `${dtype}.q8` : dtype }, t, 2 * M * N * K, peak);
    return { ...row, gbps: round(w.byteLength / (t.median * 1e6)) };
  } finally {
    setKernelChoice('matmul', undefined);
    x.dispose();
    w.dispose();
  }
}

/** "MxNxK" -> [M, N, K]. */
function parseShape(s: string): Shape {
  const d = s.split('x').map(Number);
  if (d.length !== 3 || !d.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`bench matmul: --shape '${s}' is not MxNxK`);
  return d as Shape;
}

export async function benchMatmul(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  // The peak rows come first: on a shared machine the ceiling moves, so compare within one run.
  const results: BenchResult[] = await benchRoofline(gpu);
  const peak = (await roofline(gpu)).gflops;
  const variants = MATMUL_VARIANTS.filter((v) => v.supports(gpu.caps)).map((v) => v.name);
  const cube: BenchResult[] = [];
  const listing = o.quick && o.shape ? parseShape(o.shape) : CUBE;
  for (const v of variants) cube.push(await one(gpu, v, listing, 'f32', peak));
  results.push(...cube);
  if (o.quick) return results;
  const fastest = (rows: BenchResult[]) => rows.reduce((a, b) => (b.gflops! > a.gflops! ? b : a)).variant;
  const best = fastest(cube.filter((r) => r.variant !== 'naive'));
  // The subgroup-matrix kernels read no 8-bit weights.
  const readsQ8 = (name: string) => !MATMUL_VARIANTS.find((v) => v.name === name)!.subgroupMatrix;
  const bestQ8 = fastest(cube.filter((r) => r.variant !== 'naive' && readsQ8(r.variant)));
  for (const shape of o.shape ? [parseShape(o.shape)] : MODEL_SHAPES) {
    for (const v of o.all ? variants : [best]) {
      for (const dtype of ['f32', 'f16'] as const) results.push(await one(gpu, v, shape, dtype, peak));
    }
    for (const v of o.all ? variants.filter(readsQ8) : [bestQ8]) results.push(await one(gpu, v, shape, 'f16', peak, true));
  }
  return results;
}
