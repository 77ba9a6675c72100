// Finite activations per request: the VAE-encoded latent, each denoising step's latent and the
// VAE decode's output are checked on the GPU (kernels/finite.ts) into one small stats buffer, read
// back only where the pipeline syncs anyway (the end of a stage), so a step records no readback.
// A NaN or Inf stops the request with one line naming the first stage that produced it; so does a
// value beyond f16's range after a stage that computed in f16: WGSL leaves out-of-range
// conversions and NaN handling in min/max/clamp to the implementation, and on lavapipe an
// overflowed f16 map in the VAE reached the decode's output as ±3.4e38, finite and garbage.
import { advanceFiniteCounter, checkFinite, finiteStatsBuffer, readFiniteStats, type FiniteStats } from '../kernels/finite.ts';
import type { Gpu } from '../runtime/device.ts';
import type { Plan } from '../runtime/recorder.ts';
import { F16_OVERFLOW } from '../runtime/f16.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';

/** Thrown when a stage's output holds NaN or Inf (or overflowed f16); `step` is 1-based (denoise only). */
export class NonFiniteActivationsError extends Error {
  constructor(
    readonly stage: 'encode' | 'denoise' | 'decode',
    readonly step: number | undefined,
    readonly nan: number,
    readonly inf: number,
    /** Largest finite |value| of the stage's output. */
    readonly maxAbs: number,
    message: string,
  ) {
    super(message);
    this.name = 'NonFiniteActivationsError';
  }
}

/** Largest finite |value| seen per stage (denoise: over all steps), for reports. */
export interface ActivationMaxAbs {
  encode: number;
  denoise: number;
  decode: number;
}

/** The activation dtypes the stages ran in (the hint in the error depends on them). */
export interface StageDtypes {
  vae: DType;
  mmdit: DType;
}

/**
 * One request's checks. Slots: 0 the encoded latent, 1..steps the latent after each step (a
 * GPU-side counter picks the slot, so every step records the same commands), steps + 1 the
 * decoded image.
 */
export class ActivationChecks {
  private readonly stats: Tensor;
  /** The first step's check, replayed for the steps after it (the same latent tensor each step). */
  private stepPlan: { plan: Plan; latent: Tensor } | undefined;

  constructor(
    private readonly gpu: Gpu,
    private readonly steps: number,
    private readonly dtypes: StageDtypes,
  ) {
    this.stats = finiteStatsBuffer(gpu, steps + 2);
  }

  /** After the VAE encode: the scaled image latent. */
  encoded(latent: Tensor): Promise<void> {
    return checkFinite(this.gpu, latent, this.stats, { slot: 0, label: 'encode' });
  }

  /**
   * After a denoising step: the new latent (the step number comes from the GPU counter). The
   * denoising loop keeps the latent in one tensor, so the first step's two dispatches are
   * captured and replayed like the step's own (model/replay.ts): no model code runs for them after.
   */
  async stepped(latent: Tensor): Promise<void> {
    const rec = this.gpu.recorder;
    if (this.stepPlan?.latent === latent && !rec.observer) return rec.replay(this.stepPlan.plan);
    const record = async () => {
      await checkFinite(this.gpu, latent, this.stats, { slot: 1, counted: true, label: 'step' });
      await advanceFiniteCounter(this.gpu, this.stats);
    };
    if (rec.observer) return record(); // a profiler times recorded dispatches, not replays
    this.stepPlan?.plan.dispose();
    this.stepPlan = undefined;
    const { plan } = await rec.capture(record);
    this.stepPlan = plan && { plan, latent };
  }

  /** After the VAE decode: its output before the [0, 1] clamp (a clamp would hide an Inf). */
  decoded(image: Tensor): Promise<void> {
    return checkFinite(this.gpu, image, this.stats, { slot: this.steps + 1, label: 'decode' });
  }

  /**
   * Reads the stats (one small copy) and throws for the first stage with a NaN or Inf among the
   * stages recorded so far; returns the largest finite |value| per stage. In a dry run nothing
   * executed, so nothing is judged.
   */
  async verify(): Promise<ActivationMaxAbs> {
    if (this.gpu.recorder.isDryRun) return { encode: 0, denoise: 0, decode: 0 };
    const { slots } = await readFiniteStats(this.stats);
    const bad = slots.findIndex((s, slot) => s.nan || s.inf || (this.actOf(slot) === 'f16' && s.maxAbs >= F16_OVERFLOW));
    if (bad >= 0) throw this.error(bad, slots[bad]);
    const steps = slots.slice(1, this.steps + 1);
    return { encode: slots[0].maxAbs, denoise: Math.max(...steps.map((s) => s.maxAbs)), decode: slots[this.steps + 1].maxAbs };
  }

  private stageOf(slot: number): 'encode' | 'denoise' | 'decode' {
    return slot === 0 ? 'encode' : slot <= this.steps ? 'denoise' : 'decode';
  }

  private actOf(slot: number): DType {
    return this.stageOf(slot) === 'denoise' ? this.dtypes.mmdit : this.dtypes.vae;
  }

  private error(slot: number, s: FiniteStats): NonFiniteActivationsError {
    const stage = this.stageOf(slot);
    const where = { encode: 'the image latent after the VAE encode', denoise: `the latent after denoising step ${slot} of ${this.steps}`, decode: 'the image after the VAE decode' }[stage];
    const hint =
      this.actOf(slot) === 'f16'
        ? stage === 'denoise'
          ? 'rerun with --precision f32'
          : 'rerun with --vae-precision f32 (or --precision f32)'
        : `it ran in f32 activations, so the weights or the input hold values the model cannot process`;
    const what = s.nan || s.inf ? `non-finite values (${s.nan} NaN, ${s.inf} Inf)` : `f16 overflow (max |x| ${s.maxAbs.toExponential(2)}, beyond f16's 65504)`;
    return new NonFiniteActivationsError(stage, stage === 'denoise' ? slot : undefined, s.nan, s.inf, s.maxAbs, `${what} in ${where}; ${hint}`);
  }

  dispose(): void {
    this.stepPlan?.plan.dispose();
    this.stats.dispose();
  }
}
