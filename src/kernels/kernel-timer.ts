// How long a kernel run takes: the GPU time of its dispatches from timestamp queries where the
// adapter has working ones (src/runtime/profiler.ts gives each dispatch a timed pass), else the
// wall clock from submit to completion. Used by autotuning and `bench --compare`.
import type { Gpu } from '../runtime/device.ts';
import { Profiler, timestampsWork } from '../runtime/profiler.ts';

export type Clock = 'gpu-timestamps' | 'wall-clock';

export interface KernelTimer {
  clock: Clock;
  /** Milliseconds for the work `run` records (it may sync; the device is idle before it starts). */
  time(run: () => Promise<unknown>): Promise<number>;
}

export async function kernelTimer(gpu: Gpu): Promise<KernelTimer> {
  if (gpu.caps.timestamps && (await timestampsWork(gpu))) {
    return {
      clock: 'gpu-timestamps',
      async time(run) {
        await gpu.sync('timing');
        const p = new Profiler(gpu);
        await p.start();
        try {
          await run();
        } catch (e) {
          await p.stop(); // detach the observer before passing the error on
          throw e;
        }
        return (await p.stop()).reduce((a, t) => a + t.ms, 0);
      },
    };
  }
  return {
    clock: 'wall-clock',
    async time(run) {
      await gpu.sync('timing');
      const t0 = performance.now();
      await run();
      await gpu.sync('timing');
      return performance.now() - t0;
    },
  };
}
