// Bandwidth of the model's small kernels at DICEPTION shapes (4946 tokens of 1536, MLP hidden
// 2×4946×6144), as % of the adapter's copy bandwidth. `npm run bench -- ops [--quick: f32 only]`.
import { activation } from '../src/kernels/activation.ts';
import { layerNorm } from '../src/kernels/norms.ts';
import { concatTokens } from '../src/kernels/layout.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { BYTES, empty, type DType, type Tensor } from '../src/runtime/tensor.ts';
import { round, timeRuns, type BenchResult } from './harness.ts';
import { roofline } from './roofline.ts';
import type { BenchOptions } from './run.ts';

export async function benchOps(gpu: Gpu, o: BenchOptions = {}): Promise<BenchResult[]> {
  const dtypes: DType[] = o.quick ? ['f32'] : ['f32', 'f16'];
  const peak = (await roofline(gpu)).gbps;
  const results: BenchResult[] = [];
  for (const dtype of dtypes) {
    if (dtype === 'f16' && !gpu.caps.f16) continue;
    const e = BYTES[dtype];
    const cases: { op: string; variant: string; shape: number[]; bytes: number; run: (x: Tensor) => Promise<Tensor> }[] = [];
    const tokens = [4946, 1536];
    const mod = empty(gpu, [1, 6 * 1536], dtype);
    cases.push({ op: 'layerNorm', variant: 'plain', shape: tokens, bytes: 2 * 4946 * 1536 * e, run: (x) => layerNorm(gpu, x, { eps: 1e-6 }) });
    cases.push({
      op: 'layerNorm',
      variant: 'adaLN',
      shape: tokens,
      bytes: 2 * 4946 * 1536 * e,
      run: (x) => layerNorm(gpu, x, { eps: 1e-6, shift: { tensor: mod, chunk: 0, chunks: 6 }, scale: { tensor: mod, chunk: 1, chunks: 6 } }),
    });
    const hidden = [2, 4946, 6144];
    cases.push({ op: 'activation', variant: 'gelu_tanh', shape: hidden, bytes: 2 * 2 * 4946 * 6144 * e, run: (x) => activation(gpu, x, 'gelu_tanh') });
    const ctx = empty(gpu, [2, 338, 1536], dtype);
    cases.push({
      op: 'concatTokens',
      variant: 'image+context',
      shape: [2, 4608 + 338, 1536],
      bytes: 2 * 2 * 4946 * 1536 * e,
      run: (x) => concatTokens(gpu, [x, ctx]),
    });
    for (const c of cases) {
      const inShape = c.op === 'concatTokens' ? [2, 4608, 1536] : c.shape;
      const x = empty(gpu, inShape, dtype);
      // Unwritten pool memory may hold NaN patterns that slow some paths: zero it first.
      gpu.recorder.write(x.buffer, x.offset, new Uint8Array(x.byteLength));
      const t = await timeRuns(gpu, async () => (await c.run(x)).dispose());
      x.dispose();
      const gbps = c.bytes / t.median / 1e6;
      results.push({
        op: c.op,
        variant: c.variant,
        shape: c.shape.join('x'),
        dtype,
        ms_median: round(t.median, 4),
        runs: t.runs,
        gbps: round(gbps),
        pct_of_peak: round((100 * gbps) / peak),
        adapter: gpu.caps.adapterName,
      });
    }
    mod.dispose();
    ctx.dispose();
  }
  return results;
}
