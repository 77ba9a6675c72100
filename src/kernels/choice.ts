// How a family runs the variant the registry (registry.ts) chooses: the wrapper hands over a
// `record` function that records the problem's dispatches with a given variant; autotuning times
// it per candidate, then the chosen one records the real run.
import type { Gpu } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { chooseVariant, type Variant } from './registry.ts';

/** Wall time of recording `record` and running it alone on the GPU (earlier work is finished first). */
async function timeAlone(gpu: Gpu, op: string, record: () => Promise<void>): Promise<number> {
  await gpu.sync(op);
  const t0 = performance.now();
  await record();
  await gpu.sync(op);
  return performance.now() - t0;
}

export interface RunOptions<V extends Variant> {
  /** Excludes candidates from automatic choice (see chooseVariant). */
  eligible?: (v: V) => boolean;
  /** Tensors the call allocated, freed when choosing or recording fails (e.g. an override that does not compile). */
  outputs?: Tensor[];
}

/**
 * Chooses `family`'s variant for `shapeClass` (forced, only candidate, or timed with `record`)
 * and records the problem with it. `record` must be repeatable: candidates write the same output
 * (so an in-place operation must not be timed: such families keep one variant).
 */
export async function runVariant<V extends Variant>(
  gpu: Gpu,
  family: string,
  shapeClass: string,
  record: (v: V) => Promise<void>,
  o: RunOptions<V> = {},
): Promise<V> {
  try {
    const v = await chooseVariant<V>(gpu, family, shapeClass, (c) => timeAlone(gpu, family, () => record(c)), o.eligible);
    await record(v);
    return v;
  } catch (e) {
    for (const t of o.outputs ?? []) t.dispose();
    throw e;
  }
}

/** A size in a shape class: the next power of two (capped), so that near sizes share a tuning. */
export function sizeClass(n: number, cap = 4096): number {
  return Math.min(2 ** Math.ceil(Math.log2(Math.max(1, n))), cap);
}
