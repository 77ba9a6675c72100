import { describe, expect, it } from 'vitest';
import { groupNorm, groupNormAffine } from '../../src/kernels/groupnorm.ts';
import { groupNormRef, groupNormStats } from '../../src/kernels/reference.ts';
import { f32ToF16Bits, roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { forEachVariant } from './variants.ts';

// Under a 16 KiB binding limit the small cases fit one binding and the `banded` ones run in
// pixel bands (stats chunks smaller than the default, windows at aligned offsets).
const LIMIT = 16 * 1024;
const CASES = [
  { name: 'B1 7x5 C8 G2', shape: [1, 7, 5, 8], G: 2, silu: false },
  { name: 'B2 3x11 C12 G4 silu', shape: [2, 3, 11, 12], G: 4, silu: true },
  { name: 'odd channels B1 1x9 C6 G3 silu', shape: [1, 1, 9, 6], G: 3, silu: true },
  { name: 'tokens B2 T300 C32 G1 (attention norm)', shape: [2, 300, 32], G: 1, silu: false },
  { name: 'banded B2 37x41 C16 G4 silu, offset mean', shape: [2, 37, 41, 16], G: 4, silu: true, banded: true, shift: 5 },
  { name: 'banded B1 50x30 C10 G5', shape: [1, 50, 30, 10], G: 5, silu: false, banded: true },
  // vec4 channel units: one holding two groups (the demo VAE's 2 channels per group), one group
  // per channel, and groups of four units (partials per unit, bands of short columns); C12 G2
  // has 4-channel pixels but 6-channel groups, so it runs channel by channel.
  { name: 'banded B2 23x29 C16 G8 silu (2 channels per group)', shape: [2, 23, 29, 16], G: 8, silu: true, banded: true },
  { name: 'B1 5x7 C8 G8 (1 channel per group)', shape: [1, 5, 7, 8], G: 8, silu: false },
  { name: 'banded B1 40x40 C64 G4 silu, far-off mean', shape: [1, 40, 40, 64], G: 4, silu: true, banded: true, shift: 50 },
  { name: 'B1 9x13 C12 G2 (6 channels per group)', shape: [1, 9, 13, 12], G: 2, silu: false },
  // From 128 channels a column spans 16: four groups (the SD3 VAE's layout), or half a group.
  { name: 'banded B1 8x9 C128 G32 silu (wide)', shape: [1, 8, 9, 128], G: 32, silu: true, banded: true, shift: 3 },
  { name: 'banded B2 4x5 C256 G8 (wide, 32 channels per group)', shape: [2, 4, 5, 256], G: 8, silu: false, banded: true },
];

describe.each(PRECISIONS)('groupNorm ($name)', ({ dtype, opts }) => {
  /** A case's input and affine parameters, rounded to f16 when the tensors are f16. */
  const inputs = (c: (typeof CASES)[number]) => {
    const [B] = c.shape;
    const C = c.shape[c.shape.length - 1];
    const n = c.shape.reduce((a, b) => a * b, 1);
    const round = (a: Float32Array) => (dtype === 'f16' ? roundF16(a) : a);
    const x = round(rand(n, 3).map((v) => v * 2 + (c.shift ?? 0)));
    return { B, C, n, x, gamma: round(rand(C, 4, 0.5, 1.5)), beta: round(rand(C, 5)) };
  };
  const inPlaceCases = CASES.flatMap((c) => [
    [c.name, c, false],
    [`${c.name}, in place`, c, true],
  ] as const);
  it.each(inPlaceCases)('%s', async (_, c, inPlace) => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    await forEachVariant(gpu, 'groupnorm', async (variant) => {
      // Packed f16 (no shader-f16) cannot be written, so it is never normalised in place.
      if (inPlace && dtype === 'f16' && !gpu.caps.f16) return;
      const { B, C, n, x, gamma, beta } = inputs(c);
      if (c.banded) expect(n * (dtype === 'f16' ? 2 : 4)).toBeGreaterThan(LIMIT);
      const outDtype = dtype === 'f16' && gpu.caps.f16 ? 'f16' : 'f32';
      const xt = fromArray(gpu, x, c.shape, dtype);
      const y = await groupNorm(
        gpu,
        xt,
        { gamma: fromArray(gpu, gamma, [C], dtype), beta: fromArray(gpu, beta, [C], dtype), groups: c.G, eps: 1e-6 },
        { silu: c.silu, outDtype, inPlace },
      );
      expect(y === xt).toBe(inPlace);
      const tol = outDtype === 'f16' ? { atol: 3e-3, rtol: 3e-3 } : { atol: 2e-5, rtol: 1e-5 };
      expectClose(await y.read(), groupNormRef(x, B, n / (B * C), C, c.G, gamma, beta, 1e-6, c.silu), { ...tol, label: `${variant}: ${c.name}` });
    });
  });

  // The affine conv2d's inNorm applies: scales rstd·gamma and shifts beta − mean·rstd·gamma per (batch, channel).
  it.each([CASES[1], CASES[4]].map((c) => [c.name, c] as const))('affine of %s', async (_, c) => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const { B, C, n, x, gamma, beta } = inputs(c);
    const aff = await groupNormAffine(gpu, fromArray(gpu, x, c.shape, dtype), { gamma: fromArray(gpu, gamma, [C], dtype), beta: fromArray(gpu, beta, [C], dtype), groups: c.G, eps: 1e-6 });
    expect(aff.shape).toEqual([B, 2, C]);
    const { mean, rstd } = groupNormStats(x, B, n / (B * C), C, c.G, 1e-6);
    const want = new Float32Array(B * 2 * C);
    for (let b = 0; b < B; b++)
      for (let ch = 0; ch < C; ch++) {
        const g = b * c.G + Math.floor(ch / (C / c.G));
        want[b * 2 * C + ch] = rstd[g] * gamma[ch];
        want[b * 2 * C + C + ch] = beta[ch] - mean[g] * rstd[g] * gamma[ch];
      }
    expectClose(await aff.read(), want, { atol: 1e-5, rtol: 1e-4, label: c.name });
  });

  it('refuses in place when the output dtype differs from x', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const g = fromArray(gpu, rand(4), [4], 'f32');
    const x = fromArray(gpu, rand(8), [1, 2, 4], dtype);
    const other = dtype === 'f32' ? 'f16' : 'f32';
    await expect(groupNorm(gpu, x, { gamma: g, beta: g, groups: 2, eps: 1e-6 }, { inPlace: true, outDtype: other })).rejects.toThrow(/in place needs the output in x's dtype/);
  });

  it('rejects channels not divisible into groups', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const g = fromArray(gpu, rand(6), [6], dtype);
    await expect(groupNorm(gpu, fromArray(gpu, rand(12), [1, 2, 6], dtype), { gamma: g, beta: g, groups: 4, eps: 1e-6 })).rejects.toThrow(/not divisible into 4 groups/);
  });
});

// f16 outputs are rounded by the shader's own integer conversion (half2 in groupnorm.wgsl):
// with gamma 0 the output is beta exactly, so f32 betas check its rounding bit for bit.
describe('groupNorm f16 output rounding', () => {
  const tie = 2 ** -11; // half an f16 ulp at 1
  const sub = 2 ** -24; // the smallest f16 subnormal
  const beta = Float32Array.from([
    ...[1 + tie, 1 + 3 * tie, 1 + tie + 2 ** -20, -3.14159, 0.1, 1000.7], // ties go to even
    ...[65504, 65519, 65520, 1e10, -70000, Infinity, NaN], // the largest half, overflow
    ...[sub, sub / 2, 1.5 * sub, 3e-5, 2 ** -14 - 2 ** -25, 1e-9, -sub], // subnormals
  ]);
  const C = beta.length;
  it.each([
    ['in place', true],
    ['to a new map', false],
  ] as const)('rounds to nearest even, overflows to inf, keeps NaN and subnormals (%s)', async (_, inPlace) => {
    const gpu = await device();
    if (!gpu.caps.f16) return; // without shader-f16 outputs are f32 (the packed-f16 cases above)
    await forEachVariant(gpu, 'groupnorm', async (variant) => {
      const P = 3;
      const x = fromArray(gpu, rand(P * C, 7), [1, P, C], 'f16');
      const p = { gamma: fromArray(gpu, new Float32Array(C), [C], 'f32'), beta: fromArray(gpu, beta, [C], 'f32'), groups: C / 4, eps: 1e-6 };
      const y = await groupNorm(gpu, x, p, { outDtype: 'f16', inPlace });
      const got = Array.from(await y.read(), f32ToF16Bits);
      expect(got, variant).toEqual(Array.from({ length: P * C }, (_, i) => f32ToF16Bits(beta[i % C])));
    });
  });
});
