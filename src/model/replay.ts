// A pipeline request replayed as a dry run (the recorder's, see runtime/recorder.ts): the real
// allocation sequence and every dispatch's validation without executing anything, so the
// memory of a full-size request can be measured (bench memory) and checked against an executed
// run on the tiny model (test/model/pipeline-memory.test.ts).
import type { Gpu } from '../runtime/device.ts';
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
