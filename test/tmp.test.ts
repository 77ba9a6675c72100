import { it } from 'vitest';
import { add } from '../src/kernels/elementwise.ts';
import { Profiler } from '../src/runtime/profiler.ts';
import { fromArray } from '../src/runtime/tensor.ts';
import { getDevice } from '../src/runtime/device.ts';
it('x', async () => {
  const gpu = await getDevice();
  const a = fromArray(gpu, new Float32Array(1 << 22), [1 << 22]);
  const prof = new Profiler(gpu);
  await prof.start();
  console.log('mode', prof.mode);
  for (let i = 0; i < 3; i++) (await add(gpu, a, a)).dispose();
  console.log(await prof.stop());
});
