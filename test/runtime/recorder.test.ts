// The recorder's reuse of bind groups (a cached group must never bind a destroyed buffer, another
// range of a buffer, or another dispatch's uniforms) and its dry run (validates and encodes,
// writes and executes nothing). Its capture and replay: test/kernels/replay.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { BindGroupCache } from '../../src/runtime/bind-groups.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import type { Kernel } from '../../src/runtime/shader.ts';
import { empty, fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import { device } from '../helpers.ts';

// out[i] = a[i] + add, for i < n.
const SOURCE = `struct Params { n: u32, add: f32, pad0: u32, pad1: u32 }
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < params.n) { out_store(g.x, a_load(g.x) + params.add); }
}`;

function params(n: number, add: number): ArrayBuffer {
  const b = new ArrayBuffer(16);
  new DataView(b).setUint32(0, n, true);
  new DataView(b).setFloat32(4, add, true);
  return b;
}

describe('recorder', () => {
  let gpu: Gpu;
  let kernel: Kernel;
  const addTo = (a: Tensor, out: Tensor, add: number) => gpu.recorder.dispatch(kernel, [a, out], params(a.numel, add), [Math.ceil(a.numel / 64)]);
  const counts = () => ({ hits: gpu.recorder.bindGroups.hits, misses: gpu.recorder.bindGroups.misses });

  beforeAll(async () => {
    gpu = await device();
    kernel = await gpu.pipelines.get({
      name: 'recorder-test',
      source: SOURCE,
      bindings: [
        { name: 'a', dtype: 'f32' },
        { name: 'out', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: true,
    });
  });

  it('reuses a bind group for the same buffers, each dispatch with its own uniforms', async () => {
    const a = fromArray(gpu, [1, 2, 3], [3]);
    const out = empty(gpu, [3]);
    const b = empty(gpu, [3]);
    const before = counts();
    // Same bindings, other uniform values, in one submit and across submits.
    addTo(a, out, 10);
    const first = await out.read();
    addTo(a, out, 20);
    addTo(out, b, 0.5);
    addTo(a, out, 30);
    expect(Array.from(first)).toEqual([11, 12, 13]);
    expect(Array.from(await b.read())).toEqual([21.5, 22.5, 23.5]);
    expect(Array.from(await out.read())).toEqual([31, 32, 33]);
    // Groups (a, out) and (out, b) made once each; the repeats of (a, out) hit.
    expect(counts()).toEqual({ hits: before.hits + 2, misses: before.misses + 2 });
    [a, out, b].forEach((t) => t.dispose());
  });

  it('binds each range of a buffer where it is, and a recycled buffer as the new tensor', async () => {
    const a = fromArray(gpu, [1, 2], [2]);
    const big = fromArray(gpu, new Float32Array(128), [128]);
    const before = counts();
    addTo(a, big.rows(0, 2), 1);
    addTo(a, big.rows(64, 2), 5); // same buffers, another offset: another group
    addTo(a, big.rows(0, 1), 7); // another size
    expect(counts().misses).toBe(before.misses + 3);
    const r = await big.read();
    expect([r[0], r[1], r[64], r[65]]).toEqual([8, 3, 6, 7]);
    const buffer = big.buffer;
    big.dispose();
    // The pool hands the buffer back for a tensor of another shape; the same range, the same group.
    const recycled = fromArray(gpu, new Float32Array(100).fill(-1), [100]);
    expect(recycled.buffer).toBe(buffer);
    addTo(a, recycled.rows(64, 2), 9);
    expect(counts().hits).toBe(before.hits + 1);
    const s = await recycled.read();
    expect([s[63], s[64], s[65], s[66]]).toEqual([-1, 10, 11, -1]);
    a.dispose();
    recycled.dispose();
  });

  it('never binds a destroyed buffer: trim() empties the cache', async () => {
    const a = fromArray(gpu, [1, 2], [2]);
    const out = empty(gpu, [2]);
    addTo(a, out, 1);
    await gpu.sync();
    a.dispose();
    out.dispose();
    gpu.pool.trim(); // destroys both buffers
    expect(gpu.pool.owns(out.buffer)).toBe(false);
    // New buffers of the same sizes: nothing cached may be reused (the old ones are destroyed).
    const a2 = fromArray(gpu, [3, 4], [2]);
    const out2 = empty(gpu, [2]);
    expect(a2.buffer).not.toBe(a.buffer);
    const before = counts();
    addTo(a2, out2, 1);
    expect(counts()).toEqual({ hits: before.hits, misses: before.misses + 1 });
    expect(gpu.recorder.bindGroups.size).toBe(1);
    expect(Array.from(await out2.read())).toEqual([4, 5]);
    await gpu.sync('after trim'); // a stale group would be a validation error here
    a2.dispose();
    out2.dispose();
  });

  it('does not cache bind groups over buffers the pool does not own', async () => {
    const own = gpu.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    gpu.recorder.write(own, 0, new Uint8Array(new Float32Array([7, 8]).buffer));
    const out = empty(gpu, [2]);
    const before = counts();
    const size = gpu.recorder.bindGroups.size;
    for (let i = 0; i < 2; i++) gpu.recorder.dispatch(kernel, [{ buffer: own, offset: 0, size: 8 }, out], params(2, 1), [1]);
    expect(counts()).toEqual(before);
    expect(gpu.recorder.bindGroups.size).toBe(size);
    expect(Array.from(await out.read())).toEqual([8, 9]);
    own.destroy();
    out.dispose();
  });

  it('results with and without the cache agree', async () => {
    const run = async () => {
      const x = fromArray(gpu, [0.25, -1, 3], [3]);
      const y = empty(gpu, [3]);
      for (let i = 0; i < 6; i++) (i % 2 ? addTo(y, x, i) : addTo(x, y, -i));
      const r = await x.read();
      x.dispose();
      y.dispose();
      return r;
    };
    const cached = await run();
    gpu.recorder.bindGroups.enabled = false;
    try {
      expect(await run()).toEqual(cached);
    } finally {
      gpu.recorder.bindGroups.enabled = true;
    }
  });

  it('keeps at most its capacity, dropping the least recently used', () => {
    const cache = new BindGroupCache(gpu.device, gpu.pool, 2);
    const bufs = [1, 2, 3].map(() => empty(gpu, [64]));
    const u = gpu.device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM });
    const get = (t: Tensor) => cache.get(kernel.layout, [t.binding(), t.binding(), { buffer: u, offset: 0, size: 16 }], 'lru', u);
    const g0 = get(bufs[0]);
    get(bufs[1]);
    expect(get(bufs[0])).toBe(g0); // now most recent
    get(bufs[2]); // evicts bufs[1]
    expect(cache.size).toBe(2);
    expect(get(bufs[0])).toBe(g0);
    const misses = cache.misses;
    get(bufs[1]);
    expect(cache.misses).toBe(misses + 1);
    bufs.forEach((t) => t.dispose());
    u.destroy();
  });

  it('a dry run validates and counts dispatches but writes and executes nothing', async () => {
    const a = fromArray(gpu, [1, 2], [2]);
    const out = fromArray(gpu, [5, 6], [2]);
    const dispatched = gpu.recorder.dispatched;
    await gpu.recorder.dryRun(async () => {
      expect(gpu.recorder.isDryRun).toBe(true);
      addTo(a, out, 100);
      gpu.recorder.write(out.buffer, 0, new Uint8Array(8));
      const t = fromArray(gpu, [9, 9], [2]); // allocated, not written
      t.dispose();
      await gpu.sync('dry run');
      await expect(gpu.recorder.dryRun(async () => {})).rejects.toThrow(/already inside a dry run/);
      await out.read(); // a readback inside a dry run returns, with whatever the staging buffer held
    });
    expect(gpu.recorder.dispatched).toBe(dispatched + 1);
    expect(gpu.recorder.isDryRun).toBe(false);
    expect(Array.from(await out.read())).toEqual([5, 6]);
    // A failure inside ends the dry run too.
    const failing = async () => {
      addTo(a, out, 100);
      throw new Error('boom');
    };
    await expect(gpu.recorder.dryRun(failing)).rejects.toThrow('boom');
    expect(gpu.recorder.isDryRun).toBe(false);
    expect(Array.from(await out.read())).toEqual([5, 6]);
    a.dispose();
    out.dispose();
  });
});
