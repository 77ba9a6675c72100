import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/kernels/softmax.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { softmaxRef } from './attention.ref.ts';
import { forEachVariant } from './variants.ts';

describe.each(PRECISIONS)('softmax ($name)', ({ dtype, opts }) => {
  it.each([[[1]], [[7]], [[3, 77]], [[2, 5, 333]], [[4, 4946]]])('%j', async (shape) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'softmax', async (variant) => {
      const n = shape.reduce((a, b) => a * b, 1);
      // Wide range: exp would overflow without the max subtraction.
      const x = rand(n, n, -60, 60);
      const rx = dtype === 'f16' ? roundF16(x) : x;
      const t = fromArray(gpu, x, shape, dtype);
      const out = await softmax(gpu, t);
      const tol = out.dtype === 'f16' ? { atol: 1e-3, rtol: 4e-3 } : { atol: 1e-6, rtol: 1e-5 };
      expectClose(await out.read(), softmaxRef(rx, shape[shape.length - 1]), { ...tol, label: `${variant}: softmax [${shape}] ${dtype}` });
    });
  });
});

describe('softmax splitting', () => {
  it('[300, 33] f16 in 128-row bands under a 20000-byte binding limit', async () => {
    const gpu = await device({ maxStorageBinding: 20000 });
    await forEachVariant(gpu, 'softmax', async (variant) => {
      const x = roundF16(rand(300 * 33, 5, -4, 4));
      const out = await softmax(gpu, fromArray(gpu, x, [300, 33], 'f16'), 'f32');
      expectClose(await out.read(), softmaxRef(x, 33), { atol: 1e-6, rtol: 1e-5, label: `${variant}: softmax banded` });
    });
  });

  it('rejects a scalar', async () => {
    const gpu = await device();
    await expect(softmax(gpu, fromArray(gpu, [1], []))).rejects.toThrow(/softmax: x must have a non-empty last dimension/);
  });
});
