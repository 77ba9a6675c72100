// The roofline's FMA loop computes what its FLOP count assumes: every variant shape (accumulators,
// vec4 or scalar, fma() or a*b+c, unroll, workgroup size) against a CPU reference of the same
// recurrence, on a thread count that is no multiple of the workgroup. Each figure comes from a
// run grown to span MIN_SPAN_MS on the adapter's best clock.
import { describe, expect, it } from 'vitest';
import { dispatchFma, flopsPerTrip, fmaSize, MIN_SPAN_MS, roofline, timeGrown, variantName, type FmaVariant } from '../../bench/roofline.ts';
import type { KernelTimer } from '../../src/kernels/kernel-timer.ts';
import { timestampsWork } from '../../src/runtime/profiler.ts';
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

describe('timed spans', () => {
  /** A clock on which `work` takes work / rate ms, counting its calls. */
  const fakeTimer = (rate: number) => {
    const calls: number[] = [];
    const timer: KernelTimer = {
      clock: 'gpu-timestamps',
      async time(run) {
        await run();
        return calls[calls.length - 1] / rate;
      },
    };
    return { timer, calls, run: async (w: number) => void calls.push(w) };
  };

  it('grows the work until one run spans the minimum, then takes the median of 5 at that size', async () => {
    // An H200-like rate: the first try (2^30 FLOPs) takes ~0.016 ms.
    const f = fakeTimer(67e9);
    const t = await timeGrown(f.timer, 2 ** 30, f.run, () => false);
    expect(t.work / 67e9).toBeGreaterThanOrEqual(MIN_SPAN_MS);
    expect(t.ms).toBeCloseTo(t.work / 67e9);
    expect(f.calls.slice(-5)).toEqual(Array(5).fill(t.work));
    expect(f.calls.length).toBeLessThan(1 + 8 + 5);
  });

  it('stops growing where the size is capped, and does not grow a long enough run', async () => {
    const capped = fakeTimer(1e12);
    expect((await timeGrown(capped.timer, 1, capped.run, (w) => w >= 100)).work).toBeGreaterThanOrEqual(100);
    const slow = fakeTimer(1);
    const enough = MIN_SPAN_MS + 10;
    expect(await timeGrown(slow.timer, enough, slow.run, () => false)).toEqual({ work: enough, ms: enough });
    expect(slow.calls).toHaveLength(7); // a discarded first run, the probe, 5 samples
  });

  it('lays FMA work out as threads first, then loop trips, then dispatches, keeping the FLOPs', () => {
    const v: FmaVariant = { acc: 4, width: 4, fma: true, unroll: 4, workgroup: 64 };
    expect(fmaSize(v, 2 ** 30)).toEqual({ threads: 2 ** 14, iters: 512, dispatches: 1 });
    expect(fmaSize(v, 2 ** 36)).toEqual({ threads: 2 ** 20, iters: 512, dispatches: 1 });
    for (const flops of [2 ** 40, 2 ** 46, 3e15]) {
      const s = fmaSize(v, flops);
      expect(s.threads).toBe(2 ** 20);
      expect(s.iters).toBeLessThanOrEqual(2 ** 16);
      expect((s.threads * s.iters * s.dispatches * flopsPerTrip(v)) / flops).toBeCloseTo(1, 1);
    }
  });

  it('measures the peaks on this adapter over spans of at least the minimum (lavapipe: wall clock)', async () => {
    const gpu = await device();
    const r = await roofline(gpu);
    expect(r.clock).toBe(gpu.caps.timestamps && (await timestampsWork(gpu)) ? 'gpu-timestamps' : 'wall-clock');
    expect(r.fmaMs).toBeGreaterThanOrEqual(MIN_SPAN_MS * 0.5); // the median may dip below the growth run
    expect(r.copyMs).toBeGreaterThanOrEqual(MIN_SPAN_MS * 0.5);
    const b = r.best;
    expect(r.gflops).toBeCloseTo((b.threads * b.iters * b.dispatches * flopsPerTrip(b.variant)) / (b.ms * 1e6));
    expect(r.gbps).toBeCloseTo((2 * r.copyBytes * r.copyDispatches) / (r.copyMs * 1e6));
  });
});
