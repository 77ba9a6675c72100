import { describe, expect, it } from 'vitest';
import { embedding, timestepEmbedding } from '../../src/kernels/embedding.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { forEachVariant } from './variants.ts';

// Each precision as is, and with a 2 KiB binding limit so the table is gathered in row blocks.
const LEVELS = PRECISIONS.flatMap((p) => [
  { ...p, level: p.name },
  { ...p, level: `${p.name}, 2 KiB bindings`, opts: { ...p.opts, maxStorageBinding: 2048 } },
]);

describe.each(LEVELS)('embedding ($level)', ({ dtype, opts }) => {
  it.each([
    [1, 1, [0]],
    [50, 7, [49, 0, 3, 3, 17, 49, 25]],
    [300, 33, [299, 1, 150, 0, 2, 298]],
  ])('table [%i, %i] rows %j', async (v, c, idList) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'embedding', async (variant) => {
      const table = rand(v * c, 30);
      const rt = dtype === 'f16' ? roundF16(table) : table;
      const tt = fromArray(gpu, table, [v, c], dtype);
      for (const ids of [Int32Array.from(idList), Uint32Array.from(idList)]) {
        const y = await embedding(gpu, tt, ids);
        expect(y.shape).toEqual([ids.length, c]);
        const want = new Float32Array(ids.length * c);
        ids.forEach((id, k) => want.set(rt.subarray(id * c, (id + 1) * c), k * c));
        expectClose(await y.read(), want, { atol: 0, rtol: 0, label: `${variant}: embedding [${v}, ${c}] ${ids.constructor.name}` });
        y.dispose();
      }
      tt.dispose();
    });
  });

  it('rejects ids outside the table', async () => {
    const gpu = await device(opts);
    const tt = fromArray(gpu, rand(12), [4, 3], dtype);
    await expect(embedding(gpu, tt, Int32Array.from([0, 4]))).rejects.toThrow(/embedding: id 4 at position 1 is outside the table's 4 rows/);
    await expect(embedding(gpu, tt, Int32Array.from([-1]))).rejects.toThrow(/embedding: id -1 at position 0/);
  });
});

describe('timestepEmbedding', () => {
  it.each([[256], [7], [2]])('dim %i: [cos(t·f), sin(t·f)], f_i = 10000^(−i/half)', async (dim) => {
    const gpu = await device();
    const t = Float32Array.from([0, 1, 250.5, 1000]);
    const y = await timestepEmbedding(gpu, t, dim);
    expect(y.shape).toEqual([4, dim]);
    const half = Math.floor(dim / 2);
    const want = new Float64Array(4 * dim);
    t.forEach((ti, b) => {
      for (let i = 0; i < half; i++) {
        const arg = ti * Math.pow(10000, -i / half);
        want[b * dim + i] = Math.cos(arg);
        want[b * dim + half + i] = Math.sin(arg);
      }
    });
    // f32 rounding of t·f (up to 1000 rad) moves the phase by up to ~6e-5, as in torch.
    expectClose(await y.read(), want, { atol: 2e-4, rtol: 0, label: `timestepEmbedding dim ${dim}` });
    // t = 0: cos half all 1, sin half all 0; odd dims end with a zero pad.
    const row0 = (await y.read()).subarray(0, dim);
    expect(Array.from(row0.subarray(0, half))).toEqual(new Array(half).fill(1));
    expect(Array.from(row0.subarray(half))).toEqual(new Array(dim - half).fill(0));
    y.dispose();
  });
});
