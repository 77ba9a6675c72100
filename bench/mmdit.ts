// One MMDiT forward at SD3-medium width (1536 = 24 heads × 64) with random weights and
// `layers` blocks (default 2; the last is context_pre_only, as in the real model), on a 32×32
// latent: 2·256 image+condition tokens + 333 prompt + 5 point tokens = 850 tokens. A first
// forward compiles pipelines and autotunes kernels (reported as warmupMs); the second is timed,
// with a sync at each block boundary to split it by block.
//   diception bench mmdit [--quick: 1 block] [--full: 96² latent] [--json]; benchMMDiT() takes the other options
//   (layers, latent, precision, batch, warmup, profile = per-kernel GPU time; config, promptTokens
//   and splitBlocks for the GPU pack's step timing, tools/gpu-pack).
import '../src/runtime/node.ts';
import { MMDiT } from '../src/model/mmdit.ts';
import { transformerParams, type TransformerConfig } from '../src/model/param-lists.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { f32ArrayToF16 } from '../src/runtime/f16.ts';
import { Profiler, type KernelTime } from '../src/runtime/profiler.ts';
import { Rng } from '../src/runtime/random.ts';
import type { TensorEntry } from '../src/runtime/safetensors.ts';
import { MemorySource } from '../src/runtime/source.ts';
import { fromArray, type Tensor } from '../src/runtime/tensor.ts';
import type { WeightReader } from '../src/runtime/weights.ts';
import type { BenchResult } from './harness.ts';
import type { BenchOptions } from './run.ts';
import { SD3_TRANSFORMER } from './sd3.ts';

const PROMPT_TOKENS = 333;

export interface MMDiTBenchOptions {
  layers: number;
  /** Latent side (the image is 8× that). */
  latent: number;
  precision: 'f32' | 'f16';
  batch: number;
  warmup: boolean;
  /** Per-kernel GPU time of the timed forward (runtime/profiler.ts). */
  profile: boolean;
  /** Changes to SD3-medium's config (e.g. a narrow model for quick runs on CPU adapters). */
  config?: Partial<TransformerConfig>;
  /** Prompt tokens (default 333, the real CLIP+T5 length). */
  promptTokens?: number;
  /** False: time the forward without the per-block syncs (a real step's time; blockMs empty). */
  splitBlocks?: boolean;
  /** Kernels kept in `profile` (default the top 12). */
  kernelRows?: number;
}

/** Every tensor reads the front of one shared block of small random f16 values. */
function randomWeights(config: TransformerConfig): WeightReader {
  const sh = Object.fromEntries(transformerParams(config).map((p) => [p.name, p.shape]));
  const largest = Math.max(...Object.values(sh).map((d) => d.reduce((x, y) => x * y, 1)));
  const values = new Rng(7).uniformArray(largest, -0.03, 0.03);
  const bits = f32ArrayToF16(values);
  const src = new MemorySource('random', new Uint8Array(bits.buffer));
  const entry = (name: string): TensorEntry => {
    const shape = sh[name];
    if (!shape) throw new Error(`random: tensor '${name}' not found`);
    const n = shape.reduce((x, y) => x * y, 1);
    return { name, dtype: 'F16', shape, offset: 0, byteLength: 2 * n, source: src };
  };
  return { name: 'random', names: () => Object.keys(sh), has: (n) => n in sh, entry };
}

export async function benchMMDiT(gpu: Gpu, o: MMDiTBenchOptions) {
  const { layers, latent: S, batch: B, precision } = o;
  const config = { ...SD3_TRANSFORMER, ...o.config, num_layers: layers };
  const C = config.caption_projection_dim;
  const PROMPT = o.promptTokens ?? PROMPT_TOKENS;
  let t0 = performance.now();
  const model = await MMDiT.load(gpu, randomWeights(config), config, precision);
  await gpu.sync('load');
  const loadMs = performance.now() - t0;
  const rng = new Rng(1);
  const inputs = [
    fromArray(gpu, rng.normal(B * 16 * S * S), [B, 16, S, S]),
    fromArray(gpu, rng.normal(B * 16 * S * S), [B, 16, S, S]),
    fromArray(gpu, rng.normal(B * 5 * C), [B, 5, C]),
    fromArray(gpu, rng.normal(B * PROMPT * config.joint_attention_dim), [B, PROMPT, config.joint_attention_dim]),
    fromArray(gpu, rng.normal(B * config.pooled_projection_dim), [B, config.pooled_projection_dim]),
  ];
  const [x, cond, points, prompt, pooled] = inputs;
  const forward = async (blocks?: number[]) => {
    let mark = 0;
    const out = await model.forward(x, cond, points, new Array(B).fill(500), prompt, pooled, async (name) => {
      if (!blocks || (name !== 'temb' && !name.endsWith('_hidden'))) return;
      await gpu.sync(name);
      const now = performance.now();
      if (name !== 'temb') blocks.push(now - mark);
      mark = now;
    });
    const v = await out.read();
    out.dispose();
    return v;
  };
  let warmupMs: number | undefined;
  if (o.warmup) {
    t0 = performance.now();
    await forward();
    warmupMs = performance.now() - t0;
  }
  const blocks: number[] = [];
  const profiler = o.profile ? new Profiler(gpu) : undefined;
  await profiler?.start();
  t0 = performance.now();
  const v = await forward(o.splitBlocks === false ? undefined : blocks);
  const forwardMs = performance.now() - t0;
  const kernels = await profiler?.stop();
  for (const t of inputs as Tensor[]) t.dispose();
  model.dispose();
  return {
    bench: 'mmdit',
    adapter: gpu.caps.adapterName,
    precision,
    f16Shaders: gpu.caps.f16,
    hidden: C,
    heads: config.num_attention_heads,
    layers,
    batch: B,
    latent: [16, S, S],
    tokens: 2 * (S / 2) ** 2 + PROMPT + 5,
    loadMs: Math.round(loadMs),
    warmupMs: warmupMs === undefined ? undefined : Math.round(warmupMs),
    forwardMs: Math.round(forwardMs),
    /** Per block; the last block is context_pre_only (no context MLP). */
    blockMs: blocks.map(Math.round),
    finite: v.every(Number.isFinite),
    profile: profiler && { mode: profiler.mode, kernels: kernels!.slice(0, o.kernelRows ?? 12).map((k) => ({ ...k, ms: Math.round(k.ms) })) },
  };
}

/** The kinds of work a block's time is split into (`--profile`), by kernel label. */
const KINDS: [string, RegExp][] = [
  ['linears', /^(linear|matmul|q8)/i],
  ['attention', /^attention/i],
  ['norms', /norm/i],
];
export const kindOf = (label: string) => KINDS.find(([, re]) => re.test(label))?.[0] ?? 'elementwise';

/** Kernel time per kind of work, summed over the forward, in the order of KINDS then elementwise. */
export function splitByKind(kernels: KernelTime[]): { kind: string; ms: number; calls: number; labels: string[] }[] {
  const out = [...KINDS.map(([k]) => k), 'elementwise'].map((kind) => ({ kind, ms: 0, calls: 0, labels: [] as string[] }));
  for (const k of kernels) {
    const row = out.find((r) => r.kind === kindOf(k.label))!;
    row.ms += k.ms;
    row.calls += k.calls;
    row.labels.push(k.label);
  }
  return out;
}

/**
 * `diception bench mmdit [--quick] [--full] [--profile] [--json]`: the timed forward's blocks and
 * total, f16; --profile times every kernel of a second forward and splits a block's time into
 * linears, attention, norms and elementwise (the profiled forward runs dispatch by dispatch on
 * adapters without working timestamps, so its total is not the step time).
 */
export async function benchMMDiTFamily(gpu: Gpu, o: BenchOptions): Promise<BenchResult[]> {
  // --full: the 768² request's latent (96², 4946 tokens) instead of 32² (850 tokens).
  const r = await benchMMDiT(gpu, { layers: o.quick ? 1 : 2, latent: o.full ? 96 : 32, precision: 'f16', batch: 1, warmup: true, profile: false });
  if (!r.finite) throw new Error('bench mmdit: the forward produced non-finite values');
  const row = (op: string, ms: number): BenchResult => ({
    op,
    variant: r.precision,
    shape: `${r.tokens} tokens x ${r.hidden}`,
    dtype: r.precision,
    ms_median: Math.round(ms),
    runs: 1,
    adapter: r.adapter,
  });
  const rows = [...r.blockMs.map((ms, i) => row(`mmdit block ${i}${i === r.layers - 1 ? ' (context_pre_only)' : ''}`, ms)), row('mmdit forward', r.forwardMs)];
  if (!o.profile) return rows;
  const p = await benchMMDiT(gpu, { layers: r.layers, latent: o.full ? 96 : 32, precision: 'f16', batch: 1, warmup: false, profile: true, splitBlocks: false, kernelRows: Infinity });
  const split = splitByKind(p.profile!.kernels);
  const total = split.reduce((a, k) => a + k.ms, 0);
  for (const k of split) {
    const share = total > 0 ? (100 * k.ms) / total : 0;
    rows.push({
      ...row(`mmdit per block: ${k.kind}`, k.ms / r.layers),
      note: `${share.toFixed(1)}% of the profiled forward (${p.profile!.mode} timing); ${k.calls} dispatches over ${r.layers} blocks: ${k.labels.join(', ') || 'none'}`,
    });
  }
  return rows;
}
