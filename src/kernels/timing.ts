// What the families hand to `chooseVariant` (registry.ts) to time a candidate.
import type { Gpu } from '../runtime/device.ts';

/** Wall time of recording `record` and running it alone on the GPU (earlier work is finished first). */
export async function timeAlone(gpu: Gpu, op: string, record: () => Promise<void>): Promise<number> {
  await gpu.sync(op);
  const t0 = performance.now();
  await record();
  await gpu.sync(op);
  return performance.now() - t0;
}

/** A size in a shape class: the next power of two (capped), so that near sizes share a tuning. */
export function sizeClass(n: number, cap = 4096): number {
  return Math.min(2 ** Math.ceil(Math.log2(Math.max(1, n))), cap);
}

/** CPU adapters (lavapipe, SwiftShader): there llvmpipe compiles barriers in loops as coroutines, so workgroup-memory variants take tens of seconds per pipeline. */
export function cpuAdapter(gpu: Gpu): boolean {
  const { caps } = gpu;
  return caps.isFallback || /llvmpipe|lavapipe|swiftshader/i.test(`${caps.adapterName} ${caps.architecture}`);
}
