import { describe, expect, it } from 'vitest';
import { add, mul } from '../../src/kernels/elementwise.ts';
import { roundF16 } from '../../src/runtime/f16.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, expectClose, PRECISIONS, rand } from '../helpers.ts';

describe.each(PRECISIONS)('elementwise ($name)', ({ dtype, opts }) => {
  const shapes: [number[], number[]][] = [
    [[1], [1]],
    [[7, 13], [7, 13]],
    [[3, 5, 33], [33]],
    [[1000, 70], [70]],
  ];
  it.each(shapes)('add and mul %j with %j', async (sa, sb) => {
    const gpu = await device(opts);
    const na = sa.reduce((x, y) => x * y, 1);
    const nb = sb.reduce((x, y) => x * y, 1);
    const a = rand(na, 1);
    const b = rand(nb, 2);
    const ra = dtype === 'f16' ? roundF16(a) : a;
    const rb = dtype === 'f16' ? roundF16(b) : b;
    const ta = fromArray(gpu, a, sa, dtype);
    const tb = fromArray(gpu, b, sb, dtype);
    // Without shader-f16 outputs must be f32 (packed halves are read-only).
    const outDtype = dtype === 'f16' && gpu.caps.f16 ? 'f16' : 'f32';
    const tol = outDtype === 'f16' ? { atol: 2e-3, rtol: 2e-3 } : { atol: 1e-6, rtol: 1e-6 };
    const sum = await (await add(gpu, ta, tb, outDtype)).read();
    const prod = await (await mul(gpu, ta, tb, outDtype)).read();
    expectClose(sum, Array.from(ra, (x, i) => x + rb[i % nb]), { ...tol, label: 'add' });
    expectClose(prod, Array.from(ra, (x, i) => x * rb[i % nb]), { ...tol, label: 'mul' });
  });

  it('rejects shapes that do not broadcast', async () => {
    const gpu = await device(opts);
    const ta = fromArray(gpu, rand(6), [6], dtype);
    const tb = fromArray(gpu, rand(4), [4], dtype);
    await expect(add(gpu, ta, tb)).rejects.toThrow(/do not broadcast/);
  });
});
