// The Node platform's settle (src/runtime/node.ts): GPU promises are awaited without letting
// Dawn's setImmediate polling spin the main thread; Gpu.settle uses it on CPU adapters only. A
// stand-in for Dawn's poller (a callback that re-queues itself with setImmediate while a promise
// is pending) counts the event-loop turns.
import { describe, expect, it, vi } from 'vitest';
import { nodePlatform } from '../../src/runtime/node.ts';
import { Gpu } from '../../src/runtime/device.ts';
import { settle } from '../../src/runtime/platform.ts';
import { device } from '../helpers.ts';
import { fromArray } from '../../src/runtime/tensor.ts';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

/** Turns taken by a setImmediate poller until `pending` settles. */
async function pollerTurns(pending: Promise<unknown>): Promise<number> {
  let open = true;
  let turns = 0;
  const poll = () => {
    turns++;
    if (open) setImmediate(poll);
  };
  setImmediate(poll);
  await pending.catch(() => undefined);
  open = false;
  return turns;
}

describe('settle (Node)', () => {
  it('is the platform hook, and returns what the promise gives', async () => {
    expect(nodePlatform.settle).toBeDefined();
    await expect(settle(later(5, 42))).resolves.toBe(42);
    await expect(settle(Promise.reject(new Error('map failed')))).rejects.toThrow('map failed');
  });

  it('naps between polls: far fewer event-loop turns than awaiting directly', async () => {
    const direct = await pollerTurns(later(100, 0));
    const quiet = await pollerTurns(settle(later(100, 0)));
    // Naps grow to 1 ms, so 100 ms holds about a hundred turns; a free-running poller takes
    // thousands (its bound here is loose on purpose: a loaded machine turns slower).
    expect(quiet).toBeLessThan(400);
    expect(direct).toBeGreaterThan(4 * quiet);
  });

  it('back-to-back waits reuse one napping loop instead of starting one each', async () => {
    const naps = vi.spyOn(Atomics, 'wait');
    try {
      for (let i = 0; i < 100; i++) await settle(later(1, i));
      // One loop naps a handful of times per 1 ms wait (0.02 ms doubling); loops left running
      // from earlier waits would each nap on every turn, hundreds per wait by the end.
      expect(naps.mock.calls.length).toBeLessThan(100 * 12);
    } finally {
      naps.mockRestore();
    }
  });

  it('overlapping waits share one napping loop, and a GPU readback still completes', async () => {
    const gpu = await device();
    const t = fromArray(gpu, new Float32Array([1, 2, 3]), [3]);
    const [a, b, values] = await Promise.all([settle(later(20, 'a')), settle(later(40, 'b')), t.read()]);
    expect([a, b, [...values]]).toEqual(['a', 'b', [1, 2, 3]]);
    t.dispose();
  });

  it('Gpu.settle naps on a CPU adapter and passes the promise through on a GPU', async () => {
    const gpu = await device(); // lavapipe: a CPU adapter
    const quiet = await pollerTurns(gpu.settle(later(100, 0)));
    expect(quiet).toBeLessThan(400);
    const onGpu = { caps: { ...gpu.caps, isFallback: false, architecture: 'ampere', adapterName: 'NVIDIA H200' } };
    const pending = later(1, 0);
    expect(Gpu.prototype.settle.call(onGpu as unknown as Gpu, pending)).toBe(pending);
  });
});
