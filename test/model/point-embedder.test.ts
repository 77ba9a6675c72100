import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { PointEmbedder, withUnconditional } from '../../src/model/point-embedder.ts';
import { describeFixtures, device, TINY } from '../helpers.ts';
import { setAutotune } from '../../src/kernels/registry.ts';
import { expectGoldenPasses, MODEL_PRECISIONS } from './conformance.ts';
import { openForTest } from '../fixture-weights.ts';

// Model results must not depend on the kernel variant; timing every variant of every matmul
// shape on each capability level would cost minutes on a CPU adapter (autotuning has its own tests).
beforeAll(() => setAutotune(false));

describeFixtures('PointEmbedder (tiny fixture)', () => {
  for (const p of MODEL_PRECISIONS) {
    it(`point_embed golden ${p.name}`, async () => {
      await expectGoldenPasses('point_embed', p, ['output']);
    });
  }

  it('CFG batch: zeros for the unconditional half, then the points; bad labels are refused', async () => {
    const gpu = await device();
    const pe = await PointEmbedder.load(gpu, await openForTest(join(TINY, 'diception.pth')), 'f32');
    const coords = [0.1, 0.9, 0.5, 0.5, 0, 0, 0, 0, 0, 0];
    const labels = [1, 1, 0, 0, 0];
    await expect(pe.embed(coords, [1, 2, 0, 0, 0], 1)).rejects.toThrow(/label 2 of point 1 must be 0 or 1/);
    const cond = await pe.embed(coords, labels, 1);
    const both = withUnconditional(gpu, cond);
    expect(both.shape).toEqual([2, 5, pe.dim]);
    const [c, b] = [await cond.read(), await both.read()];
    expect(Array.from(b.subarray(0, c.length)).every((v) => v === 0)).toBe(true);
    expect(Array.from(b.subarray(c.length))).toEqual(Array.from(c));
    for (const t of [cond, both]) t.dispose();
    pe.dispose();
  });
});
