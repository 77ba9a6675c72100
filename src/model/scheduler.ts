// FlowMatchEulerDiscreteScheduler (diffusers 0.30.3) for SD3/DICEPTION: the timestep and sigma
// schedule for N steps and the Euler update. The schedule is reproduced bit for bit: upstream
// mixes float32 tensors (torch) with float64 numpy, so each stage below rounds where it does.
import type { Gpu } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { cfgCombine, eulerStep } from '../kernels/elementwise.ts';

export interface FlowMatchConfig {
  num_train_timesteps: number;
  shift: number;
}

const f32 = Math.fround;

/** Parses `scheduler/scheduler_config.json`, refusing configurations this scheduler does not implement. */
export function parseSchedulerConfig(raw: Record<string, unknown>, where = 'scheduler_config.json'): FlowMatchConfig {
  const cls = raw._class_name;
  if (cls !== undefined && cls !== 'FlowMatchEulerDiscreteScheduler') {
    throw new Error(`${where}: _class_name is '${String(cls)}', expected 'FlowMatchEulerDiscreteScheduler'`);
  }
  if (raw.use_dynamic_shifting) throw new Error(`${where}: use_dynamic_shifting is not supported (SD3 does not use it)`);
  const num = raw.num_train_timesteps ?? 1000;
  const shift = raw.shift ?? 1.0;
  if (!Number.isInteger(num) || (num as number) < 1) throw new Error(`${where}: num_train_timesteps must be a positive integer, got ${String(num)}`);
  if (typeof shift !== 'number' || !(shift > 0)) throw new Error(`${where}: shift must be a positive number, got ${String(shift)}`);
  return { num_train_timesteps: num as number, shift };
}

/** numpy.linspace(start, stop, n) in float64, endpoint included (numpy pins the last value to `stop`). */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  const y = Array.from({ length: n }, (_, i) => i * step + start);
  y[n - 1] = stop;
  return y;
}

export class FlowMatchEuler {
  /** Timesteps fed to the transformer (σ·1000), float32 values, one per step. */
  readonly timesteps: Float32Array;
  /** σ per step plus a trailing 0, float32 values. */
  readonly sigmas: Float32Array;

  constructor(
    readonly config: FlowMatchConfig,
    readonly steps: number,
  ) {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`FlowMatchEuler: the number of steps must be a positive integer, got ${steps}`);
    const { num_train_timesteps: T, shift } = config;
    // __init__: the training schedule in float32 torch; only its ends are kept (.item()).
    const trainSigma = (t: number) => {
      const s = f32(f32(t) / T);
      return f32(f32(shift * s) / f32(1 + f32((shift - 1) * s)));
    };
    const sigmaMax = trainSigma(T);
    const sigmaMin = trainSigma(1);
    // set_timesteps: float64 numpy from the (already shifted) ends, shifted AGAIN (an upstream
    // quirk that the goldens carry), then cast to float32; timesteps = σ·T in float32.
    const t = linspace(sigmaMax * T, sigmaMin * T, steps);
    this.sigmas = new Float32Array(steps + 1);
    this.timesteps = new Float32Array(steps);
    t.forEach((ti, i) => {
      const s = ti / T;
      this.sigmas[i] = (shift * s) / (1 + (shift - 1) * s);
      this.timesteps[i] = f32(this.sigmas[i] * T);
    });
  }

  /** σ_{i+1} − σ_i as upstream computes it (float32). */
  dt(i: number): number {
    if (!(i >= 0 && i < this.steps)) throw new Error(`FlowMatchEuler: step ${i} is outside 0..${this.steps - 1}`);
    return f32(this.sigmas[i + 1] - this.sigmas[i]);
  }

  /** x_{i+1} = x_i + (σ_{i+1} − σ_i)·v on the GPU. */
  step(gpu: Gpu, x: Tensor, v: Tensor, i: number): Promise<Tensor> {
    return eulerStep(gpu, x, v, this.dt(i));
  }
}

/**
 * Classifier-free guidance over a batch ordered [uncond, cond]: v_u + g·(v_c − v_u), [B, ...]
 * from [2B, ...]. With g == 1 the caller runs the cond half alone instead.
 */
export function guide(gpu: Gpu, v: Tensor, guidance: number): Promise<Tensor> {
  return cfgCombine(gpu, v, guidance);
}
