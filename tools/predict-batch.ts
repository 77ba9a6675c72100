// The one place `batch` and `serve` call the model: prepared inputs sharing steps and guidance →
// one [3,768,768] prediction per input, from one pipeline run. Swap this function to change how
// the model runs (e.g. for the library API).
import { MODEL_SIZE, type Pipeline, type PipelineResult, type ProgressFn, type StageTiming } from '../src/model/pipeline-types.ts';
import { MAX_POINTS, type PointPrompt } from '../src/model/tasks.ts';
import { runChecked } from './infer.ts';

export interface ModelInput {
  /** [3, 768, 768] in [-1, 1] (inferInput or batchInput) */
  image: Float32Array;
  prompt: string;
  points: PointPrompt;
  seed: number;
}

export interface BatchPrediction {
  /** per input, [3, 768, 768] in [0, 1] (views of one buffer) */
  images01: Float32Array[];
  timings: StageTiming[];
  /** The VAE's activation dtype and why (absent from pipelines that do not say). */
  vaePrecision?: PipelineResult['vaePrecision'];
}

export async function predictBatch(pipeline: Pipeline, inputs: ModelInput[], steps: number, guidance: number, onProgress?: ProgressFn): Promise<BatchPrediction> {
  const per = 3 * MODEL_SIZE * MODEL_SIZE;
  const b = inputs.length;
  const images = new Float32Array(b * per);
  const points = new Float32Array(b * MAX_POINTS * 2);
  const pointLabels = new Float32Array(b * MAX_POINTS);
  inputs.forEach((x, j) => {
    images.set(x.image, j * per);
    points.set(x.points.coords, j * MAX_POINTS * 2);
    pointLabels.set(x.points.labels, j * MAX_POINTS);
  });
  const result = await runChecked(pipeline.run.bind(pipeline), {
    images, batch: b, prompts: inputs.map((x) => x.prompt), points, pointLabels, steps, guidance, seeds: inputs.map((x) => x.seed), onProgress,
  });
  return { images01: inputs.map((_, j) => result.image01.subarray(j * per, (j + 1) * per)), timings: result.timings, vaePrecision: result.vaePrecision };
}
