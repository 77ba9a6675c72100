import { describe, expect, it } from 'vitest';
import { attention, attentionVariants, chooseAttention, type AttentionVariant } from '../../src/kernels/attention.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray, type DType } from '../../src/runtime/tensor.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { attentionRef } from './attention.ref.ts';

interface Case {
  batch: number;
  tq: number;
  tk: number;
  heads: number;
  headDim: number;
  causal?: boolean;
  bias?: boolean;
  scale?: number;
}

const name = (c: Case) =>
  `B${c.batch} Tq${c.tq} Tk${c.tk} H${c.heads}×${c.headDim}${c.causal ? ' causal' : ''}${c.bias ? ' bias' : ''}${c.scale !== undefined ? ` scale ${c.scale}` : ''}`;

async function runCase(gpu: Gpu, c: Case, dtype: DType, variant?: AttentionVariant): Promise<void> {
  const hd = c.heads * c.headDim;
  const seed = c.tq * 7 + c.tk * 13 + hd;
  // Scores of a few units: peaked enough that a wrong max/rescale shows.
  const round = (x: Float32Array) => (dtype === 'f16' ? roundF16(x) : x);
  const q = round(rand(c.batch * c.tq * hd, seed, -2, 2));
  const k = round(rand(c.batch * c.tk * hd, seed + 1, -2, 2));
  const v = round(rand(c.batch * c.tk * hd, seed + 2));
  const bias = c.bias ? round(rand(c.heads * c.tq * c.tk, seed + 3, -3, 3)) : undefined;
  const scale = c.scale ?? 1 / Math.sqrt(c.headDim);
  const expected = attentionRef(q, k, v, { ...c, scale, bias });
  const tq = fromArray(gpu, q, [c.batch, c.tq, hd], dtype);
  const tk = fromArray(gpu, k, [c.batch, c.tk, hd], dtype);
  const tv = fromArray(gpu, v, [c.batch, c.tk, hd], dtype);
  const tb = bias ? fromArray(gpu, bias, [c.heads, c.tq, c.tk], dtype) : undefined;
  const out = await attention(gpu, tq, tk, tv, { heads: c.heads, causal: c.causal, bias: tb, scale: c.scale, variant });
  const got = await out.read();
  const tol = out.dtype === 'f16' ? { atol: 2e-3, rtol: 4e-3 } : { atol: 2e-5, rtol: 2e-4 };
  expectClose(got, expected, { ...tol, label: `attention ${variant ?? 'default'} ${name(c)} ${dtype}→${out.dtype}` });
  for (const t of [tq, tk, tv, tb, out]) t?.dispose();
}

/** The variants without workgroup barriers: cheap to build everywhere, so always tested. */
const BARRIER_FREE: AttentionVariant[] = ['naive', 'blocked'];

/**
 * The tiled variants take a minute or more per pipeline to build on llvmpipe (coroutines for
 * barriers in loops), so on CPU adapters, where chooseAttention never picks them, they are
 * tested only with ATTENTION_TILED=1.
 */
function tiledVariants(gpu: Gpu): AttentionVariant[] {
  const cpu = BARRIER_FREE.includes(chooseAttention(gpu, { batch: 1, tq: 1, tk: 1, heads: 1, headDim: 64 }));
  return cpu && !(typeof process !== 'undefined' && process.env.ATTENTION_TILED) ? [] : attentionVariants(gpu).filter((v) => !BARRIER_FREE.includes(v));
}

const CASES: Case[] = [
  { batch: 1, tq: 1, tk: 1, heads: 1, headDim: 8 },
  { batch: 1, tq: 7, tk: 7, heads: 2, headDim: 8 },
  { batch: 2, tq: 77, tk: 77, heads: 3, headDim: 16 },
  { batch: 1, tq: 33, tk: 333, heads: 2, headDim: 32 },
  { batch: 2, tq: 45, tk: 7, heads: 1, headDim: 64 },
  { batch: 1, tq: 77, tk: 77, heads: 2, headDim: 16, causal: true },
  // Causal over several workgroups of rows (each stops at its own last row's keys), Tk < Tq.
  { batch: 1, tq: 300, tk: 290, heads: 2, headDim: 16, causal: true },
  { batch: 2, tq: 20, tk: 35, heads: 3, headDim: 8, bias: true, scale: 1 },
  { batch: 1, tq: 9, tk: 40, heads: 1, headDim: 512 },
  { batch: 1, tq: 5, tk: 6, heads: 2, headDim: 20 },
];

describe.each(PRECISIONS)('attention ($name)', ({ dtype, opts }) => {
  it.each(BARRIER_FREE.flatMap((v) => CASES.map((c) => [v, name(c), c] as const)))('%s %s', async (variant, _, c) => {
    await runCase(await device(opts), c, dtype, variant);
  });

  it('default variant, long sequence B1 Tq1000 Tk1000 H1×16', async () => {
    const gpu = await device(opts);
    await runCase(gpu, { batch: 1, tq: 1000, tk: 1000, heads: 1, headDim: 16 }, dtype);
  });
});

// Every code path of the tiled variants: D chunks (80: 2 chunks with partial column groups;
// 512), bias, causal, Tq ≠ Tk, B 2, packed f16 input.
const tiledCases: [string, Case, (typeof PRECISIONS)[number]][] = [
  ['B2 Tq20 Tk35 H3×8 bias causal scale 1', { batch: 2, tq: 20, tk: 35, heads: 3, headDim: 8, bias: true, causal: true, scale: 1 }, PRECISIONS[0]],
  ['B2 Tq45 Tk70 H2×80 causal', { batch: 2, tq: 45, tk: 70, heads: 2, headDim: 80, causal: true }, PRECISIONS[2]],
  ['B1 Tq9 Tk40 H1×512', { batch: 1, tq: 9, tk: 40, heads: 1, headDim: 512 }, PRECISIONS[0]],
];
describe.each(tiledCases)('attention tiled variants %s', (_, c, p) => {
  it(`${p.name}`, async (ctx) => {
    const gpu = await device(p.opts);
    const variants = tiledVariants(gpu);
    if (!variants.length) ctx.skip('CPU adapter: set ATTENTION_TILED=1 to build the tiled pipelines');
    for (const variant of variants) await runCase(gpu, c, p.dtype, variant);
  });
});

// blocked without subgroups: every thread loads the block's K/V rows itself (SwiftShader
// without the feature); with subgroups it shares them by shuffles (the cases above).
describe('attention blocked without subgroups', () => {
  it.each([CASES[2], CASES[4], CASES[6], CASES[7], CASES[9]].map((c) => [name(c), c] as const))('%s', async (_, c) => {
    await runCase(await device({ disableSubgroups: true }), c, 'f32', 'blocked');
  });
});

describe('attention splitting', () => {
  // Simulated small binding limits: batch items split across dispatches, and query-row bands
  // (the 32 KiB case: one item's q is 37.5 KiB) with the causal mask and bias indexed globally.
  it.each([
    ['batch bands B3 Tq57 Tk61 H2×8', 8192, { batch: 3, tq: 57, tk: 61, heads: 2, headDim: 8 }],
    ['row bands B2 Tq150 Tk40 H1×64 causal bias', 32768, { batch: 2, tq: 150, tk: 40, heads: 1, headDim: 64, causal: true, bias: true }],
  ] as const)('%s under a %i-byte binding limit', async (_, limit, c) => {
    const gpu = await device({ maxStorageBinding: limit });
    for (const variant of [...BARRIER_FREE, ...tiledVariants(gpu)]) await runCase(gpu, c, 'f32', variant);
  });
});

describe('attention errors', () => {
  it('names the operand and the expected shape', async () => {
    const gpu = await device();
    const q = fromArray(gpu, rand(2 * 3 * 8), [2, 3, 8]);
    const k = fromArray(gpu, rand(2 * 4 * 8), [2, 4, 8]);
    const v = fromArray(gpu, rand(2 * 5 * 8), [2, 5, 8]);
    await expect(attention(gpu, q, k, v, { heads: 2 })).rejects.toThrow(/attention: v is \[2,5,8\]/);
    await expect(attention(gpu, q, k, k, { heads: 3 })).rejects.toThrow(/not a multiple of heads 3/);
    await expect(attention(gpu, q, k, k, { heads: 4 })).rejects.toThrow(/head dim 2 must be a multiple of 4/);
  });
});
