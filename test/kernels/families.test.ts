// Every kernel family this project's wrappers own is in the registry: its variants say what they
// need, a forced variant is the one that runs, and a user's WGSL replaces the built-in file
// (compiled with the same prelude and defines; errors name the user's file and line).
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/kernels/families.ts';
import { attention } from '../../src/kernels/attention.ts';
import { add } from '../../src/kernels/elementwise.ts';
import { embedding } from '../../src/kernels/embedding.ts';
import { groupNorm } from '../../src/kernels/groupnorm.ts';
import { patchify } from '../../src/kernels/layout.ts';
import { layerNorm } from '../../src/kernels/norms.ts';
import { kernelFamilies, setKernelChoice, setKernelOverride, variantsOf } from '../../src/kernels/registry.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import type { Gpu } from '../../src/runtime/device.ts';
import { fromArray, type Tensor } from '../../src/runtime/tensor.ts';
import attentionWgsl from '../../shaders/attention.wgsl';
import elementwiseWgsl from '../../shaders/elementwise.wgsl';
import embeddingWgsl from '../../shaders/embedding.wgsl';
import groupnormWgsl from '../../shaders/groupnorm.wgsl';
import layoutWgsl from '../../shaders/layout.wgsl';
import normsWgsl from '../../shaders/norms.wgsl';
import softmaxWgsl from '../../shaders/softmax.wgsl';
import { device, expectClose, rand } from '../helpers.ts';
import { softmaxRef } from './attention.ref.ts';

/** One small call per family (the family name is the shader file's basename). */
const CALLS: Record<string, { builtin: string; run: (gpu: Gpu) => Promise<Tensor> }> = {
  attention: {
    builtin: attentionWgsl,
    run: (gpu) => {
      const t = fromArray(gpu, rand(3 * 8), [1, 3, 8]);
      return attention(gpu, t, t, t, { heads: 2 });
    },
  },
  groupnorm: {
    builtin: groupnormWgsl,
    run: (gpu) => {
      const g = fromArray(gpu, rand(4), [4]);
      return groupNorm(gpu, fromArray(gpu, rand(12), [1, 3, 4]), { gamma: g, beta: g, groups: 2, eps: 1e-6 });
    },
  },
  norms: { builtin: normsWgsl, run: (gpu) => layerNorm(gpu, fromArray(gpu, rand(12), [3, 4]), { eps: 1e-6 }) },
  elementwise: {
    builtin: elementwiseWgsl,
    run: (gpu) => {
      const t = fromArray(gpu, rand(6), [6]);
      return add(gpu, t, t);
    },
  },
  softmax: { builtin: softmaxWgsl, run: (gpu) => softmax(gpu, fromArray(gpu, rand(6), [2, 3])) },
  // p = 1 moves channels last: a kernel, not buffer copies of contiguous rows.
  layout: { builtin: layoutWgsl, run: (gpu) => patchify(gpu, fromArray(gpu, rand(48), [1, 3, 4, 4]), 1) },
  embedding: { builtin: embeddingWgsl, run: (gpu) => embedding(gpu, fromArray(gpu, rand(12), [4, 3]), Int32Array.from([3, 1])) },
};
const FAMILIES = Object.keys(CALLS);

describe('kernel families in the registry', () => {
  afterEach(() => {
    for (const f of FAMILIES) {
      setKernelChoice(f, undefined);
      setKernelOverride(f, undefined);
    }
  });

  it('lists every family with the features and workgroup memory of each variant', () => {
    expect(kernelFamilies()).toEqual(expect.arrayContaining(FAMILIES));
    for (const f of FAMILIES) {
      for (const v of variantsOf(f)) {
        expect(v.family, `${f}/${v.name}`).toBe(f);
        expect(Array.isArray(v.needs), `${f}/${v.name} needs`).toBe(true);
        expect(typeof v.workgroupMemory, `${f}/${v.name} workgroupMemory`).toBe('boolean');
      }
    }
    expect(variantsOf('attention').filter((v) => v.workgroupMemory).map((v) => v.name)).toEqual(['subgroup', 'tiled']);
    expect(variantsOf('norms').map((v) => [v.name, v.needs])).toEqual([['subgroup', ['subgroups']], ['workgroup', []]]);
  });

  it.each(FAMILIES)('%s: a WGSL error in an override names the user file and line', async (family) => {
    const gpu = await device();
    const source = `${CALLS[family].builtin}\nconst broken: u32 = ;\n`;
    setKernelOverride(family, { source, file: `my/${family}.wgsl` });
    const line = source.split('\n').length - 1;
    await expect(CALLS[family].run(gpu)).rejects.toThrow(new RegExp(`my/${family}\\.wgsl:${line}:`));
  });

  it('runs a working override with the forced variant (softmax with every exp doubled in the numerator)', async () => {
    const gpu = await device();
    setKernelOverride('softmax', { source: softmaxWgsl.replace('* inv);', '* inv * 2.0);'), file: 'my/softmax.wgsl' });
    setKernelChoice('softmax', 'workgroup');
    const x = rand(2 * 5, 4, -3, 3);
    const y = await softmax(gpu, fromArray(gpu, x, [2, 5]));
    expectClose(await y.read(), softmaxRef(x, 5).map((v) => 2 * v), { atol: 1e-6, rtol: 1e-5 });
  });

  it('refuses a forced variant the adapter cannot run, naming it', async () => {
    const gpu = await device({ disableSubgroups: true });
    setKernelChoice('norms', 'subgroup');
    await expect(CALLS.norms.run(gpu)).rejects.toThrow(/norms: forced variant 'subgroup' is not supported/);
  });
});
