// Allocation replay: model code runs with every kernel dispatch skipped, so a full-size run
// that would take hours on a CPU adapter takes seconds, yet allocates exactly what the real run
// does (buffers still come from gpu.pool, weights included): gpu.pool.peakBytes is the real peak.
// Each dispatch's bindings are still checked against the binding limit, so a replay also proves
// the run fits e.g. lavapipe's 128 MiB. Outputs hold garbage; nothing may depend on their values.
import type { Gpu } from '../src/runtime/device.ts';
import type { Binding } from '../src/runtime/recorder.ts';

/**
 * Runs `f` with dispatches only checked, not recorded. `f` gets the number of dispatches so
 * far (to split a run into stages); the total comes back with f's result.
 */
export async function withoutExecution<T>(gpu: Gpu, f: (dispatched: () => number) => Promise<T>): Promise<{ result: T; dispatches: number }> {
  const rec = gpu.recorder;
  const dispatch = rec.dispatch;
  let dispatches = 0;
  rec.dispatch = (kernel, bindings: Binding[], _u, _wg, label = kernel.label) => {
    for (const b of bindings) {
      // The size the real dispatch binds (a tensor's is rounded up to 4 bytes).
      const size = ('binding' in b && typeof b.binding === 'function' ? b.binding() : (b as GPUBufferBinding)).size ?? 0;
      if (size > gpu.caps.maxStorageBinding) throw new Error(`${label}: a ${size}-byte binding exceeds the ${gpu.caps.maxStorageBinding}-byte limit`);
    }
    dispatches++;
  };
  try {
    return { result: await f(() => dispatches), dispatches };
  } finally {
    rec.dispatch = dispatch;
  }
}
