// Attention variants at DICEPTION's shapes: ms (median of 5 after a warm-up) and GFLOP/s
// (4·B·H·Tq·Tk·D) as % of the adapter's FMA peak.
// Run: npm run bench -- attention [--full] [--all]
// Default shapes are scaled down so a CPU adapter finishes in about a minute (--full: the real
// ones); default variant: the registry's choice, labelled 'auto' (--all: every variant; on
// llvmpipe the tiled ones take minutes to build).
import type { Gpu } from '../src/runtime/device.ts';
import { attention, attentionVariants, type AttentionVariant } from '../src/kernels/attention.ts';
import { Rng } from '../src/runtime/random.ts';
import { fromArray, type DType } from '../src/runtime/tensor.ts';
import { flopsRow, timeRuns, type BenchResult } from './harness.ts';
import { roofline } from './roofline.ts';

export interface Shape {
  label: string;
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
}

/** MMDiT joint attention at 768² (4946 tokens) and 512² (850 tokens, as briefed), and the VAE mid-block. */
export const FULL_SHAPES: Shape[] = [
  { label: 'mmdit 768²', batch: 2, tokens: 4946, heads: 24, headDim: 64 },
  { label: 'mmdit 768²', batch: 1, tokens: 4946, heads: 24, headDim: 64 },
  { label: 'mmdit 512²', batch: 1, tokens: 850, heads: 24, headDim: 64 },
  { label: 'vae mid 768²', batch: 1, tokens: 9216, heads: 1, headDim: 512 },
];
export const QUICK_SHAPES: Shape[] = [
  { label: 'mmdit (T/8, H/4)', batch: 1, tokens: 618, heads: 6, headDim: 64 },
  { label: 'vae mid (T/8)', batch: 1, tokens: 1152, heads: 1, headDim: 512 },
];

export async function benchAttention(
  gpu: Gpu,
  o: { full?: boolean; shapes?: Shape[]; variants?: AttentionVariant[] | 'all'; dtype?: DType } = {},
): Promise<BenchResult[]> {
  const dtype = o.dtype ?? 'f32';
  const peak = (await roofline(gpu)).gflops;
  const results: BenchResult[] = [];
  for (const s of o.shapes ?? (o.full ? FULL_SHAPES : QUICK_SHAPES)) {
    const n = s.batch * s.tokens * s.heads * s.headDim;
    const rng = new Rng(1);
    const [q, k, v] = [0, 1, 2].map(() => fromArray(gpu, rng.uniformArray(n, -1, 1), [s.batch, s.tokens, s.heads * s.headDim], dtype));
    const variants = o.variants === 'all' ? attentionVariants(gpu) : (o.variants ?? [undefined]);
    for (const variant of variants) {
      const t = await timeRuns(gpu, async () => (await attention(gpu, q, k, v, { heads: s.heads, variant })).dispose());
      const flops = 4 * s.batch * s.heads * s.tokens * s.tokens * s.headDim;
      results.push(flopsRow(gpu, { op: 'attention', variant: variant ?? 'auto', shape: `${s.label}: B${s.batch} T${s.tokens} H${s.heads}×${s.headDim}`, dtype }, t, flops, peak));
    }
    for (const t of [q, k, v]) t.dispose();
  }
  return results;
}
