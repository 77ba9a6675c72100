// `diception kernels` and `diception tune`: the variant listing, and autotuning at a family's
// shapes into the per-adapter cache that the next device (or process) starts from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTOTUNE_ENTRY } from '../../src/kernels/autotune-cache.ts';
import { kernelFamilies, setAutotune, tunedChoices, variantsOf } from '../../src/kernels/registry.ts';
import { createDevice } from '../../src/runtime/device.ts';
import { linear } from '../../src/kernels/matmul.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { kernelsCommand } from '../../tools/kernels.ts';
import { tuneCommand } from '../../tools/tune.ts';
import { device } from '../helpers.ts';

const capture = () => {
  const io = { text: '', out: (t: string) => void (io.text += t), err: () => {} };
  return io;
};

describe('diception kernels', () => {
  it('lists every registered variant with its needs and whether this adapter runs it', async () => {
    const gpu = await device();
    const io = capture();
    await kernelsCommand({ json: true }, io);
    const { adapter, kernels } = JSON.parse(io.text);
    expect(adapter).toBe(gpu.caps.adapterName);
    expect(kernels.length).toBe(kernelFamilies().reduce((n, f) => n + variantsOf(f).length, 0));
    const f16 = kernels.find((k: { variant: string }) => k.variant === 'tiled-8x4-f16');
    expect(f16).toMatchObject({ family: 'matmul', supported: gpu.caps.f16 });
    expect(kernels.find((k: { variant: string }) => k.variant === 'naive' && k)).toMatchObject({ autotune: false });
    const text = capture();
    await kernelsCommand({}, text);
    expect(text.text).toMatch(/^family +variant +needs +workgroup mem +subgroups +subgroup matrix +autotune +runs here\n/);
  });
});

describe('diception tune', () => {
  it('tunes matmul at its smoke shapes and caches the choices for the next device on this adapter', async () => {
    // Without subgroups and f16 four variants compete (seconds on lavapipe, not minutes).
    const gpu = await createDevice({ disableSubgroups: true, disableF16: true });
    const io = capture();
    await tuneCommand({ families: 'matmul', shapes: 'smoke', dtype: 'f32', json: true }, io, gpu);
    const summary = JSON.parse(io.text);
    const keys = Object.keys(summary.choices);
    expect(keys.filter((k) => k.startsWith('matmul|nt f32.f32->f32'))).toHaveLength(2);
    expect(summary.new).toEqual(keys);
    const file = JSON.parse(readFileSync(join(process.env.DICEPTION_CACHE_DIR!, `${AUTOTUNE_ENTRY}.json`), 'utf8'));
    expect(file[summary.adapter]).toMatchObject(summary.choices);
    // A new device on the same adapter starts from the cached variant.
    const next = await createDevice({ disableSubgroups: true, disableF16: true });
    setAutotune(true, next);
    const y = await linear(next, fromArray(next, new Float32Array(37 * 64), [37, 64]), fromArray(next, new Float32Array(45 * 64), [45, 64]));
    await y.read();
    const key = keys.find((k) => k.includes('N45 K64'))!;
    expect(tunedChoices(next)[key]).toBe(summary.choices[key]);
    await expect(tuneCommand({ shapes: 'everything' }, capture(), gpu)).rejects.toThrow(/--shapes: 'everything' is not a shape set/);
    [gpu, next].forEach((g) => g.destroy());
  });
});
