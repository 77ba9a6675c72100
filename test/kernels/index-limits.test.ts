// Kernels index in u32 (shaders/README.md, "Index limits"): a tensor that a kernel indexes from
// its start (conv2d, groupnorm) is refused past 2³²−1 elements, naming the op and the shape, and
// no binding window reaches 2³² bytes whatever the adapter allows. Checked on virtual shapes:
// tensors whose shape is huge over a small buffer, refused before anything reads them.
import { describe, expect, it } from 'vitest';
import { checkIndexable, maxWindowElems, MAX_INDEXED } from '../../src/kernels/bands.ts';
import { conv2d, type Conv2dWeight } from '../../src/kernels/conv2d.ts';
import { groupNorm } from '../../src/kernels/groupnorm.ts';
import { MAX_BINDING, wrapDevice } from '../../src/runtime/device.ts';
import { Tensor } from '../../src/runtime/tensor.ts';
import { device } from '../helpers.ts';

/** A tensor of `shape` over a 256-byte buffer: only its shape may be looked at. */
async function virtual(shape: number[], dtype: 'f32' | 'f16' = 'f16'): Promise<Tensor> {
  const gpu = await device();
  return new Tensor(gpu, gpu.pool.acquire(256, 'virtual'), shape, dtype);
}

describe('u32 index limits', () => {
  it('checkIndexable passes 2³²−1 elements and refuses one more, naming the op and the shape', () => {
    expect(MAX_INDEXED).toBe(4294967295);
    expect(() => checkIndexable('op', { x: [3, 5, 17, 257, 65537] })).not.toThrow(); // 2³² − 1
    expect(() => checkIndexable('op', { x: [1], y: [2, 2 ** 31] })).toThrow('op: y [2,2147483648] has 4294967296 elements, past the 4294967295 its u32 indices reach; use a smaller batch or image');
  });

  it('conv2d refuses a 64-image SD3 decoder map (9.7·10⁹ elements) before any dispatch', async () => {
    const gpu = await device();
    const x = await virtual([64, 768, 768, 256]);
    const before = gpu.recorder.dispatched;
    const w = { kh: 3, kw: 3, cin: 256, cout: 256 } as Conv2dWeight;
    await expect(conv2d(gpu, x, w)).rejects.toThrow(/^conv2d: input \[64,768,768,256\] has 9663676416 elements, past the 4294967295 its u32 indices reach/);
    // Its output alone can pass the limit too: 2× upsampling of a map that fits.
    const small = await virtual([16, 384, 384, 512]);
    await expect(conv2d(gpu, small, { kh: 3, kw: 3, cin: 512, cout: 512 } as Conv2dWeight, { upsample: 2 })).rejects.toThrow(/^conv2d: output \[16,768,768,512\] has 4831838208 elements/);
    expect(gpu.recorder.dispatched).toBe(before);
    for (const t of [x, small]) gpu.pool.release(t.buffer);
  });

  it('groupNorm refuses an input past 2³²−1 elements before any dispatch', async () => {
    const gpu = await device();
    const x = await virtual([64, 768 * 768, 256]);
    const gamma = await virtual([256], 'f32');
    const before = gpu.recorder.dispatched;
    await expect(groupNorm(gpu, x, { gamma, beta: gamma, groups: 32, eps: 1e-6 })).rejects.toThrow(/^groupNorm: input \[64,589824,256\] has 9663676416 elements, past the 4294967295/);
    expect(gpu.recorder.dispatched).toBe(before);
    for (const t of [x, gamma]) gpu.pool.release(t.buffer);
  });

  it('an adapter allowing larger storage bindings is held below 2³² bytes, so every window index fits u32', async () => {
    const real = await device();
    const big = new Set(['maxStorageBufferBindingSize', 'maxBufferSize']);
    const limits = new Proxy(real.device.limits, { get: (l, k) => (big.has(String(k)) ? 2 ** 40 : l[k as keyof GPUSupportedLimits]) });
    const fake = { features: new Set(), limits, lost: new Promise(() => {}), addEventListener: () => {} } as unknown as GPUDevice;
    const gpu = wrapDevice(fake, { adapterInfo: { description: 'big' } as GPUAdapterInfo });
    expect(gpu.caps.maxStorageBinding).toBe(MAX_BINDING);
    expect(maxWindowElems(gpu, 'f16')).toBeLessThan(2 ** 31);
    expect(maxWindowElems(gpu, 'f32')).toBeLessThan(2 ** 30);
  });
});
