import { describe, expect, it } from 'vitest';
import { attention, attentionFits, attentionVariants, type AttentionVariant } from '../../src/kernels/attention.ts';
import { variantsOf } from '../../src/kernels/registry.ts';
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

/**
 * The register variants' code is written out per head dim (D/4 vec4s per row), so D is their
 * size define: heads of 8, 16 and 20 cover every path (1 row, Tk not a multiple of the key
 * block, causal, bias, odd D/4) in seconds, where D 64 builds for minutes on a loaded llvmpipe.
 * D 64 runs once, in f32, in the row-band case below.
 */
const fitsTest = (v: AttentionVariant, c: Case) => attentionFits(v, c.headDim) && (attentionFits(v, 1e9) || c.headDim <= 20);

/** Variants that keep everything in registers (no workgroup memory, no barriers). */
const REGISTER_ONLY = variantsOf('attention').filter((v) => !v.workgroupMemory).map((v) => v.name as AttentionVariant);
const tiledVariants = (gpu: Gpu) => attentionVariants(gpu).filter((v) => !REGISTER_ONLY.includes(v));

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
  it.each(REGISTER_ONLY.flatMap((v) => CASES.filter((c) => fitsTest(v, c)).map((c) => [v, name(c), c] as const)))('%s %s', async (variant, _, c) => {
    await runCase(await device(opts), c, dtype, variant);
  });

  it('default variant, long sequence B1 Tq1000 Tk1000 H1×16', async () => {
    const gpu = await device(opts);
    await runCase(gpu, { batch: 1, tq: 1000, tk: 1000, heads: 1, headDim: 16 }, dtype);
  });
});

// The workgroup-memory variants (the ones GPUs run) on every path: one row, Tq ≠ Tk, causal,
// bias, several D chunks (D 64: 4 chunks; 512: 32) and one resident chunk (D 8, 2 lanes of 4
// idle in P·V), batch bands and query-row bands (64 KiB binding limit), packed f16 input. The
// devices pretend to have little workgroup memory, so the tile geometry picks its smallest
// tiles (4 rows × 8 keys, chunks of ≤ 4 vec4s) as on a small-memory adapter: those pipelines
// build in seconds on llvmpipe, the largest take ~15 s of CPU each.
const tiledCases: [wgMemory: number, cases: Case[]][] = [
  [1024, [{ batch: 2, tq: 20, tk: 35, heads: 3, headDim: 8, bias: true, causal: true, scale: 1 }]],
  [
    2560,
    [
      { batch: 1, tq: 1, tk: 37, heads: 2, headDim: 64 },
      { batch: 2, tq: 45, tk: 70, heads: 2, headDim: 64, causal: true },
      { batch: 1, tq: 150, tk: 40, heads: 2, headDim: 64, causal: true },
    ],
  ],
  [9216, [{ batch: 1, tq: 9, tk: 27, heads: 1, headDim: 512 }]],
];
describe.each(PRECISIONS)('attention workgroup-memory variants ($name)', ({ dtype, opts }) => {
  it.each(tiledCases.map(([mem, cases]) => [cases.map(name).join(', '), mem, cases] as const))('%s (%i bytes of workgroup memory)', async (_, mem, cases) => {
    const gpu = await device({ ...opts, maxWorkgroupStorage: mem, maxStorageBinding: 65536 });
    const variants = tiledVariants(gpu);
    expect(variants.length).toBeGreaterThan(0);
    for (const variant of variants) for (const c of cases) await runCase(gpu, c, dtype, variant);
  });
});

// blocked and register without subgroups: every thread loads the block's K/V rows itself
// (SwiftShader without the feature); with subgroups they share them by shuffles (the cases above).
describe('attention without subgroups', () => {
  const shared = REGISTER_ONLY.filter((v) => v !== 'naive');
  it.each(shared.flatMap((v) => [CASES[2], CASES[4], CASES[6], CASES[7], CASES[9]].filter((c) => fitsTest(v, c)).map((c) => [v, name(c), c] as const)))('%s %s', async (variant, _, c) => {
    await runCase(await device({ disableSubgroups: true }), c, 'f32', variant);
  });
});

describe('attention splitting', () => {
  // Simulated small binding limits: batch items split across dispatches, and query-row bands
  // (the 32 KiB case: one item's q is 37.5 KiB) with the causal mask and bias indexed globally.
  // (The workgroup-memory variants are banded above.)
  it.each([
    ['batch bands B3 Tq57 Tk61 H2×8', 8192, { batch: 3, tq: 57, tk: 61, heads: 2, headDim: 8 }],
    ['row bands B2 Tq150 Tk40 H1×64 causal bias', 32768, { batch: 2, tq: 150, tk: 40, heads: 1, headDim: 64, causal: true, bias: true }],
  ] as const)('%s under a %i-byte binding limit', async (_, limit, c) => {
    const gpu = await device({ maxStorageBinding: limit });
    for (const variant of REGISTER_ONLY) await runCase(gpu, c, 'f32', variant);
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
    const wide = fromArray(gpu, rand(2 * 3 * 256), [2, 3, 256]);
    await expect(attention(gpu, wide, wide, wide, { heads: 1, variant: 'register-q4' })).rejects.toThrow(/'register-q4' takes head dims up to 128, got 256/);
  });
});
