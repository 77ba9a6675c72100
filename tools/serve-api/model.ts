// The one place `serve` calls the model: a batch of prepared inputs sharing steps and guidance
// → one [3,768,768] prediction per input. Swap this function to change how the model runs.
import { MODEL_SIZE, type Pipeline, type StageTiming } from '../../src/model/pipeline-types.ts';
import { MAX_POINTS, type PointPrompt } from '../../src/model/tasks.ts';
import { runChecked } from '../infer.ts';

export interface ModelInput {
  /** [3, 768, 768] in [-1, 1] (inferInput) */
  image: Float32Array;
  prompt: string;
  points: PointPrompt;
  seed: number;
}

export interface ModelOutput {
  /** [3, 768, 768] in [0, 1] */
  image01: Float32Array;
  /** the whole batch's stage timings */
  timings: StageTiming[];
  batch: number;
}

export async function predictBatch(pipeline: Pipeline, inputs: ModelInput[], steps: number, guidance: number): Promise<ModelOutput[]> {
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
    images, batch: b, prompts: inputs.map((x) => x.prompt), points, pointLabels, steps, guidance, seeds: inputs.map((x) => x.seed),
  });
  return inputs.map((_, j) => ({ image01: result.image01.slice(j * per, (j + 1) * per), timings: result.timings, batch: b }));
}
