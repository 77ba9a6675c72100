// Weight files a test opens, closed when the test finishes: a reader left open hands its file
// handle to the garbage collector, which Node reports as a warning in the test output.
import { onTestFinished } from 'vitest';
import { openWeights, type WeightReader } from '../src/runtime/weights.ts';

export async function openForTest(path: string): Promise<WeightReader> {
  const r = await openWeights(path);
  onTestFinished(() => r.close?.());
  return r;
}
