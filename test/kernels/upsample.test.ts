import { describe, expect, it } from 'vitest';
import { upsampleNearest2x } from '../../src/kernels/upsample.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';

function refUpsample(x: Float32Array, [B, H, W, C]: number[]): Float32Array {
  const out = new Float32Array(x.length * 4);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < 2 * H; y++)
      for (let xx = 0; xx < 2 * W; xx++)
        for (let c = 0; c < C; c++) out[((b * 2 * H + y) * 2 * W + xx) * C + c] = x[((b * H + (y >> 1)) * W + (xx >> 1)) * C + c];
  return out;
}

// Under an 8 KiB binding limit the `banded` cases run in bands of output rows.
const LIMIT = 8 * 1024;
const CASES = [
  { name: 'B1 1x1 C4', shape: [1, 1, 1, 4] },
  { name: 'B2 3x5 C3', shape: [2, 3, 5, 3] },
  { name: 'banded B2 13x9 C8', shape: [2, 13, 9, 8], banded: true },
  { name: 'banded B1 31x9 C5', shape: [1, 31, 9, 5], banded: true },
];

describe.each(PRECISIONS)('upsampleNearest2x ($name)', ({ dtype, opts }) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    const n = c.shape.reduce((a, b) => a * b, 1);
    const x = dtype === 'f16' ? roundF16(rand(n, 9)) : rand(n, 9);
    if (c.banded) expect(4 * n * (dtype === 'f16' ? 2 : 4)).toBeGreaterThan(LIMIT);
    const y = await upsampleNearest2x(gpu, fromArray(gpu, x, c.shape, dtype));
    expect(y.shape).toEqual([c.shape[0], 2 * c.shape[1], 2 * c.shape[2], c.shape[3]]);
    expectClose(await y.read(), refUpsample(x, c.shape), { atol: 0, rtol: 0, label: c.name });
  });

  it('rejects a non-4-D input', async () => {
    const gpu = await device({ ...opts, maxStorageBinding: LIMIT });
    await expect(upsampleNearest2x(gpu, fromArray(gpu, rand(6), [2, 3], dtype))).rejects.toThrow(/NHWC/);
  });
});
