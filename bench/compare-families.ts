// What `bench --compare` knows per kernel family: shape sets (the model's shapes and small
// awkward ones), random inputs, one call of the family's public wrapper, and a check against
// the CPU reference (src/kernels/reference.ts; sampled rows for large shapes). Browser-safe.
import attentionSource from '../shaders/attention.wgsl';
import conv2dSource from '../shaders/conv2d.wgsl';
import elementwiseSource from '../shaders/elementwise.wgsl';
import embeddingSource from '../shaders/embedding.wgsl';
import groupnormSource from '../shaders/groupnorm.wgsl';
import layoutSource from '../shaders/layout.wgsl';
import matmulSource from '../shaders/matmul.wgsl';
import normsSource from '../shaders/norms.wgsl';
import softmaxSource from '../shaders/softmax.wgsl';
import { attention } from '../src/kernels/attention.ts';
import { conv2d, disposeConv2d, prepareConv2d } from '../src/kernels/conv2d.ts';
import { add } from '../src/kernels/elementwise.ts';
import { embedding } from '../src/kernels/embedding.ts';
import { groupNorm } from '../src/kernels/groupnorm.ts';
import { patchify } from '../src/kernels/layout.ts';
import { linear } from '../src/kernels/matmul.ts';
import { layerNorm } from '../src/kernels/norms.ts';
import { attentionRow, conv2dPixel, groupNormStats, matmulRow, normRef, permuteRef, softmaxRow } from '../src/kernels/reference.ts';
import { softmax } from '../src/kernels/softmax.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { roundF16 } from '../src/runtime/f16.ts';
import { Rng } from '../src/runtime/random.ts';
import { BYTES, fromArray, type DType, type Tensor } from '../src/runtime/tensor.ts';
import { SD3_VAE } from './sd3.ts';

/** One problem instance: the same inputs for every candidate. */
export interface Problem {
  /** Floating-point operations (0 for memory-bound families: they report GB/s). */
  flops: number;
  /** Bytes moved at minimum (each operand read once, the output written once). */
  bytes: number;
  run(): Promise<Tensor>;
  /** Error of an output against the CPU reference. */
  check(out: Tensor): Promise<{ maxAbs: number; relL2: number }>;
  dispose(): void;
}

export interface ComparableFamily {
  /** The built-in WGSL (what an override replaces; the page starts its editor from it). */
  source: string;
  /** How an explicit shape is written, e.g. 'MxKxN'. */
  shapeForm: string;
  /** Named shape sets; every family has 'smoke' (small awkward shapes, seconds on a CPU adapter). */
  sets: Record<string, number[][]>;
  problem(gpu: Gpu, shape: number[], dtype: DType, seed: number): Problem;
}

/** max_abs and rel_l2 accumulated over the checked output rows. */
class ErrorSum {
  private maxAbs = 0;
  private num = 0;
  private den = 0;
  add(got: ArrayLike<number>, at: number, want: ArrayLike<number>): this {
    for (let n = 0; n < want.length; n++) {
      const d = Math.abs(got[at + n] - want[n]);
      this.maxAbs = Number.isNaN(d) || d > this.maxAbs ? d : this.maxAbs;
      this.num += d * d;
      this.den += want[n] * want[n];
    }
    return this;
  }
  result(): { maxAbs: number; relL2: number } {
    return { maxAbs: this.maxAbs, relL2: Math.sqrt(this.num / (this.den || 1)) };
  }
}

/** Random inputs as the kernel sees them: f16 storage rounds, so the reference gets the rounded values. */
function inputs(gpu: Gpu, rng: Rng, shape: number[], dtype: DType, lo = -1, hi = 1): { t: Tensor; ref: Float32Array } {
  const data = rng.uniformArray(shape.reduce((a, b) => a * b, 1), lo, hi);
  return { t: fromArray(gpu, data, shape, dtype), ref: dtype === 'f16' ? roundF16(data) : data };
}

/** Largest work (multiply-adds or elements) the reference spends per shape (sampled rows beyond). */
const REF_BUDGET = 6e7;

/** Evenly spaced rows including the first and the last, as many as `perRow` work each allows. */
function sampleRows(rows: number, perRow: number): number[] {
  const n = Math.max(1, Math.min(rows, Math.max(4, Math.floor(REF_BUDGET / perRow))));
  if (n === rows) return Array.from({ length: rows }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.round((i * (rows - 1)) / (n - 1 || 1)));
}

/** A problem whose check compares sampled rows of `width` outputs with `ref(row, into)`. */
function rowProblem(p: Omit<Problem, 'check'>, rows: number, width: number, perRow: number, ref: (row: number, into: Float64Array) => ArrayLike<number> | void): Problem {
  const sampled = sampleRows(rows, perRow);
  return {
    ...p,
    async check(out) {
      const got = await out.read();
      const want = new Float64Array(width);
      const e = new ErrorSum();
      for (const r of sampled) {
        e.add(got, r * width, ref(r, want) ?? want);
      }
      return e.result();
    },
  };
}

/** The VAE decoder's resolution levels at the 768² request: 96² latent at 512 channels up to 768² at 128 (SD3). */
function decoderLevels(blockChannels: readonly number[] = SD3_VAE.block_out_channels): { side: number; channels: number }[] {
  return [...blockChannels].reverse().map((channels, i) => ({ side: 96 << i, channels }));
}

/** The demo model's VAE (tools/tiny-model.ts DEMO_SPEC; that module is Node-only): channels per level, groups. */
const DEMO_VAE = { block_out_channels: [16, 16, 32, 32], norm_num_groups: 8 };

const disposeAll = (...ts: { dispose(): void }[]) => () => ts.forEach((t) => t.dispose());

// Linear layers as the models run them: y[M, N] = x[M, K] · W[N, K]ᵀ, shapes MxKxN.
const matmul: ComparableFamily = {
  source: matmulSource,
  shapeForm: 'MxKxN',
  sets: {
    // MMDiT at 768²: 4946 joint tokens (2·2304 image + 338 context), hidden 1536, MLP 6144.
    transformer: [[4946, 1536, 1536], [4946, 1536, 6144], [4946, 6144, 1536], [333, 4096, 1536]],
    // VAE mid-block attention at the 96×96 latent: 9216 tokens × 512 channels.
    vae: [[9216, 512, 512]],
    // T5-XXL (256 tokens: attention, gated-GELU MLP in and out), CLIP-G and CLIP-L MLPs (77 tokens).
    text: [[256, 4096, 4096], [256, 4096, 10240], [256, 10240, 4096], [77, 1280, 5120], [77, 3072, 768]],
    // Awkward sizes (not multiples of any tile, a single row): quick validation of an override.
    smoke: [[37, 64, 45], [1, 30, 7]],
  },
  problem(gpu, [M, K, N], dtype, seed) {
    const rng = new Rng(seed);
    const { t: x, ref: xr } = inputs(gpu, rng, [M, K], dtype);
    const { t: w, ref: wr } = inputs(gpu, rng, [N, K], dtype);
    const p = { flops: 2 * M * N * K, bytes: (M * K + N * K + M * N) * BYTES[dtype], run: () => linear(gpu, x, w), dispose: disposeAll(x, w) };
    return rowProblem(p, M, N, K * N, (m, want) => matmulRow(xr, wr, 0, m, M, N, K, true, want));
  },
};

// Attention as the models run it (one batch, heads interleaved in features), shapes TqxTkxHxD.
const attentionFamily: ComparableFamily = {
  source: attentionSource,
  shapeForm: 'TqxTkxHxD',
  sets: {
    // MMDiT joint attention at 768²: 4946 tokens, 24 heads of 64.
    transformer: [[4946, 4946, 24, 64]],
    // VAE mid-block attention: 9216 tokens, one head of 512.
    vae: [[9216, 9216, 1, 512]],
    // T5-XXL (256 tokens, 64 heads of 64) and CLIP-G (77 tokens, 20 heads of 64), unmasked here.
    text: [[256, 256, 64, 64], [77, 77, 20, 64]],
    smoke: [[37, 45, 2, 16], [1, 7, 1, 8]],
  },
  problem(gpu, [tq, tk, heads, d], dtype, seed) {
    const rng = new Rng(seed);
    const hd = heads * d;
    const { t: q, ref: qr } = inputs(gpu, rng, [1, tq, hd], dtype);
    const { t: k, ref: kr } = inputs(gpu, rng, [1, tk, hd], dtype);
    const { t: v, ref: vr } = inputs(gpu, rng, [1, tk, hd], dtype);
    const spec = { batch: 1, tq, tk, heads, headDim: d, scale: 1 / Math.sqrt(d) };
    const p = { flops: 4 * tq * tk * hd, bytes: (2 * tq + 2 * tk) * hd * BYTES[dtype], run: () => attention(gpu, q, k, v, { heads }), dispose: disposeAll(q, k, v) };
    const row = new Float32Array(hd);
    return rowProblem(p, tq, hd, 2 * tk * hd, (i) => {
      attentionRow(qr, kr, vr, spec, 0, i, row);
      return row;
    });
  },
};

// 'same' convolutions (stride 1, zero padding (k-1)/2), NHWC, shapes BxHxWxCinxCoutxK.
const conv2dFamily: ComparableFamily = {
  source: conv2dSource,
  shapeForm: 'BxHxWxCinxCoutxK',
  sets: {
    // The SD3 VAE decoder's 3×3 convolutions at the 768² request, one per resolution level.
    vae: decoderLevels().map(({ side, channels }) => [1, side, side, channels, channels, 3]),
    // The demo model's VAE at 768²: one 3×3 conv per decoder level, then the encoder's conv_in
    // (RGB in) and the decoder's conv_out (RGB out).
    demo: [
      ...decoderLevels(DEMO_VAE.block_out_channels).map(({ side, channels }) => [1, side, side, channels, channels, 3]),
      [1, 768, 768, 3, DEMO_VAE.block_out_channels[0], 3],
      [1, 768, 768, DEMO_VAE.block_out_channels[0], 3, 3],
    ],
    smoke: [[2, 5, 7, 6, 10, 3], [1, 1, 13, 20, 8, 1]],
  },
  problem(gpu, [B, H, W, cin, cout, k], dtype, seed) {
    const rng = new Rng(seed);
    const { t: x, ref: xr } = inputs(gpu, rng, [B, H, W, cin], dtype);
    // Weights are prepared (re-laid out and stored) in the run's dtype; the reference sees them rounded alike.
    const w = rng.uniformArray(cout * cin * k * k, -0.5, 0.5);
    const bias = rng.uniformArray(cout);
    const wr = dtype === 'f16' ? roundF16(w) : w;
    const br = dtype === 'f16' ? roundF16(bias) : bias;
    const cw = prepareConv2d(gpu, w, [cout, cin, k, k], bias, dtype);
    const c = { H, W, cin, cout, k, stride: 1, pad: (k - 1) / 2 };
    const p = {
      flops: 2 * B * H * W * cout * cin * k * k,
      bytes: (B * H * W * (cin + cout) + cout * cin * k * k) * BYTES[dtype],
      run: () => conv2d(gpu, x, cw),
      dispose: () => (x.dispose(), disposeConv2d(cw)),
    };
    return rowProblem(p, B * H * W, cout, cout * cin * k * k, (r, want) => conv2dPixel(xr, wr, br, c, Math.floor(r / (H * W)), Math.floor(r / W) % H, r % W, want));
  },
};

// GroupNorm + SiLU over channels-last x [B, P, C] (the VAE's), shapes BxPxCxG.
const groupnorm: ComparableFamily = {
  source: groupnormSource,
  shapeForm: 'BxPxCxG',
  sets: {
    // The VAE decoder's GroupNorms (32 groups) at the 768² request, one per resolution level.
    vae: decoderLevels().map(({ side, channels }) => [1, side * side, channels, SD3_VAE.norm_num_groups]),
    demo: decoderLevels(DEMO_VAE.block_out_channels).map(({ side, channels }) => [1, side * side, channels, DEMO_VAE.norm_num_groups]),
    smoke: [[1, 35, 8, 2], [2, 33, 12, 4], [1, 1, 6, 3]],
  },
  problem(gpu, [B, P, C, G], dtype, seed) {
    const rng = new Rng(seed);
    const eps = 1e-6;
    const { t: x, ref: xr } = inputs(gpu, rng, [B, P, C], dtype);
    const { t: gamma, ref: gr } = inputs(gpu, rng, [C], dtype);
    const { t: beta, ref: br } = inputs(gpu, rng, [C], dtype);
    const stats = groupNormStats(xr, B, P, C, G, eps);
    const p = { flops: 0, bytes: 2 * B * P * C * BYTES[dtype], run: () => groupNorm(gpu, x, { gamma, beta, groups: G, eps }, { silu: true }), dispose: disposeAll(x, gamma, beta) };
    return rowProblem(p, B * P, C, C, (r, want) => {
      const b = Math.floor(r / P);
      for (let c = 0; c < C; c++) {
        const g = b * G + Math.floor(c / (C / G));
        const y = (xr[r * C + c] - stats.mean[g]) * stats.rstd[g] * gr[c] + br[c];
        want[c] = y / (1 + Math.exp(-y));
      }
    });
  },
};

// LayerNorm with weight and bias over the last dimension, shapes RxC.
const norms: ComparableFamily = {
  source: normsSource,
  shapeForm: 'RxC',
  sets: {
    transformer: [[4946, 1536]],
    text: [[256, 4096], [77, 1280]],
    smoke: [[37, 48], [1, 20]],
  },
  problem(gpu, [R, C], dtype, seed) {
    const rng = new Rng(seed);
    const eps = 1e-6;
    const { t: x, ref: xr } = inputs(gpu, rng, [R, C], dtype, -2, 3);
    const { t: weight, ref: wr } = inputs(gpu, rng, [C], dtype);
    const { t: bias, ref: br } = inputs(gpu, rng, [C], dtype);
    const p = { flops: 0, bytes: 2 * R * C * BYTES[dtype], run: () => layerNorm(gpu, x, { eps, weight, bias }), dispose: disposeAll(x, weight, bias) };
    return rowProblem(p, R, C, C, (r) => normRef(xr.subarray(r * C, (r + 1) * C), C, { eps, weight: wr, bias: br }));
  },
};

// Elementwise: a + b over N elements (the residual adds).
const elementwise: ComparableFamily = {
  source: elementwiseSource,
  shapeForm: 'N',
  sets: {
    transformer: [[4946 * 1536]],
    vae: [[768 * 768 * 128]],
    smoke: [[1001], [3]],
  },
  problem(gpu, [N], dtype, seed) {
    const rng = new Rng(seed);
    const { t: a, ref: ar } = inputs(gpu, rng, [N], dtype);
    const { t: b, ref: br } = inputs(gpu, rng, [N], dtype);
    const width = Math.min(N, 4096);
    const p = { flops: 0, bytes: 3 * N * BYTES[dtype], run: () => add(gpu, a, b), dispose: disposeAll(a, b) };
    return rowProblem(p, Math.ceil(N / width), width, width, (r, want) => {
      const n = Math.min(width, N - r * width); // the last row may be short
      for (let i = 0; i < n; i++) want[i] = ar[r * width + i] + br[r * width + i];
      return want.subarray(0, n);
    });
  },
};

// Softmax over the last dimension, shapes RxN.
const softmaxFamily: ComparableFamily = {
  source: softmaxSource,
  shapeForm: 'RxN',
  sets: {
    // Score rows of the MMDiT's joint attention (one head) and of T5's (64 heads × 256 queries).
    transformer: [[4946, 4946]],
    text: [[64 * 256, 256]],
    smoke: [[37, 45], [1, 7]],
  },
  problem(gpu, [R, N], dtype, seed) {
    const rng = new Rng(seed);
    const { t: x, ref: xr } = inputs(gpu, rng, [R, N], dtype, -4, 4);
    const p = { flops: 0, bytes: 2 * R * N * BYTES[dtype], run: () => softmax(gpu, x), dispose: disposeAll(x) };
    return rowProblem(p, R, N, N, (r, want) => softmaxRow(xr, N, r, want));
  },
};

// Layout: the MMDiT's patchify (2×2 patches of the latent into tokens), shapes BxCxHxW (H, W even).
const layout: ComparableFamily = {
  source: layoutSource,
  shapeForm: 'BxCxHxW',
  sets: {
    // The 768² request's 96² latent of 16 channels, batch 2 with CFG.
    transformer: [[2, 16, 96, 96]],
    smoke: [[2, 3, 6, 10], [1, 5, 2, 14]],
  },
  problem(gpu, [B, C, H, W], dtype, seed) {
    if (H % 2 || W % 2) throw new Error(`layout: H ${H} and W ${W} must be even (2×2 patches)`);
    const rng = new Rng(seed);
    const { t: x, ref: xr } = inputs(gpu, rng, [B, C, H, W], dtype);
    const [h, w] = [H / 2, W / 2];
    const want = permuteRef(xr, [B, C, h, 2, w, 2], [0, 2, 4, 1, 3, 5]);
    const p = { flops: 0, bytes: 2 * B * C * H * W * BYTES[dtype], run: () => patchify(gpu, x, 2), dispose: disposeAll(x) };
    return rowProblem(p, B * h * w, 4 * C, 4 * C, (r) => want.subarray(r * 4 * C, (r + 1) * 4 * C));
  },
};

// Embedding lookup: T ids into a V×C table, shapes VxCxT.
const embeddingFamily: ComparableFamily = {
  source: embeddingSource,
  shapeForm: 'VxCxT',
  sets: {
    // CLIP-L's token table and 77 tokens.
    text: [[49408, 768, 77]],
    smoke: [[50, 24, 7], [3, 8, 1]],
  },
  problem(gpu, [V, C, T], dtype, seed) {
    const rng = new Rng(seed);
    const { t: table, ref: tr } = inputs(gpu, rng, [V, C], dtype);
    const ids = Uint32Array.from({ length: T }, () => Math.floor(rng.uniform() * V));
    const p = { flops: 0, bytes: 2 * T * C * BYTES[dtype] + 4 * T, run: () => embedding(gpu, table, ids), dispose: disposeAll(table) };
    return rowProblem(p, T, C, C, (r) => tr.subarray(ids[r] * C, (ids[r] + 1) * C));
  },
};

/** Every family `bench --compare` can run, keyed by the family's registry name (its shader's basename). */
export const FAMILIES: Record<string, ComparableFamily> = {
  matmul,
  attention: attentionFamily,
  conv2d: conv2dFamily,
  groupnorm,
  norms,
  elementwise,
  softmax: softmaxFamily,
  layout,
  embedding: embeddingFamily,
};
