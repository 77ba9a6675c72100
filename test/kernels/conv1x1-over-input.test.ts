// A narrowing 1×1 conv written over its own input (the VAE decoder's resnet shortcuts), in row
// chunks, against a plain 1×1 conv: chunkings that divide the rows unevenly, rows whose bytes
// allow no aligned chunk (one whole-output scratch), a last chunk whose bytes are not a multiple
// of 4, cout = cin, batch 2, and chunks the conv itself must band.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv1x1OverInput } from '../../src/kernels/conv1x1-over-input.ts';
import { prepareConv2d } from '../../src/kernels/conv2d.ts';
import { setAutotune } from '../../src/kernels/registry.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';

beforeAll(() => setAutotune(false));
afterAll(() => setAutotune(undefined));

/** Binding limit: the last case's chunks exceed it and are banded by the conv. */
const LIMIT = 32 * 1024;

const CASES: { name: string; B: number; H: number; W: number; cin: number; cout: number }[] = [
  // 26 rows in chunks of 4 (f32: 256-byte rows; f16: chunks of an even row count): 6 full, one of 2.
  { name: 'B2 13x8 cin8 cout6, uneven chunks', B: 2, H: 13, W: 8, cin: 8, cout: 6 },
  // 240- (f32) or 120-byte (f16) rows: 16 or 32 rows make the first aligned offset, past the 14.
  { name: 'B2 7x5 cin12 cout8, no aligned chunk', B: 2, H: 7, W: 5, cin: 12, cout: 8 },
  // f16 output rows of 30 bytes: chunks of 2 rows (60 bytes) copy whole words; the last row alone does not.
  { name: '9x3 cin128 cout5, odd output rows', B: 1, H: 9, W: 3, cin: 128, cout: 5 },
  { name: '5x16 cin4 cout4, cout = cin', B: 1, H: 5, W: 16, cin: 4, cout: 4 },
  { name: 'banded chunks 64x32 cin80 cout24', B: 1, H: 64, W: 32, cin: 80, cout: 24 },
];

/** out[p, o] = bias[o] + Σ_i x[p, i]·w[o, i] (NHWC, PyTorch weight [cout, cin, 1, 1]). */
function conv1x1Ref(x: Float32Array, w: Float32Array, bias: Float32Array, pixels: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(pixels * cout);
  for (let p = 0; p < pixels; p++)
    for (let o = 0; o < cout; o++) {
      let acc = bias[o];
      for (let i = 0; i < cin; i++) acc += x[p * cin + i] * w[o * cin + i];
      out[p * cout + o] = acc;
    }
  return out;
}

describe.each(PRECISIONS)('conv1x1OverInput ($name)', ({ dtype, opts }) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    // Activations in a dtype kernels write (f32 without shader-f16), weights in `dtype`: as the VAE runs.
    const act = dtype === 'f16' && gpu.caps.f16 ? 'f16' : 'f32';
    const round = (a: Float32Array, d: string) => (d === 'f16' ? roundF16(a) : a);
    const pixels = c.B * c.H * c.W;
    const x = round(rand(pixels * c.cin, 1), act);
    const w = round(rand(c.cout * c.cin, 2, -0.3, 0.3), dtype);
    const bias = round(rand(c.cout, 3), dtype);
    const cw = prepareConv2d(gpu, w, [c.cout, c.cin, 1, 1], bias, dtype);
    const xt = fromArray(gpu, x, [c.B, c.H, c.W, c.cin], act);
    if (name.startsWith('banded')) expect(xt.byteLength / 8).toBeGreaterThan(LIMIT);
    const live = gpu.pool.liveBytes;
    const y = await conv1x1OverInput(gpu, xt, cw);
    expect(y.shape).toEqual([c.B, c.H, c.W, c.cout]);
    expect([y.buffer === xt.buffer, xt.isDisposed, y.owner]).toEqual([true, true, true]);
    // Nothing else stays allocated: the scratch went back to the pool.
    expect(gpu.pool.liveBytes).toBe(live);
    const tol = act === 'f16' ? { atol: 3e-3, rtol: 3e-3 } : { atol: 2e-5, rtol: 1e-5 };
    expectClose(await y.read(), conv1x1Ref(x, w, bias, pixels, c.cin, c.cout), { ...tol, label: name });
    y.dispose();
  });

  it('refuses a view, a widening or 3×3 conv, and (without shader-f16) an f16 input, naming the input', async () => {
    const gpu = await device(opts);
    const act = dtype === 'f16' && gpu.caps.f16 ? 'f16' : 'f32';
    const x = fromArray(gpu, rand(2 * 4 * 8), [2, 1, 4, 8], act);
    const narrow = prepareConv2d(gpu, rand(4 * 8), [4, 8, 1, 1], undefined, dtype);
    await expect(conv1x1OverInput(gpu, x.reshape([2, 1, 4, 8]), narrow)).rejects.toThrow(/^conv1x1OverInput: input \[2,1,4,8\] .*: the input is a view/);
    const wide = prepareConv2d(gpu, rand(16 * 8), [16, 8, 1, 1], undefined, dtype);
    await expect(conv1x1OverInput(gpu, x, wide)).rejects.toThrow(/only a 1×1 conv with cout ≤ cin/);
    const k3 = prepareConv2d(gpu, rand(4 * 8 * 9), [4, 8, 3, 3], undefined, dtype);
    await expect(conv1x1OverInput(gpu, x, k3)).rejects.toThrow(/only a 1×1 conv with cout ≤ cin/);
    if (!gpu.caps.f16) {
      const packed = fromArray(gpu, rand(2 * 4 * 8), [2, 1, 4, 8], 'f16');
      await expect(conv1x1OverInput(gpu, packed, narrow)).rejects.toThrow(/cannot write f16 \(no shader-f16\)/);
    }
    expect(x.isDisposed).toBe(false);
  });
});

it('Tensor.reuseAs hands the buffer on once, to no larger a shape, and never from a view', async () => {
  const gpu = await device();
  const x = fromArray(gpu, rand(12), [3, 4]);
  expect(() => x.reshape([12]).reuseAs([6])).toThrow(/^reuseAs: \[12\] f32 as \[6\]: only a live tensor owning its buffer/);
  expect(() => x.reuseAs([13])).toThrow(/^reuseAs: \[3,4\] f32 as \[13\]: 13 elements do not fit in 12/);
  const y = x.reuseAs([2, 3]);
  expect([y.buffer === x.buffer, x.isDisposed, y.shape]).toEqual([true, true, [2, 3]]);
  expect(() => x.reuseAs([2])).toThrow(/only a live tensor/);
  expect(Array.from(await y.read())).toEqual(Array.from(rand(12).subarray(0, 6)));
  y.dispose();
});
