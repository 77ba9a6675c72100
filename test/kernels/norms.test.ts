import { describe, expect, it } from 'vitest';
import { layerNorm, rmsNorm } from '../../src/kernels/norms.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { normRef } from './ref.ts';
import { forEachVariant } from './variants.ts';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Every precision as is (the adapter's usual variant, many shapes), and with a binding limit
// small enough to band, where every variant the device supports runs (the subgroup and the
// workgroup reduction; fewer shapes: each variant compiles anew on each device, and llvmpipe
// builds the workgroup tree's barriers in a loop slowly).
const LEVELS = PRECISIONS.flatMap((p) => [
  { ...p, level: p.name, opts: { ...p.opts }, everyVariant: false, shapes: [[4, 1], [1, 7], [3, 5, 33], [5, 4096], [70, 1000]] },
  {
    ...p,
    level: `${p.name}, 64 KiB bindings, every variant`,
    opts: { ...p.opts, maxStorageBinding: 64 * 1024 },
    everyVariant: true,
    shapes: [[3, 5, 33], [70, 1000]],
  },
]);

describe.each(LEVELS)('norms ($level)', ({ dtype, opts, everyVariant, shapes }) => {
  const variants = (gpu: Gpu, fn: (variant: string) => Promise<void>) => (everyVariant ? forEachVariant(gpu, 'norms', fn) : fn('auto'));
  const r = (a: Float32Array) => (dtype === 'f16' ? roundF16(a) : a);
  const tolFor = (out: string) => (out === 'f16' ? { atol: 4e-3, rtol: 4e-3 } : { atol: 2e-5, rtol: 2e-5 });

  it.each(shapes.map((s) => [s]))('layerNorm plain and affine %j', async (shape) => {
    const gpu = await device(opts);
    await variants(gpu, async (variant) => {
      const c = shape[shape.length - 1];
      const x = rand(numel(shape), 1, -3, 5);
      const w = rand(c, 2, 0.5, 1.5);
      const b = rand(c, 3);
      const tx = fromArray(gpu, x, shape, dtype);
      const tw = fromArray(gpu, w, [c], dtype);
      const tb = fromArray(gpu, b, [c], dtype);
      const plain = await layerNorm(gpu, tx, { eps: 1e-6 });
      const affine = await layerNorm(gpu, tx, { eps: 1e-5, weight: tw, bias: tb });
      const tol = tolFor(plain.dtype);
      expectClose(await plain.read(), normRef(r(x), c, { eps: 1e-6 }), { ...tol, label: `layerNorm ${variant} ${dtype} [${shape}]` });
      expectClose(await affine.read(), normRef(r(x), c, { eps: 1e-5, weight: r(w), bias: r(b) }), {
        ...tol,
        label: `layerNorm affine ${variant} ${dtype} [${shape}]`,
      });
      for (const t of [tx, tw, tb, plain, affine]) t.dispose();
    });
  });

  it.each([[[3, 1, 5]], [[2, 37, 1536]]])('layerNorm with adaLN modulation %j', async (shape) => {
    const gpu = await device(opts);
    await variants(gpu, async (variant) => {
      const [batch, , c] = shape;
      const x = rand(numel(shape), 4, -2, 2);
      const mod = rand(batch * 6 * c, 5);
      const tx = fromArray(gpu, x, shape, dtype);
      const tm = fromArray(gpu, mod, [batch, 6 * c], dtype);
      const shift = { tensor: tm, chunk: 3, chunks: 6 };
      const scale = { tensor: tm, chunk: 4, chunks: 6 };
      const y = await layerNorm(gpu, tx, { eps: 1e-6, shift, scale });
      const m = { data: r(mod), batch, chunks: 6 };
      const want = normRef(r(x), c, { eps: 1e-6, shift: { ...m, chunk: 3 }, scale: { ...m, chunk: 4 } });
      expectClose(await y.read(), want, { ...tolFor(y.dtype), label: `layerNorm modulated ${variant} ${dtype} [${shape}]` });
      for (const t of [tx, tm, y]) t.dispose();
    });
  });

  it.each([[[1, 3]], [[3, 333, 130]]])('rmsNorm %j', async (shape) => {
    const gpu = await device(opts);
    await variants(gpu, async (variant) => {
      const c = shape[shape.length - 1];
      const x = rand(numel(shape), 6, -4, 4);
      const w = rand(c, 7, 0.5, 2);
      const tx = fromArray(gpu, x, shape, dtype);
      const tw = fromArray(gpu, w, [c], dtype);
      const y = await rmsNorm(gpu, tx, tw, 1e-6, 'f32');
      expectClose(await y.read(), normRef(r(x), c, { eps: 1e-6, rms: true, weight: r(w) }), {
        ...tolFor('f32'),
        label: `rmsNorm ${variant} ${dtype} [${shape}]`,
      });
      for (const t of [tx, tw, y]) t.dispose();
    });
  });

  it('rejects a weight of the wrong size and a chunk that does not fit', async () => {
    const gpu = await device(opts);
    const tx = fromArray(gpu, rand(24), [2, 12], dtype);
    const tw = fromArray(gpu, rand(11), [11], dtype);
    await expect(layerNorm(gpu, tx, { eps: 1e-6, weight: tw })).rejects.toThrow(/layerNorm: weight \[11\] must have C = 12/);
    const tm = fromArray(gpu, rand(3 * 2 * 12), [3, 24], dtype);
    const ch = { tensor: tm, chunk: 0, chunks: 2 };
    await expect(layerNorm(gpu, tx, { eps: 1e-6, shift: ch, scale: ch })).rejects.toThrow(/rows divisible by B/);
  });
});
