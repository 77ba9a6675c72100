import { afterEach, describe, expect, it } from 'vitest';
import { linear } from '../../src/kernels/matmul.ts';
import { setAutotune, setKernelChoice, setKernelOverride, tunedChoices } from '../../src/kernels/registry.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import builtin from '../../shaders/matmul.wgsl';
import { device, expectClose, rand } from '../helpers.ts';
import { linearRef } from './ref.ts';


async function run(M = 5, N = 6, K = 8) {
  const gpu = await device();
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
    expect(tuned).toBe(!gpu.caps.isFallback);
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
