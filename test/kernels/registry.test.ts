import { afterEach, describe, expect, it } from 'vitest';
import { add } from '../../src/kernels/elementwise.ts';
import { linear } from '../../src/kernels/matmul.ts';
import {
  AUTOTUNE_SAMPLES,
  chooseVariant,
  kernelChoice,
  registerFamily,
  setAutotune,
  setKernelChoice,
  setKernelOverride,
  tunedChoices,
  type Variant,
} from '../../src/kernels/registry.ts';
import { isCpuAdapter } from '../../src/runtime/device.ts';
import { createDevice, type Gpu } from '../../src/runtime/device.ts';
import { fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import builtin from '../../shaders/matmul.wgsl';
import { device, expectClose, rand } from '../helpers.ts';
import { linearRef } from './ref.ts';


async function run(M = 5, N = 6, K = 8, on?: Gpu) {
  const gpu = on ?? (await device());
  const x = rand(M * K, 1);
  const w = rand(N * K, 2);
  const y = await linear(gpu, fromArray(gpu, x, [M, K]), fromArray(gpu, w, [N, K]));
  return { got: await y.read(), want: linearRef(x, w, M, N, K) };
}

describe('kernel registry', () => {
  afterEach(() => {
    setKernelChoice('matmul', undefined);
    setKernelOverride('matmul', undefined);
  });

  it('rejects an unknown variant name, listing the variants', () => {
    expect(() => setKernelChoice('matmul', 'tiled-99x99')).toThrow(/no variant 'tiled-99x99' \(variants: .*naive/);
    expect(() => setKernelChoice('nope', 'x')).toThrow(/unknown kernel family 'nope'/);
  });

  it('autotunes once per shape class and remembers the winner', async () => {
    const gpu = await device();
    setAutotune(true); // off by default on CPU adapters
    const { got, want } = await run(40, 36, 32).finally(() => setAutotune(undefined));
    expectClose(got, want, { atol: 1e-5 });
    const chosen = Object.entries(tunedChoices(gpu)).find(([k]) => k.startsWith('matmul|') && k.includes('N36 K32'));
    expect(chosen?.[1]).toBeTruthy();
  });

  it('skips timing on CPU adapters unless asked (the first supported variant runs)', async () => {
    const gpu = await device();
    await run(24, 20, 16);
    const tuned = Object.keys(tunedChoices(gpu)).some((k) => k.includes('N20 K16'));
    expect(tuned).toBe(!isCpuAdapter(gpu.caps));
  });

  it('runs a user override of the WGSL (here: the built-in source with the product negated)', async () => {
    setKernelOverride('matmul', { source: builtin.replace('var v = acc;', 'var v = -acc;'), file: 'my/matmul.wgsl' });
    setKernelChoice('matmul', 'tiled-4x4');
    const { got, want } = await run();
    expectClose(got, want.map((v) => -v), { atol: 1e-5 });
  });

  it('reports bad override WGSL with the file and line', async () => {
    const lines = builtin.split('\n');
    const at = lines.findIndex((l) => l.includes('var v = acc;'));
    lines[at] = '  var v = acc +;';
    setKernelOverride('matmul', { source: lines.join('\n'), file: 'my/matmul.wgsl' });
    await expect(run()).rejects.toThrow(new RegExp(`my/matmul\\.wgsl:${at + 1}:`));
  });

  it('reports an override that breaks the bindings contract, without losing the device', async () => {
    const extra = '@group(0) @binding(9) var<storage, read> extra: array<f32>;\n';
    setKernelOverride('matmul', { source: extra + builtin.replace('var v = acc;', 'var v = acc + extra[0];'), file: 'my/matmul.wgsl' });
    await expect(run()).rejects.toThrow(/my\/matmul\.wgsl: pipeline creation failed .*bindings contract/s);
    setKernelOverride('matmul', undefined);
    const { got, want } = await run();
    expectClose(got, want, { atol: 1e-5 });
  });
});

describe('kernel settings belong to a device', () => {
  let second: Gpu | undefined;
  afterEach(() => {
    setKernelChoice('matmul', undefined);
    setKernelOverride('matmul', undefined);
  });

  it("one device's forced variant and WGSL override leave another device (and the process defaults) alone", async () => {
    const a = await device();
    second ??= await createDevice();
    const b = second;
    const negated = { source: builtin.replace('var v = acc;', 'var v = -acc;'), file: 'my/matmul.wgsl' };
    setKernelOverride('matmul', negated, a);
    setKernelChoice('matmul', 'tiled-4x4', a);
    setKernelChoice('matmul', 'tiled-8x4'); // process default: b sees it, a keeps its own
    expect([kernelChoice('matmul', a), kernelChoice('matmul', b), kernelChoice('matmul')]).toEqual(['tiled-4x4', 'tiled-8x4', 'tiled-8x4']);
    const [onA, onB] = await Promise.all([run(7, 5, 12, a), run(7, 5, 12, b)]);
    expectClose(onA.got, onA.want.map((v) => -v), { atol: 1e-5 });
    expectClose(onB.got, onB.want, { atol: 1e-5 });
    // Undefined on a device means "automatic" there, even where the process forces a variant.
    setKernelChoice('matmul', undefined, a);
    setKernelOverride('matmul', undefined, a);
    expect(kernelChoice('matmul', a)).toBeUndefined();
    const back = await run(7, 5, 12, a);
    expectClose(back.got, back.want, { atol: 1e-5 });
  });
});

// A test family whose variants do real GPU work of known relative cost: `work` elementwise adds
// of 2^21 values per timed run: enough GPU work that a 6× difference outweighs a sync round-trip and
// a coarse timestamp clock (SwiftShader under a loaded CI machine once judged 1 add vs 6 "same").
interface FakeVariant extends Variant {
  work: number;
}
const FAKE: FakeVariant[] = registerFamily('registry-test', [
  { name: 'slow', family: 'registry-test', work: 6, supports: () => true },
  { name: 'same-as-slow', family: 'registry-test', work: 6, supports: () => true },
  { name: 'fast', family: 'registry-test', work: 1, supports: () => true },
  { name: 'slower', family: 'registry-test', work: 12, supports: () => true },
]);

describe('autotune', () => {
  const N = 1 << 21;
  let x: Tensor | undefined;
  const log: string[] = [];
  /** Times `v` by running its work; logs when each timing starts and ends. */
  const timer = (gpu: Gpu, tag: string) => async (v: FakeVariant) => {
    x ??= fromArray(gpu, rand(N, 3), [N]);
    log.push(`start ${tag}`);
    const t0 = performance.now();
    for (let i = 0; i < v.work; i++) (await add(gpu, x, x)).dispose();
    await gpu.sync('fake');
    log.push(`end ${tag}`);
    return performance.now() - t0;
  };
  // A shape class per run: browsers keep localStorage between runs.
  const unique = () => `${Date.now()}-${Math.random()}`;
  const pick = (gpu: Gpu, names: string[], cls: string, tag = cls) => chooseVariant<FakeVariant>(gpu, 'registry-test', cls, timer(gpu, tag), (v) => names.includes(v.name));

  it('keeps the incumbent unless a challenger is faster beyond noise; switches when one is', async () => {
    const gpu = await device();
    setAutotune(true, gpu);
    try {
      expect((await pick(gpu, ['slow', 'slower'], `keep ${unique()}`)).name).toBe('slow');
      expect((await pick(gpu, ['slow', 'fast'], `switch ${unique()}`)).name).toBe('fast');
    } finally {
      setAutotune(undefined, gpu);
    }
  });

  it('tunes one class at a time per device, once per class (concurrent requests wait), and caches per adapter', async () => {
    const gpu = await device();
    setAutotune(true, gpu);
    const [c1, c2] = [`serial-1 ${unique()}`, `serial-2 ${unique()}`];
    log.length = 0;
    try {
      const got = await Promise.all([pick(gpu, ['slow', 'fast'], c1), pick(gpu, ['slow', 'fast'], c2), pick(gpu, ['slow', 'fast'], c1)]);
      expect(got.map((v) => v.name)).toEqual(['fast', 'fast', 'fast']);
    } finally {
      setAutotune(undefined, gpu);
    }
    // Two tunings, each a warm-up plus AUTOTUNE_SAMPLES rounds of both candidates, never overlapping.
    expect(log.length).toBe(2 * 2 * 2 * (1 + AUTOTUNE_SAMPLES));
    const firstEnd = log.lastIndexOf(`end ${c1}`);
    const secondStart = log.indexOf(`start ${c2}`);
    expect(firstEnd).toBeLessThan(secondStart);
    expect(Object.keys(tunedChoices(gpu))).toEqual(expect.arrayContaining([`registry-test|${c1}`, `registry-test|${c2}`]));
    // Another device on the same adapter (e.g. the next process) starts from the cached choice.
    const other = await createDevice();
    setAutotune(true, other);
    log.length = 0;
    expect((await pick(other, ['slow', 'fast'], c1)).name).toBe('fast');
    expect(log).toEqual([]);
    other.destroy();
  });

  it('is off by default on CPU adapters: the first candidate runs untimed', async () => {
    const gpu = await device();
    log.length = 0;
    const v = await pick(gpu, ['slow', 'fast'], `default ${unique()}`);
    expect(isCpuAdapter(gpu.caps)).toBe(true); // lavapipe in Node, SwiftShader in Chromium
    expect(v.name).toBe('slow');
    expect(log).toEqual([]);
  });
});
