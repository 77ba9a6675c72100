// Attention variants at DICEPTION's shapes: ms (median of ≥ 6 after a warm-up) and GFLOP/s
// (FLOPS below: 4·B·H·Tq·Tk·D) as % of the adapter's FMA peak, and as a ratio to the linear
// 4946×1536×1536 timed in the same interleaved rounds (the target: ≥ 0.8 of it).
// Run: npm run bench -- attention [--full] [--all]
// Default shapes are scaled down so a CPU adapter finishes in about a minute (--full: the real
// ones); default variant: the registry's choice, labelled 'auto' (--all: every variant; on
// llvmpipe the tiled ones take minutes to build).
import type { Gpu } from '../src/runtime/device.ts';
import { attention, attentionFits, attentionVariants, type AttentionVariant } from '../src/kernels/attention.ts';
import { linear } from '../src/kernels/matmul.ts';
import { Rng } from '../src/runtime/random.ts';
import { fromArray, type DType } from '../src/runtime/tensor.ts';
import { interleavedRounds, ratioCI } from '../src/kernels/timing-stats.ts';
import { flopsRow, round, timeOnce, timeRuns, timingOf, type BenchResult } from './harness.ts';
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
/** The FLOP count of every attention row: QKᵀ and P·V, one multiply-add (2 FLOP) per term each. */
export const FLOPS = '4·B·H·Tq·Tk·D';

/** The reference product: the joint sequence's attention projections (x[4946, 1536] · W[1536, 1536]ᵀ); quick runs use a 618-token slice. */
const LINEAR_FULL = [4946, 1536, 1536] as const;
const LINEAR_QUICK = [618, 1536, 1536] as const;

export const QUICK_SHAPES: Shape[] = [
  { label: 'mmdit (T/8, H/4)', batch: 1, tokens: 618, heads: 6, headDim: 64 },
  { label: 'vae mid (T/8)', batch: 1, tokens: 1152, heads: 1, headDim: 512 },
];

export async function benchAttention(
  gpu: Gpu,
  o: { full?: boolean; shapes?: Shape[]; variants?: AttentionVariant[] | 'all'; dtype?: DType; reference?: boolean } = {},
): Promise<BenchResult[]> {
  const dtype = o.dtype ?? 'f32';
  const peak = (await roofline(gpu)).gflops;
  // Unless turned off (default: off where the caller chose the shapes, as the GPU pack does), the
  // linear is timed with each shape's attention rows, which divide by it: the load of a shared
  // machine drifts over a long run.
  const linearShape = o.full ? LINEAR_FULL : LINEAR_QUICK;
  const rows: BenchResult[] = [];
  for (const s of o.shapes ?? (o.full ? FULL_SHAPES : QUICK_SHAPES)) {
    const n = s.batch * s.tokens * s.heads * s.headDim;
    const rng = new Rng(1);
    const [q, k, v] = [0, 1, 2].map(() => fromArray(gpu, rng.uniformArray(n, -1, 1), [s.batch, s.tokens, s.heads * s.headDim], dtype));
    const variants = o.variants === 'all' ? attentionVariants(gpu).filter((x) => attentionFits(x, s.headDim)) : (o.variants ?? [undefined]);
    const flops = 4 * s.batch * s.heads * s.tokens * s.tokens * s.headDim;
    const what = (variant: AttentionVariant | undefined) => ({ op: 'attention', variant: variant ?? 'auto', shape: `${s.label}: B${s.batch} T${s.tokens} H${s.heads}×${s.headDim}`, dtype });
    const run = (variant: AttentionVariant | undefined) => async () => (await attention(gpu, q, k, v, { heads: s.heads, variant })).dispose();
    if (o.reference ?? !o.shapes) {
      // The linear and the variants run in shuffled rounds: the ratio is the median of per-round
      // ratios, so a slowdown of the shared machine that hits a whole round cancels out.
      const ref = await linearInput(gpu, linearShape, dtype);
      const fns = [ref.run, ...variants.map(run)];
      const samples = await interleavedRounds(fns.length, (i) => timeOnce(fns[i], () => gpu.sync('bench')), { rounds: RUNS, warmup: 1 });
      ref.dispose();
      const [m, nn, kd] = linearShape;
      const refFlops = 2 * m * nn * kd;
      const refRow = flopsRow(gpu, { op: 'linear', variant: 'auto', shape: `${m}x${nn}x${kd}`, dtype }, timingOf(samples[0]), refFlops, peak);
      rows.push({ ...refRow, note: 'reference for the attention rows, timed in the same rounds (FLOPs 2·M·N·K)' });
      variants.forEach((variant, i) => {
        // GFLOP/s ratio = (flops / refFlops) ÷ (attention time ÷ linear time), per round.
        const t = ratioCI(samples[0], samples[i + 1]);
        const [ratio, lo, hi] = [t.ratio, t.hi, t.lo].map((x) => round(flops / refFlops / x));
        const row = flopsRow(gpu, what(variant), timingOf(samples[i + 1]), flops, peak);
        rows.push({ ...row, ratio, note: `FLOPs ${FLOPS}; ratio: GFLOP/s ÷ the linear ${refRow.shape}'s, median of ${samples[0].length} interleaved rounds, 95% CI [${lo}, ${hi}]` });
      });
    } else {
      for (const variant of variants) rows.push(flopsRow(gpu, what(variant), await timeRuns(gpu, run(variant)), flops, peak));
    }
    for (const t of [q, k, v]) t.dispose();
  }
  return rows;
}

/** Timed runs per row (interleaved rounds: at least MIN_ROUNDS). */
const RUNS = 6;

/** The registry's matmul for x[M, K] · W[N, K]ᵀ (the reference the attention rows divide by), ready to run. */
async function linearInput(gpu: Gpu, [m, n, kd]: readonly [number, number, number], dtype: DType) {
  const rng = new Rng(2);
  const x = fromArray(gpu, rng.uniformArray(m * kd, -1, 1), [m, kd], dtype);
  const w = fromArray(gpu, rng.uniformArray(n * kd, -1, 1), [n, kd], dtype);
  return {
    run: async () => (await linear(gpu, x, w)).dispose(),
    dispose: () => {
      x.dispose();
      w.dispose();
    },
  };
}
