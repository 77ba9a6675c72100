import { expect, it } from 'vitest';
import { add } from '../../src/kernels/elementwise.ts';
import { formatProfile, Profiler } from '../../src/runtime/profiler.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import { device, rand } from '../helpers.ts';

it.each([false, true])('attributes GPU time to kernels by label (cpu timing: %s)', async (cpuTiming) => {
  const gpu = await device();
  const a = fromArray(gpu, rand(1 << 16), [1 << 16]);
  const prof = new Profiler(gpu, cpuTiming);
  await prof.start();
  for (let i = 0; i < 3; i++) (await add(gpu, a, a)).dispose();
  const times = await prof.stop();
  expect(prof.mode).toBe(cpuTiming ? 'cpu' : gpu.caps.timestamps ? 'timestamps' : 'cpu');
  expect(times).toHaveLength(1);
  expect(times[0].label).toBe('add');
  expect(times[0].calls).toBe(3);
  expect(times[0].ms).toBeGreaterThan(0);
  expect(formatProfile(times)).toMatch(/^kernel .*\nadd +3 /);
  // Outside start/stop nothing is observed.
  (await add(gpu, a, a)).dispose();
  expect(prof.report()[0].calls).toBe(3);
});
