import { describe, expect, it } from 'vitest';
import { concatTokens, patchify, sliceTokens, unpatchify } from '../../src/kernels/layout.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { permuteRef } from './ref.ts';
import { forEachVariant } from './variants.ts';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Each precision as is, and with a 1 KiB binding limit so copies run in many tiles.
const LEVELS = PRECISIONS.flatMap((p) => [
  { ...p, level: p.name },
  { ...p, level: `${p.name}, 1 KiB bindings`, opts: { ...p.opts, maxStorageBinding: 1024 } },
]);

// Layout ops move values: results are exact (f16 values survive f16 or f32 outputs unchanged).
const exact = { atol: 0, rtol: 0 };

describe.each(LEVELS)('layout ($level)', ({ dtype, opts }) => {
  const r = (a: Float32Array) => (dtype === 'f16' ? roundF16(a) : a);

  it.each([
    [[[1, 1, 1]]],
    [[[2, 3, 5], [2, 1, 5], [2, 7, 5]]],
    [[[1, 44, 33], [1, 5, 33]]],
    [[[2, 130, 24], [2, 12, 24]]],
  ])('concatTokens %j, then sliceTokens back', async (shapes) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'layout', async (variant) => {
      const data = shapes.map((s, k) => rand(numel(s), 10 + k));
      const parts = shapes.map((s, k) => fromArray(gpu, data[k], s, dtype));
      const [b, , c] = shapes[0];
      const total = shapes.reduce((a, s) => a + s[1], 0);
      const y = await concatTokens(gpu, parts);
      expect(y.shape).toEqual([b, total, c]);
      const want = new Float32Array(b * total * c);
      let t0 = 0;
      shapes.forEach((s, k) => {
        const rd = r(data[k]);
        for (let bi = 0; bi < b; bi++) want.set(rd.subarray(bi * s[1] * c, (bi + 1) * s[1] * c), (bi * total + t0) * c);
        t0 += s[1];
      });
      expectClose(await y.read(), want, { ...exact, label: `${variant}: concatTokens ${JSON.stringify(shapes)}` });
      const last = shapes[shapes.length - 1];
      const s = await sliceTokens(gpu, y, total - last[1], last[1]);
      expectClose(await s.read(), r(data[data.length - 1]), { ...exact, label: `${variant}: sliceTokens of the last part` });
      for (const t of [...parts, y, s]) t.dispose();
    });
  });

  it.each([
    [[1, 1, 2, 2], 2],
    [[2, 3, 6, 4], 2],
    [[1, 16, 12, 9], 3],
  ] as const)('patchify %j p=%i matches Conv2d weight flattening; unpatchify follows SD3', async (shape, p) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'layout', async (variant) => {
      const [b, c, hh, ww] = shape;
      const [h, w] = [hh / p, ww / p];
      const x = rand(numel([...shape]), 21);
      const tx = fromArray(gpu, x, [...shape], dtype);
      const y = await patchify(gpu, tx, p);
      expect(y.shape).toEqual([b, h * w, c * p * p]);
      // Token (i, j), feature (ci, py, px) = x[b, ci, i·p + py, j·p + px].
      const rx = r(x);
      const want = new Float32Array(y.numel);
      for (let bi = 0; bi < b; bi++)
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++)
            for (let ci = 0; ci < c; ci++)
              for (let py = 0; py < p; py++)
                for (let px = 0; px < p; px++)
                  want[((bi * h + i) * w + j) * c * p * p + (ci * p + py) * p + px] = rx[((bi * c + ci) * hh + i * p + py) * ww + j * p + px];
      expectClose(await y.read(), want, { ...exact, label: `${variant}: patchify [${shape}] p=${p}` });
      // unpatchify reads features as (py, px, c): [B, h, w, p, p, C] -> [B, C, h, p, w, p].
      const u = await unpatchify(gpu, y, h, w, p, c);
      expect(u.shape).toEqual([b, c, hh, ww]);
      expectClose(await u.read(), permuteRef(want, [b, h, w, p, p, c], [0, 5, 1, 3, 2, 4]), { ...exact, label: `${variant}: unpatchify [${y.shape}]` });
      for (const t of [tx, y, u]) t.dispose();
    });
  });

  it('rejects bad shapes with the op and operand named', async () => {
    const gpu = await device(opts);
    const a = fromArray(gpu, rand(6), [1, 2, 3], dtype);
    const b = fromArray(gpu, rand(8), [1, 2, 4], dtype);
    await expect(concatTokens(gpu, [a, b])).rejects.toThrow(/concatTokens: part 1 \[1,2,4\]/);
    await expect(sliceTokens(gpu, a, 1, 2)).rejects.toThrow(/sliceTokens: tokens \[1, 3\) are outside/);
    await expect(patchify(gpu, a.reshape([1, 1, 2, 3]), 2)).rejects.toThrow(/patchify: H 2 and W 3 must be multiples/);
    await expect(unpatchify(gpu, a, 1, 2, 1, 2)).rejects.toThrow(/unpatchify: x \[1,2,3\] must be \[B, 2, 2\]/);
  });
});
