import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2d, CONV2D_VARIANTS, convOutSize, prepareConv2d, type Conv2dOptions } from '../../src/kernels/conv2d.ts';
import { groupNormAffine } from '../../src/kernels/groupnorm.ts';
import { groupNormRef } from '../../src/kernels/reference.ts';
import { setAutotune, setKernelChoice } from '../../src/kernels/registry.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';

// The first supported variant runs unless a test forces one (no timing of every variant).
beforeAll(() => setAutotune(false));
afterAll(() => {
  setAutotune(undefined);
  setKernelChoice('conv2d', undefined);
});

interface Case {
  name: string;
  B: number;
  H: number;
  W: number;
  cin: number;
  cout: number;
  k: number;
  stride?: number;
  upsample?: 2;
  pad?: [number, number, number, number];
  inLayout?: 'nhwc' | 'nchw';
  outLayout?: 'nhwc' | 'nchw';
  residual?: boolean;
  /** The output is written over the residual (`residualInPlace`). */
  inPlace?: boolean;
  inAffine?: [number, number];
  outAffine?: [number, number];
  clamp?: [number, number];
  /** GroupNorm (this many groups) + SiLU fused into the input read (`inNorm`). */
  normGroups?: number;
}

/** Output height and width of a case (upsampling first). */
function outSize(c: Case): [number, number] {
  const s = c.stride ?? 1;
  const up = c.upsample ?? 1;
  const [pt, pb, pl, pr] = c.pad ?? [(c.k - 1) / 2, (c.k - 1) / 2, (c.k - 1) / 2, (c.k - 1) / 2];
  return [convOutSize(up * c.H, c.k, s, pt, pb), convOutSize(up * c.W, c.k, s, pl, pr)];
}

/**
 * Plain convolution on NCHW-indexed getters (of the nearest-upsampled input with `upsample`);
 * returns the output in the requested layout.
 */
function refConv(c: Case, x: Float32Array, w: Float32Array, bias: Float32Array, res?: Float32Array): Float32Array {
  const s = c.stride ?? 1;
  const up = c.upsample ?? 1;
  const [pt, , pl] = c.pad ?? [(c.k - 1) / 2, (c.k - 1) / 2, (c.k - 1) / 2, (c.k - 1) / 2];
  const [Ho, Wo] = outSize(c);
  const xi = (b: number, ch: number, y: number, xx: number) =>
    c.inLayout === 'nchw' ? ((b * c.cin + ch) * c.H + y) * c.W + xx : ((b * c.H + y) * c.W + xx) * c.cin + ch;
  const oi = (b: number, ch: number, y: number, xx: number) =>
    c.outLayout === 'nchw' ? ((b * c.cout + ch) * Ho + y) * Wo + xx : ((b * Ho + y) * Wo + xx) * c.cout + ch;
  const [ia, ib] = c.inAffine ?? [1, 0];
  const [oa, ob] = c.outAffine ?? [1, 0];
  const [lo, hi] = c.clamp ?? [-Infinity, Infinity];
  const out = new Float32Array(c.B * c.cout * Ho * Wo);
  for (let b = 0; b < c.B; b++)
    for (let o = 0; o < c.cout; o++)
      for (let y = 0; y < Ho; y++)
        for (let xx = 0; xx < Wo; xx++) {
          let acc = bias[o];
          for (let i = 0; i < c.cin; i++)
            for (let ky = 0; ky < c.k; ky++)
              for (let kx = 0; kx < c.k; kx++) {
                const iy = y * s - pt + ky;
                const ix = xx * s - pl + kx;
                if (iy < 0 || iy >= up * c.H || ix < 0 || ix >= up * c.W) continue;
                acc += (x[xi(b, i, Math.floor(iy / up), Math.floor(ix / up))] * ia + ib) * w[((o * c.cin + i) * c.k + ky) * c.k + kx];
              }
          const at = oi(b, o, y, xx);
          if (res) acc += res[at];
          out[at] = Math.min(hi, Math.max(lo, acc * oa + ob));
        }
  return out;
}

// Every case runs under a 32 KiB binding limit: the small ones fit one binding, the ones
// marked `banded` exceed it in every precision and run in row bands through aligned windows.
const LIMIT = 32 * 1024;
const CASES: (Case & { banded?: boolean })[] = [
  { name: '3x3 s1 B2 5x7 cin6 cout10', B: 2, H: 5, W: 7, cin: 6, cout: 10, k: 3 },
  { name: '3x3 s1 1 row 1x13 cin4 cout4', B: 1, H: 1, W: 13, cin: 4, cout: 4, k: 3 },
  // vec4 input, 16+ output channels (4 vec4s per invocation where subgroups share weights), rows not a multiple of 4 pixels.
  { name: '3x3 s1 5x11 cin8 cout20', B: 1, H: 5, W: 11, cin: 8, cout: 20, k: 3 },
  { name: '1x1 3x13 cin20 cout8 +residual', B: 1, H: 3, W: 13, cin: 20, cout: 8, k: 1, residual: true },
  { name: '3x3 s2 pad(0,1,0,1) 9x6 cin4 cout20', B: 2, H: 9, W: 6, cin: 4, cout: 20, k: 3, stride: 2, pad: [0, 1, 0, 1] },
  { name: '2x2 s2 6x8 cin16 cout24', B: 1, H: 6, W: 8, cin: 16, cout: 24, k: 2, stride: 2, pad: [0, 0, 0, 0] },
  { name: '3x3 large K 6x5 cin48 cout8', B: 1, H: 6, W: 5, cin: 48, cout: 8, k: 3 },
  { name: 'nchw in 3x3 7x9 cin3 cout16 in-affine', B: 2, H: 7, W: 9, cin: 3, cout: 16, k: 3, inLayout: 'nchw', inAffine: [0.5, 0.25] },
  { name: 'nchw out 3x3 7x9 cin8 cout3 affine+clamp', B: 1, H: 7, W: 9, cin: 8, cout: 3, k: 3, outLayout: 'nchw', outAffine: [0.5, 0.5], clamp: [0, 1] },
  { name: 'banded 3x3 s1 B2 48x24 cin8 cout12 +residual', B: 2, H: 48, W: 24, cin: 8, cout: 12, k: 3, residual: true, banded: true },
  { name: 'banded 3x3 s2 pad(0,1,0,1) 65x20 cin16 cout8', B: 1, H: 65, W: 20, cin: 16, cout: 8, k: 3, stride: 2, pad: [0, 1, 0, 1], banded: true },
  { name: 'banded 1x1 61x23 cin12 cout4', B: 1, H: 61, W: 23, cin: 12, cout: 4, k: 1, banded: true },
  { name: 'banded 3x3 odd channels 70x50 cin5 cout6', B: 1, H: 70, W: 50, cin: 5, cout: 6, k: 3, banded: true },
  { name: 'banded out, nchw in 3x3 48x40 cin3 cout16 in-affine', B: 1, H: 48, W: 40, cin: 3, cout: 16, k: 3, inLayout: 'nchw', inAffine: [2, -1], banded: true },
  { name: 'banded in, nchw out 3x3 48x48 cin8 cout3 clamp', B: 1, H: 48, W: 48, cin: 8, cout: 3, k: 3, outLayout: 'nchw', clamp: [-0.5, 0.5], banded: true },
  // Nearest 2× upsampling fused into the read (the VAE decoder's upsamplers).
  { name: 'up2 3x3 B2 5x7 cin6 cout10', B: 2, H: 5, W: 7, cin: 6, cout: 10, k: 3, upsample: 2 },
  { name: 'up2 3x3 1 row 1x13 cin4 cout8 +residual', B: 1, H: 1, W: 13, cin: 4, cout: 8, k: 3, upsample: 2, residual: true },
  { name: 'up2 1x1 1x1 cin3 cout4', B: 1, H: 1, W: 1, cin: 3, cout: 4, k: 1, upsample: 2 },
  { name: 'up2 3x3 s2 pad(0,1,0,1) 5x6 cin4 cout20', B: 1, H: 5, W: 6, cin: 4, cout: 20, k: 3, stride: 2, pad: [0, 1, 0, 1], upsample: 2 },
  { name: 'up2 nchw in 3x3 7x5 cin3 cout8 in-affine', B: 1, H: 7, W: 5, cin: 3, cout: 8, k: 3, inLayout: 'nchw', inAffine: [0.5, 0.25], upsample: 2 },
  { name: 'banded out up2 3x3 B2 25x13 cin8 cout12 +residual', B: 2, H: 25, W: 13, cin: 8, cout: 12, k: 3, upsample: 2, residual: true, banded: true },
  // cin > 4·cout: the input window, not the output, limits the band.
  { name: 'banded in up2 3x3 41x23 cin20 cout4', B: 1, H: 41, W: 23, cin: 20, cout: 4, k: 3, upsample: 2, banded: true },
  { name: 'banded up2 3x3 odd channels 41x19 cin5 cout6', B: 1, H: 41, W: 19, cin: 5, cout: 6, k: 3, upsample: 2, banded: true },
  // GroupNorm+SiLU fused into the read (the VAE's resnets and conv_out): vec4 and scalar input
  // channels, groups of 3 channels (not a multiple of a vec4), batch 2, bands, NCHW output.
  // The residual written over in place, as the VAE's second conv of a resnet does.
  { name: 'norm 3x3 B2 5x7 cin12 G4 cout10 +residual in place', B: 2, H: 5, W: 7, cin: 12, cout: 10, k: 3, normGroups: 4, residual: true, inPlace: true },
  { name: 'banded norm 3x3 B2 48x24 cin8 G2 cout12 +residual in place', B: 2, H: 48, W: 24, cin: 8, cout: 12, k: 3, normGroups: 2, residual: true, inPlace: true, banded: true },
  { name: 'norm odd channels, nchw out 3x3 7x9 cin6 G3 cout3 affine+clamp', B: 1, H: 7, W: 9, cin: 6, cout: 3, k: 3, normGroups: 3, outLayout: 'nchw', outAffine: [0.5, 0.5], clamp: [0, 1] },
];

async function runCase(c: Case & { banded?: boolean }, dtype: 'f32' | 'f16', opts: object, seed = 1) {
  const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
  const round = (a: Float32Array) => (dtype === 'f16' ? roundF16(a) : a);
  const x = round(rand(c.B * c.H * c.W * c.cin, seed));
  const w = round(rand(c.cout * c.cin * c.k * c.k, seed + 1, -0.3, 0.3));
  const bias = round(rand(c.cout, seed + 2));
  const inShape = c.inLayout === 'nchw' ? [c.B, c.cin, c.H, c.W] : [c.B, c.H, c.W, c.cin];
  const outDtype = dtype === 'f16' && gpu.caps.f16 ? 'f16' : 'f32';
  const [Ho, Wo] = outSize(c);
  const outShape = c.outLayout === 'nchw' ? [c.B, c.cout, Ho, Wo] : [c.B, Ho, Wo, c.cout];
  const res = c.residual ? round(rand(c.B * c.cout * Ho * Wo, seed + 3)) : undefined;
  const cw = prepareConv2d(gpu, w, [c.cout, c.cin, c.k, c.k], bias, dtype);
  const o: Conv2dOptions = { stride: c.stride, upsample: c.upsample, pad: c.pad, inLayout: c.inLayout, outLayout: c.outLayout, inAffine: c.inAffine, outAffine: c.outAffine, clamp: c.clamp };
  // In place, the residual is in the output's dtype (packed f16 cannot be written).
  if (res) o.residual = fromArray(gpu, res, outShape, c.inPlace ? outDtype : dtype);
  o.residualInPlace = c.inPlace;
  const xt = fromArray(gpu, x, inShape, dtype);
  // The reference convolves the normalised, activated input (its padding stays 0 as well).
  let xRef = x;
  if (c.normGroups) {
    const gamma = round(rand(c.cin, seed + 4, 0.5, 1.5));
    const beta = round(rand(c.cin, seed + 5));
    o.inNorm = await groupNormAffine(gpu, xt, { gamma: fromArray(gpu, gamma, [c.cin], dtype), beta: fromArray(gpu, beta, [c.cin], dtype), groups: c.normGroups, eps: 1e-6 });
    xRef = groupNormRef(x, c.B, c.H * c.W, c.cin, c.normGroups, gamma, beta, 1e-6, true);
  }
  // The banded cases must really exceed the limit (else they would test nothing new).
  if (c.banded) expect(Math.max(c.B * c.H * c.W * c.cin * (dtype === 'f16' ? 2 : 4), c.B * Ho * Wo * c.cout * (outDtype === 'f16' ? 2 : 4))).toBeGreaterThan(LIMIT);
  const y = await conv2d(gpu, xt, cw, { ...o, outDtype });
  expect(y.shape).toEqual(outShape);
  expect(y === o.residual).toBe(Boolean(c.inPlace));
  const tol = outDtype === 'f16' ? { atol: 3e-3, rtol: 3e-3 } : { atol: 2e-5, rtol: 1e-5 };
  expectClose(await y.read(), refConv(c, xRef, w, bias, res), { ...tol, label: c.name });
}

// Every variant on cases that reach each of its code paths: scalar and vec4 input and output,
// NCHW in and out with the affines and clamp, stride and padding, fused upsampling on one row,
// residuals, row bands, K not a multiple of the wgmem slice. The default variant also runs all
// CASES below (with the same pipelines: a forced variant compiles what the default would).
// Conv compiles are slow on lavapipe (f16 ones most): in f16 and packed f16, where only the
// storage accessors differ, two cases cover the scalar and the vec4 paths.
const VARIANT_CASES = [
  '3x3 s1 B2 5x7 cin6 cout10',
  '3x3 s2 pad(0,1,0,1) 9x6 cin4 cout20',
  'nchw in 3x3 7x9 cin3 cout16 in-affine',
  'banded in, nchw out 3x3 48x48 cin8 cout3 clamp',
  'banded 3x3 s1 B2 48x24 cin8 cout12 +residual',
  'up2 3x3 1 row 1x13 cin4 cout8 +residual',
  'norm 3x3 B2 5x7 cin12 G4 cout10 +residual in place',
  'norm odd channels, nchw out 3x3 7x9 cin6 G3 cout3 affine+clamp',
].map((name) => CASES.find((c) => c.name === name)!);
const F16_VARIANT_CASES = [VARIANT_CASES[2], VARIANT_CASES[4]];

describe.each(PRECISIONS)('conv2d variants ($name)', ({ name, dtype, opts }) => {
  afterAll(() => setKernelChoice('conv2d', undefined));
  it.each(CONV2D_VARIANTS.map((v) => [v.name, v] as const))('%s gives the reference result, or is refused clearly', async (_, v) => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    setKernelChoice('conv2d', v.name);
    if (!v.supports(gpu.caps)) {
      await expect(runCase(VARIANT_CASES[0], dtype, opts)).rejects.toThrow(`forced variant '${v.name}' is not supported`);
      return;
    }
    for (const c of dtype === 'f32' ? VARIANT_CASES : F16_VARIANT_CASES) await runCase({ ...c, name: `${name} ${v.name} ${c.name}` }, dtype, opts);
  });
});

describe.each(PRECISIONS)('conv2d ($name)', ({ dtype, opts }) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => runCase(c, dtype, opts));

  it('rejects a channel mismatch naming the operand', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const cw = prepareConv2d(gpu, rand(4 * 5 * 9), [4, 5, 3, 3], undefined, dtype);
    await expect(conv2d(gpu, fromArray(gpu, rand(2 * 2 * 4), [1, 2, 2, 4], dtype), cw)).rejects.toThrow(/4 channels, the weight expects 5/);
  });

  it('rejects inNorm on an NCHW input, or one of another shape', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const cw = prepareConv2d(gpu, rand(4 * 4 * 9), [4, 4, 3, 3], undefined, dtype);
    const x = fromArray(gpu, rand(2 * 2 * 4), [1, 4, 2, 2], dtype);
    await expect(conv2d(gpu, x, cw, { inLayout: 'nchw', inNorm: fromArray(gpu, rand(8), [1, 2, 4]) })).rejects.toThrow(/inNorm needs an NHWC input/);
    await expect(conv2d(gpu, x.reshape([1, 2, 2, 4]), cw, { inNorm: fromArray(gpu, rand(4), [1, 1, 4]) })).rejects.toThrow(/inNorm must be f32 \[1, 2, 4\]/);
  });

  it('rejects residualInPlace without a residual', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const cw = prepareConv2d(gpu, rand(4 * 4 * 9), [4, 4, 3, 3], undefined, dtype);
    await expect(conv2d(gpu, fromArray(gpu, rand(16), [1, 2, 2, 4], dtype), cw, { residualInPlace: true })).rejects.toThrow(/residualInPlace needs a residual/);
  });

  it('rejects an upsampling factor other than 1 or 2', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const cw = prepareConv2d(gpu, rand(4 * 4 * 9), [4, 4, 3, 3], undefined, dtype);
    const x = fromArray(gpu, rand(2 * 2 * 4), [1, 2, 2, 4], dtype);
    await expect(conv2d(gpu, x, cw, { upsample: 3 as 2 })).rejects.toThrow(/upsample must be 1 or 2, got 3/);
  });
});
