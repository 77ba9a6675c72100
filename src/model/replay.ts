// Replays of recorded work (the recorder's dry run and capture, see runtime/recorder.ts):
// - replayRun: a pipeline request as a dry run: the real allocation sequence and every
//   dispatch's validation without executing anything, so the memory of a full-size request can
//   be measured (bench memory) and checked against an executed run on the tiny model
//   (test/model/pipeline-memory.test.ts);
// - StepReplay: a denoising step recorded once and re-issued for the steps after it, so they
//   skip the model's JavaScript (shape checks, kernel choice, banding, uniforms): only the
//   commands are encoded again.
import type { Gpu } from '../runtime/device.ts';
import type { Plan } from '../runtime/recorder.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { PipelineRequest, StageTiming } from './pipeline-types.ts';
import type { Diception } from './pipeline.ts';

/** One replayed request's stages (the pipeline's own per-stage peaks) and dispatches per stage. */
export interface ReplayedRun {
  stages: (StageTiming & { dispatches: number })[];
  /** GPU bytes held by tensors after the run: the weights, if the run freed everything else. */
  liveBytes: number;
}

/**
 * Runs `request` on `pipe` as a dry run. Stage boundaries come from the progress callback
 * (encode 0/1 … decode 1/1), so dispatches are counted per stage.
 */
export async function replayRun(gpu: Gpu, pipe: Diception, request: PipelineRequest): Promise<ReplayedRun> {
  const marks = new Map<string, number>();
  const rec = gpu.recorder;
  const result = await rec.dryRun(() =>
    pipe.run({
      ...request,
      onProgress: (stage, done, total) => {
        if (done === 0) marks.set(`${stage} start`, rec.dispatched);
        if (done === total) marks.set(`${stage} end`, rec.dispatched);
      },
    }),
  );
  // denoise has no 0/n call: it starts when encode ends.
  const start = (s: string) => marks.get(s === 'denoise' ? 'encode end' : `${s} start`) ?? 0;
  return {
    stages: result.timings.map((t) => ({ ...t, dispatches: (marks.get(`${t.stage} end`) ?? 0) - start(t.stage) })),
    liveBytes: gpu.pool.liveBytes,
  };
}

/**
 * Runs a step function, recording its work the first time and replaying that record on later
 * calls with the same inputs (the same tensors: buffers, offsets, shapes, dtypes, and the same
 * numbers). The step must read nothing else that changes between calls; what changes per step
 * goes in an input tensor rewritten before each call (MMDiT.writeTimestep). Other inputs
 * re-record. The result is owned here: valid until the next run() or dispose().
 */
export class StepReplay {
  private plan: Plan | undefined;
  private key = '';
  private output: Tensor | undefined;
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;

  constructor(private readonly gpu: Gpu) {}

  async run(inputs: readonly (Tensor | number)[], step: () => Promise<Tensor>): Promise<Tensor> {
    const rec = this.gpu.recorder;
    const key = this.keyOf(inputs);
    if (this.plan && key === this.key && !rec.observer) {
      rec.replay(this.plan);
      return this.output!;
    }
    this.release();
    const { result, plan } = await rec.capture(step);
    [this.output, this.plan, this.key] = [result, plan, key];
    return result;
  }

  dispose(): void {
    this.release();
  }

  private release(): void {
    this.plan?.dispose();
    this.output?.dispose();
    this.plan = this.output = undefined;
  }

  private keyOf(inputs: readonly (Tensor | number)[]): string {
    let key = '';
    for (const x of inputs) {
      if (typeof x === 'number') key += `${x};`;
      else {
        let id = this.ids.get(x.buffer);
        if (id === undefined) this.ids.set(x.buffer, (id = this.nextId++));
        key += `${id}@${x.offset}[${x.shape}]${x.dtype};`;
      }
    }
    return key;
  }
}
