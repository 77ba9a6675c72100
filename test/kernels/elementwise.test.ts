import { describe, expect, it } from 'vitest';
import { activation } from '../../src/kernels/activation.ts';
import { add, cfgCombine, eulerStep, geluMul, mul, scale, sub } from '../../src/kernels/elementwise.ts';
import type { Activation } from '../../src/kernels/types.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';
import { ACT } from './ref.ts';
import { forEachVariant } from './variants.ts';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Each precision as is, and with a 4 KiB binding limit so every op runs in many bands.
const LEVELS = PRECISIONS.flatMap((p) => [
  { ...p, level: p.name },
  { ...p, level: `${p.name}, 4 KiB bindings`, opts: { ...p.opts, maxStorageBinding: 4096 } },
]);

describe.each(LEVELS)('elementwise ($level)', ({ dtype, opts }) => {
  const r = (a: Float32Array) => (dtype === 'f16' ? roundF16(a) : a);
  const tolFor = (out: string, t = 1e-6) => (out === 'f16' ? { atol: 2e-3, rtol: 2e-3 } : { atol: t, rtol: t });

  it.each([
    [[1], [1]],
    [[7, 13], [7, 13]],
    [[3, 5, 33], [33]],
    [[1000, 70], [70]],
  ])('add, sub and mul %j with %j', async (sa, sb) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'elementwise', async (variant) => {
      const [na, nb] = [numel(sa), numel(sb)];
      const [a, b] = [rand(na, 1), rand(nb, 2)];
      const [ra, rb] = [r(a), r(b)];
      const ta = fromArray(gpu, a, sa, dtype);
      const tb = fromArray(gpu, b, sb, dtype);
      for (const [name, fn, ref] of [
        ['add', add, (x: number, y: number) => x + y],
        ['sub', sub, (x: number, y: number) => x - y],
        ['mul', mul, (x: number, y: number) => x * y],
      ] as const) {
        const y = await fn(gpu, ta, tb);
        expectClose(await y.read(), Array.from(ra, (x, i) => ref(x, rb[i % nb])), { ...tolFor(y.dtype), label: `${variant}: ${name} [${sa}]+[${sb}]` });
        y.dispose();
      }
    });
  });

  it.each([[[1]], [[3, 333]], [[2, 16, 13, 7]]])('scale, eulerStep and cfgCombine %j', async (shape) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'elementwise', async (variant) => {
      const n = numel(shape);
      const x = rand(n, 3, -2, 2);
      const v = rand(n, 4, -2, 2);
      const [rx, rv] = [r(x), r(v)];
      const tx = fromArray(gpu, x, shape, dtype);
      const tv = fromArray(gpu, v, shape, dtype);
      const s = await scale(gpu, tx, 1.5305, -0.0609);
      expectClose(await s.read(), Array.from(rx, (e) => 1.5305 * e - 0.0609), { ...tolFor(s.dtype), label: `${variant}: scale [${shape}]` });
      const e = await eulerStep(gpu, tx, tv, -0.0357);
      expect(e.dtype).toBe('f32');
      expectClose(await e.read(), Array.from(rx, (xi, i) => xi - 0.0357 * rv[i]), { ...tolFor('f32'), label: `${variant}: eulerStep [${shape}]` });
      // cfgCombine over [2B, ...]: stack x and v as [uncond; cond].
      const both = new Float32Array([...x, ...v]);
      const tb = fromArray(gpu, both, [2 * shape[0], ...shape.slice(1)], dtype);
      const c = await cfgCombine(gpu, tb, 2.0);
      expect(c.shape).toEqual(shape);
      const ru = r(both);
      expectClose(await c.read(), Array.from({ length: n }, (_, i) => ru[i] + 2 * (ru[n + i] - ru[i])), {
        ...tolFor(c.dtype, 2e-6),
        label: `${variant}: cfgCombine [2·${shape}]`,
      });
      for (const t of [tx, tv, s, e, tb, c]) t.dispose();
    });
  });

  it.each([[[1]], [[9, 131]]])('activations and geluMul %j', async (shape) => {
    const gpu = await device(opts);
    await forEachVariant(gpu, 'elementwise', async (variant) => {
      const n = numel(shape);
      const x = rand(n, 8, -9, 9);
      const b = rand(n, 9);
      const [rx, rb] = [r(x), r(b)];
      const tx = fromArray(gpu, x, shape, dtype);
      const tb = fromArray(gpu, b, shape, dtype);
      for (const act of ['silu', 'gelu', 'gelu_tanh', 'quick_gelu', 'none'] as Activation[]) {
        const y = await activation(gpu, tx, act);
        expectClose(await y.read(), Array.from(rx, ACT[act]), { ...tolFor(y.dtype, 2e-6), label: `${variant}: ${act} [${shape}]` });
        y.dispose();
      }
      const gm = await geluMul(gpu, tx, tb);
      expectClose(await gm.read(), Array.from(rx, (v, i) => ACT.gelu_tanh(v) * rb[i]), { ...tolFor(gm.dtype, 2e-6), label: `${variant}: geluMul [${shape}]` });
      for (const t of [tx, tb, gm]) t.dispose();
    });
  });

  it('rejects shapes that do not broadcast, mismatched operands and unknown activations', async () => {
    const gpu = await device(opts);
    const ta = fromArray(gpu, rand(6), [6], dtype);
    const tb = fromArray(gpu, rand(4), [4], dtype);
    await expect(add(gpu, ta, tb)).rejects.toThrow(/do not broadcast/);
    await expect(eulerStep(gpu, ta, tb, 0.1)).rejects.toThrow(/eulerStep: x \[6\] and v \[4\] must have the same shape/);
    await expect(cfgCombine(gpu, fromArray(gpu, rand(3), [3, 1], dtype), 2)).rejects.toThrow(/even batch/);
    await expect(activation(gpu, ta, 'relu' as Activation)).rejects.toThrow(/unknown activation 'relu'/);
  });
});
