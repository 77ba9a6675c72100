// The recorder's capture and replay of recorded work (runtime/recorder.ts; the denoising loop
// replays its first step with it, model/replay.ts). Here beside the kernel tests so that the
// browser project runs it too: a replay issues its WebGPU calls in Chromium as well.
import { beforeAll, describe, expect, it } from 'vitest';
import { scale } from '../../src/kernels/elementwise.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { empty, fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { device } from '../helpers.ts';

describe('recorder capture and replay', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await device();
  });

  const CHAIN = 300; // dispatches: three auto-flushed submits
  const SUM = (CHAIN * (CHAIN - 1)) / 2;

  /** out = [input + Σ i, input]: a chain of dispatches (x + i) through scratch tensors, then copies. */
  const chain = (input: Tensor, out: Tensor) => async () => {
    let x = input;
    for (let i = 0; i < CHAIN; i++) {
      const y = await scale(gpu, x, 1, i);
      if (x !== input) x.dispose();
      x = y;
    }
    gpu.recorder.copy(x.buffer, 0, out.buffer, 0, 12);
    gpu.recorder.copy(input.buffer, 0, out.buffer, 12, 12);
    x.dispose();
  };

  it('re-issues every dispatch with its own uniforms, and the copies, across submits; holds its scratch buffers', async () => {
    const rec = gpu.recorder;
    const input = fromArray(gpu, [1, 2, 3], [3]);
    const out = empty(gpu, [6]);
    const live = gpu.pool.liveBytes;
    const { plan } = await rec.capture(chain(input, out));
    expect(plan, 'a plan').toBeDefined();
    expect(plan!.batches).toHaveLength(3);
    expect(Array.from(await out.read())).toEqual([1 + SUM, 2 + SUM, 3 + SUM, 1, 2, 3]);
    // The chain's two scratch buffers stay out of the pool: tensors made now get others.
    expect(gpu.pool.liveBytes).toBe(live + 2 * 256);
    const others = [0, 1].map(() => fromArray(gpu, [-7, -7, -7], [3]));

    rec.write(input.buffer, 0, new Uint8Array(new Float32Array([10, 20, 30]).buffer));
    const before = { submits: rec.submits, dispatched: rec.dispatched, replays: rec.replays, misses: rec.bindGroups.misses };
    rec.replay(plan!);
    expect(rec.submits - before.submits).toBe(3);
    expect(rec.dispatched - before.dispatched).toBe(CHAIN);
    expect(Array.from(await out.read())).toEqual([10 + SUM, 20 + SUM, 30 + SUM, 10, 20, 30]);
    for (const t of others) expect(Array.from(await t.read())).toEqual([-7, -7, -7]);
    expect(rec.replays - before.replays).toBe(1);
    expect(rec.bindGroups.misses).toBe(before.misses);

    // A dry-run replay encodes the commands and runs none of them.
    await rec.dryRun(async () => rec.replay(plan!));
    expect(Array.from(await out.read())).toEqual([10 + SUM, 20 + SUM, 30 + SUM, 10, 20, 30]);

    plan!.dispose();
    expect(gpu.pool.liveBytes).toBe(live + 2 * 256); // `others` now, the scratch buffers back in the pool
    expect(() => rec.replay(plan!)).toThrow(/disposed/);
    [input, out, ...others].forEach((t) => t.dispose());
  });

  it('makes no plan of work that writes, reads or waits, with plans off, or under a profiler; the work still runs', async () => {
    const rec = gpu.recorder;
    const input = fromArray(gpu, [1, 2, 3], [3]);
    const out = empty(gpu, [6]);
    const want = [1 + SUM, 2 + SUM, 3 + SUM, 1, 2, 3];
    const early = 'it submitted work early (a write, a read or a wait)';
    const cases: [string, () => Promise<void>, string][] = [
      ['write', async () => rec.write(input.buffer, 0, new Uint8Array(new Float32Array([1, 2, 3]).buffer)), early],
      ['wait', () => gpu.sync('test'), early],
      ['read', async () => void (await input.read()), early],
      ['trim', async () => gpu.pool.trim(), 'the pool destroyed buffers meanwhile'],
    ];
    out.dispose();
    for (const [what, extra, reason] of cases) {
      const fresh = empty(gpu, [6]);
      const captured = await rec.capture(async () => {
        await extra();
        await chain(input, fresh)();
      });
      expect(captured, what).toMatchObject({ plan: undefined, reason });
      expect(Array.from(await fresh.read()), what).toEqual(want);
      fresh.dispose();
    }
    rec.plans = false;
    try {
      const o = empty(gpu, [6]);
      expect(await rec.capture(chain(input, o))).toMatchObject({ plan: undefined, reason: 'plans are off' });
      expect(Array.from(await o.read())).toEqual(want);
      o.dispose();
    } finally {
      rec.plans = true;
    }
    rec.observer = { beginDispatch: () => undefined, beforeSubmit: () => {}, afterSubmit: () => {}, wantsFlushAfterDispatch: () => false };
    try {
      const o = empty(gpu, [6]);
      expect(await rec.capture(chain(input, o))).toMatchObject({ plan: undefined, reason: 'a profiler is attached' });
      o.dispose();
    } finally {
      rec.observer = undefined;
    }
    await expect(rec.capture(() => rec.capture(async () => 1))).rejects.toThrow(/already capturing/);
    input.dispose();
  });
});
