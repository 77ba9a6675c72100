// Golden `scheduler`: FlowMatchEuler's timesteps and sigmas for each step count (exact float32
// values) and one Euler step on the GPU.
import { FlowMatchEuler, parseSchedulerConfig } from '../../src/model/scheduler.ts';
import { fromArray } from '../../src/runtime/tensor.ts';
import type { Output, Runner } from './types.ts';

interface Run {
  timesteps: number[];
  sigmas: number[];
  step0: { sample: number[]; model_output: number[]; prev_sample: number[] };
}

export const run: Runner = async ({ gpu, json }) => {
  const g = json as { config: Record<string, unknown>; runs: Record<string, Run> };
  const config = parseSchedulerConfig(g.config, 'golden/scheduler.json');
  const outputs: Output[] = [];
  for (const [n, r] of Object.entries(g.runs)) {
    const s = new FlowMatchEuler(config, Number(n));
    // The golden's values are float32 printed as float64: equal after rounding means bit-exact.
    outputs.push({ tensor: `N=${n} timesteps`, ours: s.timesteps, expected: Float32Array.from(r.timesteps), exact: true });
    outputs.push({ tensor: `N=${n} sigmas`, ours: s.sigmas, expected: Float32Array.from(r.sigmas), exact: true });
    const { sample, model_output, prev_sample } = r.step0;
    const x = fromArray(gpu, sample, [sample.length]);
    const v = fromArray(gpu, model_output, [model_output.length]);
    const next = await s.step(gpu, x, v, 0);
    outputs.push({ tensor: `N=${n} step0.prev_sample`, ours: await next.read(), expected: prev_sample });
    for (const t of [x, v, next]) t.dispose();
  }
  return outputs;
};
