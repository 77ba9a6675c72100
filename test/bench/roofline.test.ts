// The roofline's FMA loop computes what its FLOP count assumes: every variant shape (accumulators,
// vec4 or scalar, fma() or a*b+c, unroll, workgroup size) against a CPU reference of the same
// recurrence, on a thread count that is no multiple of the workgroup.
import { expect, it } from 'vitest';
import { dispatchFma, flopsPerTrip, variantName, type FmaVariant } from '../../bench/roofline.ts';
import { empty } from '../../src/runtime/tensor.ts';
import { device, expectClose } from '../helpers.ts';

/** Per invocation: accumulators a_j = s + j, `iters × unroll` times a = a·0.999 + s, summed over accumulators and lanes. */
function reference(v: FmaVariant, threads: number, iters: number): Float32Array {
  return Float32Array.from({ length: threads }, (_, i) => {
    const s = Math.fround((i & 255) * 1e-3);
    let sum = 0;
    for (let j = 0; j < v.acc; j++) {
      let a = s + j;
      for (let k = 0; k < iters * v.unroll; k++) a = a * 0.999 + s;
      sum += a;
    }
    return sum * v.width;
  });
}

const cases: FmaVariant[] = [
  { acc: 3, width: 4, fma: true, unroll: 2, workgroup: 64 },
  { acc: 2, width: 1, fma: false, unroll: 1, workgroup: 32 },
  { acc: 5, width: 1, fma: true, unroll: 4, workgroup: 256 },
];

it.each(cases.map((v) => [variantName(v), v] as const))('%s matches the CPU reference', async (_name, v) => {
  const gpu = await device();
  const threads = 300;
  const iters = 7;
  const dst = empty(gpu, [threads]);
  await dispatchFma(gpu, v, dst, threads, iters);
  expectClose(await dst.read(), reference(v, threads, iters), { rtol: 1e-5, label: variantName(v) });
  dst.dispose();
});

it('counts 2 FLOPs per accumulator lane per unrolled step', () => {
  expect(flopsPerTrip({ acc: 4, width: 4, fma: true, unroll: 4, workgroup: 64 })).toBe(128);
  expect(flopsPerTrip({ acc: 3, width: 1, fma: false, unroll: 2, workgroup: 64 })).toBe(12);
});
