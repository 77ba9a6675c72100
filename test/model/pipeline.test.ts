import { it } from 'vitest';
import { setAutotune } from '../../src/kernels/registry.ts';
import { describeFixtures } from '../helpers.ts';
import { expectGoldenPasses, MODEL_PRECISIONS } from './conformance.ts';

// Autotuning times every variant on each new shape: minutes on a CPU adapter, and it is not
// what this test checks.
setAutotune(false);

describeFixtures('pipeline golden (run A: guidance 2, 2 steps, CFG; run B: guidance 1, 1 step)', () => {
  it.each(MODEL_PRECISIONS)('$name', async (p) => {
    await expectGoldenPasses('pipeline', p, ['latents_A', 'image_A', 'latents_B', 'image_B']);
  });
});
