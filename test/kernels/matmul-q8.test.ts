// 8-bit weights: the quantiser's format (runtime/q8.ts), and every matmul variant with a q8
// weight against x·dequant(W)ᵀ computed on the CPU from the same packed words.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linear, MATMUL_VARIANTS, type MatmulVariant } from '../../src/kernels/matmul.ts';
import { uploadQ8 } from '../../src/kernels/q8.ts';
import { setAutotune, setKernelChoice } from '../../src/kernels/registry.ts';
import type { Activation } from '../../src/kernels/types.ts';
import type { DeviceOptions } from '../../src/runtime/device.ts';
import { f16BitsToF32, roundF16 } from '../../src/runtime/f16.ts';
import { dequantizeQ8, quantizeQ8, type Q8Packed } from '../../src/runtime/q8.ts';
import { fromArray, type DType } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { linearRef } from './ref.ts';

describe('quantizeQ8', () => {
  it('packs int8 values little-endian along K, one f16 scale per group, half away from zero', () => {
    // Row 0: group 0 has max 127/64 (scale 1/64 exactly), group 1 is all zero (scale 0).
    // Row 1: group 0 has max 254 (scale 2; 127/2 = 63.5 rounds to 64); group 1's scale
    // 1e-7/127 is below the smallest half, so it rounds up to it (2^-24) and nothing clips.
    const w = new Float32Array([127 / 64, -1 / 64, 2.4 / 64, -2.5 / 64, 0, 0, -254, 127, 0.8, 0, 1e-7, -1e-7]);
    const p = quantizeQ8(w, 2, 6, 4);
    expect([...p.data].map((x) => x.toString(16))).toEqual(['fd02ff7f', '0', '4081', 'fe02']);
    expect(p.scales).toBeInstanceOf(Uint16Array);
    expect([...p.scales]).toEqual([0x2400, 0, 0x4000, 0x0001]);
    const d = dequantizeQ8(p);
    expect([...d.subarray(0, 6)]).toEqual([127 / 64, -1 / 64, 2 / 64, -3 / 64, 0, 0]);
    expect([...d.subarray(6)]).toEqual([-254, 128, 0, 0, 2 * 2 ** -24, -2 * 2 ** -24]);
  });

  it('errs by at most half a scale, on K that is no multiple of 4 or of the group', () => {
    const [N, K, group] = [5, 203, 64];
    const w = rand(N * K, 9, -3, 3);
    w[7] = 0; // a zero inside a group
    const p = quantizeQ8(w, N, K, group);
    expect(p.data.length).toBe(N * 51);
    expect(p.scales.length).toBe(N * 4);
    const d = dequantizeQ8(p);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const s = f16BitsToF32(p.scales[n * 4 + Math.floor(k / group)]);
        expect(Math.abs(d[n * K + k] - w[n * K + k])).toBeLessThanOrEqual(s / 2 + 1e-7);
      }
    }
    // The padding bytes of each row's last word stay zero.
    for (let n = 0; n < N; n++) expect(p.data[n * 51 + 50] >>> 24).toBe(0);
  });

  it('keeps f32 scales for a tensor whose scales overflow f16', () => {
    const w = new Float32Array([1e7, -3, 0.5, 2]);
    const p = quantizeQ8(w, 2, 2, 64);
    expect(p.scales).toBeInstanceOf(Float32Array);
    expect(p.scales[0]).toBeCloseTo(1e7 / 127, -1);
    const d = dequantizeQ8(p);
    expect(d[0]).toBeCloseTo(1e7, -2);
    expect(Math.abs(d[2] - 0.5)).toBeLessThanOrEqual(p.scales[1] / 2);
  });

  it('refuses non-finite values and bad groups, naming the tensor', () => {
    expect(() => quantizeQ8(new Float32Array([1, NaN]), 1, 2, 64, 'blocks.0.w')).toThrow('quantizeQ8 blocks.0.w: non-finite value NaN at [0, 1]');
    expect(() => quantizeQ8(new Float32Array(4), 1, 4, 6, 'w')).toThrow('q8 group 6 must be a positive multiple of 4');
    expect(() => quantizeQ8(new Float32Array(3), 1, 4)).toThrow('3 values for shape [1, 4]');
  });
});

// Variant choice by timing is not under test here: each call forces one variant.
beforeAll(() => setAutotune(false));
afterAll(() => {
  setAutotune(undefined);
  setKernelChoice('matmul', undefined);
});

interface Case {
  M: number;
  N: number;
  K: number;
  group: number;
  /** bias, gelu, and a residual gated by chunk 1 of 3 of a [2, 3N] tensor. */
  epilogue?: boolean;
  /** Weights in ±this (default 1). */
  range?: number;
}

const as = (x: Float32Array, dtype: DType) => (dtype === 'f16' ? roundF16(x) : x);

/** linear(x, q8 W) against the f64 reference on the dequantised weight; returns W. */
async function checkQ8(opts: DeviceOptions, dtype: DType, c: Case, label: string, atol?: number): Promise<Q8Packed> {
  const gpu = await device(opts);
  const { M, N, K } = c;
  const x = rand(M * K, 1);
  const p: Q8Packed = quantizeQ8(rand(N * K, 2, -(c.range ?? 1), c.range ?? 1), N, K, c.group);
  const w = uploadQ8(gpu, p);
  const bias = c.epilogue ? rand(N, 3) : undefined;
  const residual = c.epilogue ? rand(M * N, 4) : undefined;
  const gate = c.epilogue ? rand(6 * N, 5) : undefined;
  const act: Activation = c.epilogue ? 'gelu' : 'none';
  const y = await linear(gpu, fromArray(gpu, x, [M, K], dtype), w, bias && fromArray(gpu, bias, [N], dtype), {
    act,
    residual: residual && fromArray(gpu, residual, [M, N], dtype),
    gate: gate && { tensor: fromArray(gpu, gate, [2, 3 * N], dtype), chunk: 1, chunks: 3 },
  });
  expect(y.shape).toEqual([M, N]);
  const g = gate && as(gate, dtype);
  const ref = linearRef(as(x, dtype), dequantizeQ8(p), M, N, K, {
    act,
    bias: bias && as(bias, dtype),
    residual: residual && as(residual, dtype),
    gate: g && [...g.subarray(N, 2 * N), ...g.subarray(4 * N, 5 * N)],
  });
  const f16Out = dtype === 'f16' && gpu.caps.f16;
  expectClose(await y.read(), ref, { atol: atol ?? (f16Out ? 2e-3 : 2e-6 * Math.sqrt(K) + 1e-6), rtol: f16Out ? 2e-3 : 1e-5, label });
  w.dispose();
  return p;
}

/** A 4 KiB binding limit: x, the words and the scales are all split into bands. */
const banded = (opts: DeviceOptions): DeviceOptions => ({ ...opts, maxStorageBinding: 4096 });

// Every variant in every precision on one call that takes every q8 code path: bands of rows
// (x 38×98 f32 is 15 KB, W's words 70×25×4 = 7 KB) with scale windows that start mid-buffer,
// K % 4 == 2 (scalar loads of A and the K tail), a partial last group and word, the epilogue.
describe.each(PRECISIONS)('q8 matmul variants ($name)', ({ name, dtype, opts }) => {
  const variants = MATMUL_VARIANTS.filter((v) => !v.f16Math || dtype === 'f16');
  afterAll(() => setKernelChoice('matmul', undefined));

  it.each(variants.map((v) => [v.name, v] as const))('%s gives the reference result, or is refused clearly', async (_, v: MatmulVariant) => {
    const gpu = await device(banded(opts));
    setKernelChoice('matmul', v.name);
    const label = `q8 ${name} ${v.name}`;
    if (!v.supports(gpu.caps) || v.subgroupMatrix) {
      const w = uploadQ8(gpu, quantizeQ8(rand(8), 2, 4, 4));
      const why = v.supports(gpu.caps) ? 'cannot read 8-bit (q8) weights' : `forced variant '${v.name}' is not supported`;
      await expect(linear(gpu, fromArray(gpu, rand(4), [1, 4], dtype), w)).rejects.toThrow(why);
      return;
    }
    // f16 products round each dequantised weight to 11 bits.
    await checkQ8(banded(opts), dtype, { M: 38, N: 70, K: 98, group: 64, epilogue: true }, label, v.f16Math ? 5e-3 * Math.sqrt(98) : undefined);
  });

  it('one row with K = 6144 and groups of 128; vec4 loads of A (K % 4 == 0)', async () => {
    setKernelChoice('matmul', undefined);
    await checkQ8(opts, dtype, { M: 1, N: 5, K: 6144, group: 128 }, `q8 ${name} 1x5x6144`);
    await checkQ8(opts, dtype, { M: 10, N: 13, K: 36, group: 64, epilogue: true }, `q8 ${name} 10x13x36`);
  });
});

// Where WGSL lacks unpack4xI8 the kernels sign-extend bytes with shifts: once in the register
// and once in the workgroup-memory kernel (the unpacking is one function both share), with
// packed f16 activations and scales.
describe('q8 without packed_4x8_integer_dot_product', () => {
  it.each(['tiled-8x4', 'wgmem-64x64'])('%s unpacks with shifts', async (variant) => {
    const opts = banded({ disableF16: true, disablePacked4x8: true });
    expect((await device(opts)).caps.packed4x8).toBe(false);
    setKernelChoice('matmul', variant);
    await checkQ8(opts, 'f16', { M: 38, N: 70, K: 98, group: 64, epilogue: true }, `q8 shifts ${variant}`);
    setKernelChoice('matmul', undefined);
  });
});

describe('q8 with f32 scales', () => {
  it('reads a tensor whose scales overflow f16 (weights up to 1e7, f32 output)', async () => {
    setKernelChoice('matmul', undefined);
    // Sums of 40 products of ±1e7: f32 rounding alone is ~1e7 · 2^-24 · √40 ≈ 4.
    const p = await checkQ8({}, 'f32', { M: 3, N: 7, K: 40, group: 64, range: 1e7 }, 'q8 f32 scales', 100);
    expect(p.scales).toBeInstanceOf(Float32Array);
  });
});
